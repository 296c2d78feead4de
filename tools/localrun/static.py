"""What the local run serves besides the API (never part of the Lambda): the files the deployed
stack's distribution serves from its bucket (the widget, the Genesys panel, the call page), and
the local run's own /docs, /openapi.json and /__ready__."""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from openapi_spec import local_docs

from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.runfile import PROJECT_ROOT

StaticRoute = Callable[[], tuple[int, str, bytes]]

WIDGET_DIR = PROJECT_ROOT / "widget"
WIDGET_SCRIPT_PATH = "/widget/v1/video-calls-widget.js"
DEMO_PAGE_PATH = "/"
# The Genesys Cloud agent panel: a page and its script side by side, served as they are hosted.
GENESYS_DIR = WIDGET_DIR / "genesys"
GENESYS_PAGE_PATH = "/genesys/"
GENESYS_SCRIPT_PATH = "/genesys/genesys.js"
# The call page behind the join links: one page for every call, and its assets beside it.
CALL_PAGE_DIR = WIDGET_DIR / "call"
CALL_PAGE_PREFIX = "/c/"
CALL_ASSETS_PREFIX = "/call/"
# The other spelling of a path, redirected to the one served (relative links need the slash).
REDIRECTS = {"/docs/": "/docs", "/genesys": GENESYS_PAGE_PATH}
# Plain modules and their styles, as browsers want them named.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}


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


@dataclass(frozen=True)
class StaticAnswer:
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Site:
    """The GET and HEAD answers of the local server itself; None hands the path to the API."""

    def __init__(self, routes: Mapping[str, StaticRoute] | None = None, call_page_dir: Path = CALL_PAGE_DIR):
        self.routes = static_routes() if routes is None else routes
        self.call_page_dir = call_page_dir

    def answer(self, path: str, query: str = "") -> StaticAnswer | None:
        route = self.routes.get(path)
        if route is not None:
            status, content_type, body = route()
            return StaticAnswer(status, content_type, body)
        if path in REDIRECTS:
            location = REDIRECTS[path] + (f"?{query}" if query else "")
            return StaticAnswer(301, "text/plain; charset=utf-8", b"", {"Location": location})
        if path.startswith(CALL_PAGE_PREFIX):
            return self._call_page(path.removeprefix(CALL_PAGE_PREFIX))
        if path.startswith(CALL_ASSETS_PREFIX):
            return self._call_asset(path.removeprefix(CALL_ASSETS_PREFIX))
        return None

    def _call_page(self, call_id: str) -> StaticAnswer | None:
        if not call_id or "/" in call_id:
            return None
        page = self.call_page_dir / "index.html"
        if not page.is_file():
            shown = page.relative_to(PROJECT_ROOT) if page.is_relative_to(PROJECT_ROOT) else page
            message = f"The call page ({shown}) is not in this checkout yet.\n"
            return StaticAnswer(404, "text/plain; charset=utf-8", message.encode("utf-8"))
        # Read on each request, so that an edited page shows on the next reload.
        return StaticAnswer(200, CONTENT_TYPES[".html"], page.read_bytes())

    def _call_asset(self, name: str) -> StaticAnswer | None:
        """A file under the call page's folder; nothing outside it, nothing hidden."""
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            return None
        root = self.call_page_dir.resolve()
        file = root.joinpath(*parts).resolve()
        if not file.is_relative_to(root) or not file.is_file():
            return None
        content_type = CONTENT_TYPES.get(file.suffix) or (
            mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        )
        return StaticAnswer(200, content_type, file.read_bytes())
