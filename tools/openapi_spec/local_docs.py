"""/openapi.json and a Swagger UI at /docs, for the local run only (the Lambda serves neither).

Swagger UI's assets come from the npm package swagger-ui-dist (package.json), so /docs works
offline. Registered in localrun.static, the list of what the local server answers itself.
"""

from __future__ import annotations

import functools
from pathlib import Path

from openapi_spec.spec import PROJECT_ROOT

SWAGGER_UI_DIR = PROJECT_ROOT / "node_modules" / "swagger-ui-dist"

DOCS_PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Video Calls API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
# A separate script rather than an inline one, so the page also works under a strict CSP.
DOCS_INIT = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true
});
"""

Answer = tuple[int, str, bytes]


@functools.cache
def _document() -> bytes:
    from openapi_spec.spec import build_spec, render

    return render(build_spec()).encode("utf-8")


def openapi_document() -> Answer:
    """Generated from the running code; the tests keep docs/openapi.json equal to it."""
    return 200, "application/json", _document()


def docs_page() -> Answer:
    return 200, "text/html; charset=utf-8", DOCS_PAGE


def docs_init_script() -> Answer:
    return 200, "text/javascript; charset=utf-8", DOCS_INIT


def _asset(path: Path, content_type: str) -> Answer:
    if not path.is_file():
        message = f"{path.relative_to(PROJECT_ROOT)} is missing: run `make deps` (npm ci).\n"
        return 503, "text/plain; charset=utf-8", message.encode("utf-8")
    return 200, content_type, path.read_bytes()


def swagger_ui_css() -> Answer:
    return _asset(SWAGGER_UI_DIR / "swagger-ui.css", "text/css; charset=utf-8")


def swagger_ui_bundle() -> Answer:
    return _asset(SWAGGER_UI_DIR / "swagger-ui-bundle.js", "text/javascript; charset=utf-8")
