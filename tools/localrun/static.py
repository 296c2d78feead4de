"""What the local run serves besides the API (never part of the Lambda)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from string import Template

from openapi_spec import local_docs

from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.dynamodb_local import PROJECT_ROOT

StaticRoute = Callable[[], tuple[int, str, bytes]]

WIDGET_DIR = PROJECT_ROOT / "widget"
WIDGET_SCRIPT_PATH = "/widget/v1/video-calls-widget.js"
DEMO_PAGE_PATH = "/"
# The Genesys Cloud agent panel: a page and its script side by side, served as they are hosted.
GENESYS_DIR = WIDGET_DIR / "genesys"
GENESYS_PAGE_PATH = "/genesys/"
GENESYS_SCRIPT_PATH = "/genesys/genesys.js"


def demo_page(
    script_src: str = WIDGET_SCRIPT_PATH,
    *,
    app_id: str = DEMO_APP_ID,
    widget_key: str = DEMO_WIDGET_KEY,
    options: Mapping[str, str] | None = None,
) -> str:
    """The demo page and its widget's script tag; `options` are more data-* attributes (title, ...)."""
    attributes = {
        "app-id": app_id,
        "widget-key": widget_key,
        "target": "#video-call-widget",
        **(options or {}),
    }
    rendered = " ".join(f'data-{name}="{html.escape(value)}"' for name, value in attributes.items())
    template = Template((WIDGET_DIR / "demo.html").read_text(encoding="utf-8"))
    return template.substitute(
        script_src=html.escape(script_src), app_id=html.escape(app_id), widget_attributes=rendered
    )


def _ready() -> tuple[int, str, bytes]:
    return 200, "application/json", b'{"ready":true}'


def _demo_page() -> tuple[int, str, bytes]:
    return 200, "text/html; charset=utf-8", demo_page().encode("utf-8")


def _widget_script() -> tuple[int, str, bytes]:
    # Read on each request, so that an edited widget shows on the next reload.
    return 200, "text/javascript; charset=utf-8", (WIDGET_DIR / "video-calls-widget.js").read_bytes()


def _genesys_page() -> tuple[int, str, bytes]:
    return 200, "text/html; charset=utf-8", (GENESYS_DIR / "index.html").read_bytes()


def _genesys_script() -> tuple[int, str, bytes]:
    return 200, "text/javascript; charset=utf-8", (GENESYS_DIR / "genesys.js").read_bytes()


def static_routes() -> dict[str, StaticRoute]:
    """GET paths answered by the local server itself, each with a function giving status, type, body.

    The deployed API answers 404 on these paths: only the /api/calls routes reach the Lambda.
    """
    return {
        "/__ready__": _ready,
        "/openapi.json": local_docs.openapi_document,
        "/docs": local_docs.docs_page,
        "/docs/init.js": local_docs.docs_init_script,
        "/docs/swagger-ui.css": local_docs.swagger_ui_css,
        "/docs/swagger-ui-bundle.js": local_docs.swagger_ui_bundle,
        DEMO_PAGE_PATH: _demo_page,
        WIDGET_SCRIPT_PATH: _widget_script,
        GENESYS_PAGE_PATH: _genesys_page,
        GENESYS_SCRIPT_PATH: _genesys_script,
    }
