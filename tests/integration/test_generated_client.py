"""A client generated from docs/openapi.json by openapi-python-client drives the local run:
create, read, list (every page), join as the guest, end, and the documented errors.

The client is generated once per test session into a temporary folder (never committed) and
imported from there. Its models parse every answer by the document's schemas and it raises on a
status the document does not list, so a document that drifts from the API fails here the way
it would fail a customer's generated client.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.services import LocalApi, TestApp

pytestmark = pytest.mark.integration

SPEC_PATH = ROOT / "docs" / "openapi.json"
PACKAGE = "video_calls_api_client"
# No post-generation hooks: they would run ruff over the generated code, which the test never reads.
GENERATOR_CONFIG = "post_hooks: []\n"


@pytest.fixture(scope="session")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, generated and imported once per session."""
    folder = tmp_path_factory.mktemp("generated-client")
    config = folder / "openapi-python-client.yml"
    config.write_text(GENERATOR_CONFIG, encoding="utf-8")
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(SPEC_PATH),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Api:
    """The generated client's modules, by the names a user of the client writes."""

    def __init__(self, package: ModuleType) -> None:
        def module(name: str) -> Any:
            return importlib.import_module(f"{package.__name__}.{name}")

        calls = "api.calls"
        self.create_call = module(f"{calls}.create_call")
        self.get_call = module(f"{calls}.get_call")
        self.list_calls = module(f"{calls}.list_calls")
        self.end_call = module(f"{calls}.end_call")
        self.join_call = module("api.join.join_call")
        self.models = module("models")
        self.types = module("types")
        self.errors = module("errors")
        self.client_class = module("client").AuthenticatedClient
        self.anonymous_client_class = module("client").Client

    def client(self, base_url: str, app_id: str, widget_key: str) -> Any:
        """The widget key as the client's credential header, the app id beside it."""
        return self.client_class(
            base_url=base_url,
            token=widget_key,
            prefix="",
            auth_header_name="X-Widget-Key",
            headers={"X-App-Id": app_id},
            raise_on_unexpected_status=True,
            timeout=30.0,
        )


@pytest.fixture
def api(client_package: ModuleType) -> Api:
    return Api(client_package)


def list_every_page(api: Api, client: Any, **filters: Any) -> list[list[Any]]:
    """Every page of the listing, following nextCursor until it is absent."""
    pages: list[list[Any]] = []
    cursor: Any = api.types.UNSET
    while True:
        page = api.list_calls.sync(client=client, cursor=cursor, **filters)
        assert isinstance(page, api.models.CallPageResponse), page
        pages.append(page.data.calls)
        cursor = page.data.next_cursor
        if isinstance(cursor, api.types.Unset):
            return pages
        assert len(pages) < 50, "the listing never ends"


def test_create_read_list_and_end_through_the_generated_client(
    api: Api, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    client = api.client(local_api.base_url, app.app_id, app.widget_key)
    models = api.models
    conversation = f"conv-{uuid.uuid4()}"

    # Create: a call with every kind of field, then plain ones.
    metadata = models.CreateCallRequestMetadataType0.from_dict({"ticketId": "T-1", "score": 1.5})
    rich = api.create_call.sync(
        client=client,
        body=models.CreateCallRequest(
            title="Support #1",
            metadata=metadata,
            host_name="Sarah",
            record_on_start=True,
            genesys=models.GenesysContext(conversation_id=conversation, gc_use_popup_auth=True),
        ),
        idempotency_key=f"client-{uuid.uuid4()}",
    )
    assert isinstance(rich, models.CallCreated), rich
    assert rich.data.title == "Support #1"
    assert rich.data.metadata.to_dict() == {"ticketId": "T-1", "score": 1.5}
    created = [rich.data.call_id]
    for _ in range(6):
        plain = api.create_call.sync(client=client)
        assert isinstance(plain, models.CallCreated), plain
        created.append(plain.data.call_id)
    assert all(isinstance(call_id, uuid.UUID) for call_id in created)

    # Read: the call view, typed.
    read = api.get_call.sync(rich.data.call_id, client=client)
    assert isinstance(read, models.CallViewResponse), read
    view = read.data
    assert view.call_id == rich.data.call_id
    assert view.status == models.CallViewStatus.CREATED
    assert isinstance(view.created_at, datetime)
    assert (view.host_name, view.record_on_start, view.title) == ("Sarah", True, "Support #1")
    assert view.metadata.to_dict() == {"ticketId": "T-1", "score": 1.5}
    assert view.genesys.conversation_id == conversation
    assert isinstance(view.ended_at, api.types.Unset)
    assert view.host_join_url == rich.data.host_join_url

    # List: every page by cursor, each call once, newest first; then a filter.
    pages = list_every_page(api, client, limit=2)
    assert len(pages) == 4
    listed = [call for page in pages for call in page]
    assert sorted(call.call_id for call in listed) == sorted(created)
    stamps = [call.created_at for call in listed]
    assert stamps == sorted(stamps, reverse=True)
    by_conversation = list_every_page(api, client, conversation_id=conversation)
    assert [call.call_id for page in by_conversation for call in page] == [rich.data.call_id]

    # Join, as the guest: no app credentials, the call id is enough.
    guest = api.anonymous_client_class(base_url=local_api.base_url, raise_on_unexpected_status=True)
    joined = api.join_call.sync(rich.data.call_id, client=guest)
    assert isinstance(joined, models.JoinResponse), joined
    assert joined.data.role == models.JoinViewRole.GUEST
    assert joined.data.display_name == "Guest"
    assert isinstance(api.get_call.sync(rich.data.call_id, client=client).data.guest_joined_at, datetime)

    # End: once, then again with the same endedAt; the status filter finds it.
    ended = api.end_call.sync(rich.data.call_id, client=client)
    assert isinstance(ended, models.CallViewResponse), ended
    assert ended.data.status == models.CallViewStatus.ENDED
    assert isinstance(ended.data.ended_at, datetime)
    again = api.end_call.sync(rich.data.call_id, client=client, body=models.EndCallRequest())
    assert isinstance(again, models.CallViewResponse), again
    assert again.data.ended_at == ended.data.ended_at
    only_ended = list_every_page(api, client, status=models.ListCallsStatus.ENDED, limit=1)
    assert [call.call_id for page in only_ended for call in page] == [rich.data.call_id]
    too_late = api.join_call.sync(rich.data.call_id, client=guest)
    assert isinstance(too_late, models.JoinCallResponse410), too_late
    assert too_late.error.code == models.JoinCallResponse410ErrorCode.CALL_ENDED


def test_the_generated_client_reads_the_documented_errors(
    api: Api, local_api: LocalApi, make_app: Callable[..., TestApp]
) -> None:
    app = make_app()
    client = api.client(local_api.base_url, app.app_id, app.widget_key)
    models = api.models

    missing = api.get_call.sync(uuid.uuid4(), client=client)
    assert isinstance(missing, models.GetCallResponse404), missing
    assert missing.error.code == models.GetCallResponse404ErrorCode.CALL_NOT_FOUND

    bad_cursor = api.list_calls.sync(client=client, cursor="not-a-cursor")
    assert isinstance(bad_cursor, models.ListCallsResponse400), bad_cursor
    assert bad_cursor.error.code == models.ListCallsResponse400ErrorCode.INVALID_CURSOR

    too_big = api.list_calls.sync(client=client, limit=101)
    assert isinstance(too_big, models.ListCallsResponse422), too_big
    assert [problem.field for problem in too_big.error.details] == ["limit"]

    stranger = api.client(local_api.base_url, app.app_id, "not-the-key")
    refused = api.end_call.sync(uuid.uuid4(), client=stranger)
    assert isinstance(refused, models.EndCallResponse401), refused
    assert refused.error.code == models.EndCallResponse401ErrorCode.UNAUTHORIZED
