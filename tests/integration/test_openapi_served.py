"""The local run serves the document at /openapi.json and a Swagger UI at /docs, offline."""

from __future__ import annotations

import json

import pytest
from openapi_spec.spec import SPEC_PATH

from tests.services import LocalApi

pytestmark = pytest.mark.integration


def test_openapi_json_is_the_committed_document(local_api: LocalApi) -> None:
    response = local_api.request("GET", "/openapi.json")

    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.body == json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def test_docs_page_loads_swagger_ui_from_the_local_server(local_api: LocalApi) -> None:
    page = local_api.request("GET", "/docs")

    assert page.status == 200
    assert (page.header("Content-Type") or "").startswith("text/html")
    html = page.raw.decode("utf-8")
    # Every asset from this server: nothing from a CDN, so the page works offline.
    assert "http://" not in html
    assert "https://" not in html
    for asset in ("/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/init.js"):
        assert f'"{asset}"' in html


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/docs/swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
        ("/docs/swagger-ui.css", "text/css", b".swagger-ui"),
        ("/docs/init.js", "text/javascript", b'url: "/openapi.json"'),
    ],
)
def test_swagger_ui_assets_are_served(
    local_api: LocalApi, path: str, content_type: str, marker: bytes
) -> None:
    response = local_api.request("GET", path)

    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith(content_type)
    assert marker in response.raw


def test_the_api_paths_still_reach_the_handler(local_api: LocalApi) -> None:
    """/docs and /openapi.json are the local server's; anything else under them is the API's 404."""
    response = local_api.request("GET", "/docs/missing.js")

    assert response.status == 404
    assert response.body["error"]["code"] == "NOT_FOUND"
