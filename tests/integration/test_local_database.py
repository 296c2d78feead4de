"""`make run`'s preparation on a database kept from before a schema change (.local/).

These tests change tables' indexes, so they run on a DynamoDB Local of their own with its data in a
folder, as `make run`'s is: on the session's shared one, after a thousand other tests' tables, an
added index was seen to stay CREATING for ten minutes.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from calls import tables
from calls.errors import InternalError
from calls.models import DEFAULT_SETTINGS, CallRecord
from calls.repository import Repository
from callsctl.store import AdminStore, StoreError, TableNames
from localrun.database import admin_store, prepare_database
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.dynamodb_local import running_dynamodb_local
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kept_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DynamoDB Local keeping its data in a folder, as `make run` keeps `.local/`."""
    folder = tmp_path_factory.mktemp("kept-database")
    with running_dynamodb_local(data_dir=folder / "data", log_path=folder / "dynamodb-local.log") as endpoint:
        yield endpoint


# The calls table as made before the by-conversation index existed.
CALLS_BEFORE_CONVERSATIONS = dataclasses.replace(
    tables.CALLS,
    indexes=tuple(index for index in tables.CALLS.indexes if index.name == tables.CALLS_BY_APP_INDEX),
)


def fresh_names(tmp_path: Path) -> TableNames:
    prefix = f"old-{tmp_path.name}"[-40:]
    return TableNames(
        apps=f"{prefix}-apps",
        calls=f"{prefix}-calls",
        idempotency=f"{prefix}-idem",
        webhooks=f"{prefix}-hooks",
        connections=f"{prefix}-conns",
        recordings=f"{prefix}-recs",
    )


def old_database(endpoint: str, names: TableNames) -> AdminStore:
    store = admin_store(endpoint, names)
    store.client.create_table(**tables.create_table_request(CALLS_BEFORE_CONVERSATIONS, names.calls))
    store.client.get_waiter("table_exists").wait(TableName=names.calls)
    return store


def indexes(store: AdminStore, table_name: str) -> dict[str, dict[str, Any]]:
    table = store.client.describe_table(TableName=table_name)["Table"]
    return {index["IndexName"]: dict(index) for index in table.get("GlobalSecondaryIndexes", [])}


def call_of_conversation(conversation_id: str) -> CallRecord:
    return CallRecord(
        call_id=str(uuid.uuid4()),
        app_id=DEMO_APP_ID,
        preset_id=None,
        settings=DEFAULT_SETTINGS,
        created_at="2026-11-23T12:00:00.000Z",
        expires_at=4_000_000_000,
        request_id="r-1",
        genesys={"conversationId": conversation_id},
    )


def list_by_conversation(
    endpoint: str, names: TableNames, conversation_id: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """GET /api/calls?conversationId= through the handler, on these tables."""
    from calls.handler import lambda_handler

    from tests.conftest import clear_cached_state

    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("APPS_TABLE_NAME", names.apps)
    monkeypatch.setenv("CALLS_TABLE_NAME", names.calls)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", names.idempotency)
    clear_cached_state()
    event = build_event(
        "GET",
        f"/api/calls?conversationId={conversation_id}",
        [("X-App-Id", DEMO_APP_ID), ("X-Widget-Key", DEMO_WIDGET_KEY)],
        b"",
    )
    response: dict[str, Any] = lambda_handler(event, LocalLambdaContext(aws_request_id="r"))
    return response


def test_preparation_adds_the_conversation_index_to_an_old_calls_table(
    kept_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = fresh_names(tmp_path)
    store = old_database(kept_endpoint, names)
    repository = Repository(store.client, names.apps, names.calls)
    conversation = f"conv-{uuid.uuid4()}"
    earlier = call_of_conversation(conversation)
    repository.put_call_once(earlier)
    assert set(indexes(store, names.calls)) == {tables.CALLS_BY_APP_INDEX}
    # What the old database did: the conversation query fails, and the API answered 500.
    with pytest.raises(InternalError):
        repository.list_calls(DEMO_APP_ID, limit=10, now=0, conversation_id=conversation)

    made = prepare_database(store)

    assert f"{names.calls}/index/{tables.CALLS_BY_CONVERSATION_INDEX}" in made
    assert names.apps in made  # the tables that were missing are created as before
    added = indexes(store, names.calls)[tables.CALLS_BY_CONVERSATION_INDEX]
    assert added["IndexStatus"] == "ACTIVE"
    assert added["KeySchema"] == [
        {"AttributeName": tables.CONVERSATION_KEY_ATTRIBUTE, "KeyType": "HASH"},
        {"AttributeName": "createdAt", "KeyType": "RANGE"},
    ]
    assert added["Projection"] == {"ProjectionType": "ALL"}

    # The call written before the index is in it (backfilled), and one written after too.
    later = dataclasses.replace(call_of_conversation(conversation), created_at="2026-11-23T12:00:01.000Z")
    repository.put_call_once(later)
    page = repository.list_calls(DEMO_APP_ID, limit=10, now=0, conversation_id=conversation)
    assert [call.call_id for call in page.calls] == [later.call_id, earlier.call_id]

    response = list_by_conversation(kept_endpoint, names, conversation, monkeypatch)
    assert response["statusCode"] == 200, response["body"]
    listed = json.loads(response["body"])["data"]["calls"]
    assert [call["callId"] for call in listed] == [later.call_id, earlier.call_id]
    assert all(call["genesys"] == {"conversationId": conversation} for call in listed)


def test_preparation_is_idempotent_on_an_up_to_date_database(kept_endpoint: str, tmp_path: Path) -> None:
    store = admin_store(kept_endpoint, fresh_names(tmp_path))
    first = prepare_database(store)
    assert sorted(first) == sorted(store.names.for_schema(schema) for schema in tables.ALL_TABLES)
    assert prepare_database(store) == []
    assert set(indexes(store, store.names.calls)) == {index.name for index in tables.CALLS.indexes}


def test_an_index_with_other_keys_is_reported_not_changed(kept_endpoint: str, tmp_path: Path) -> None:
    names = fresh_names(tmp_path)
    store = admin_store(kept_endpoint, names)
    odd = dataclasses.replace(
        tables.CALLS,
        indexes=(
            tables.GlobalIndex(
                name=tables.CALLS_BY_APP_INDEX,
                partition_key=tables.KeyAttribute("appId"),
                sort_key=tables.KeyAttribute("callId"),
            ),
        ),
    )
    store.client.create_table(**tables.create_table_request(odd, names.calls))
    store.client.get_waiter("table_exists").wait(TableName=names.calls)

    with pytest.raises(StoreError, match=f"index {tables.CALLS_BY_APP_INDEX} of table {names.calls}"):
        store.ensure_tables()
    assert set(indexes(store, names.calls)) == {tables.CALLS_BY_APP_INDEX}
