"""SnapStart's hooks over DynamoDB Local: the client is built before the snapshot and used by the
first request; after a restore it is kept, but no pooled connection from before is reused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import snapshot_restore_py
from calls import handler, repository, snapstart, wiring
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.gateway import LocalLambdaContext
from localrun.server import build_event

pytestmark = pytest.mark.integration


@pytest.fixture
def snapshotted(db_environment: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Init as SnapStart runs it: hooks registered, then the before-snapshot hooks run. Returns the
    log of DynamoDB clients created from then on."""
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    assert snapstart.register_hooks(wiring.build_every_service)
    run(snapshot_restore_py.get_before_snapshot())

    created: list[str] = []
    original = repository.create_dynamodb_client

    def counting(settings: Any) -> Any:
        created.append(settings.dynamodb_endpoint_url)
        return original(settings)

    monkeypatch.setattr(repository, "create_dynamodb_client", counting)
    return created


def run(hooks: Any) -> None:
    for function, args, kwargs in hooks:
        function(*args, **kwargs)


def create_call() -> dict[str, Any]:
    headers = [("X-App-Id", DEMO_APP_ID), ("X-Widget-Key", DEMO_WIDGET_KEY)]
    event = build_event("POST", "/api/calls", headers, json.dumps({"title": "after restore"}).encode())
    return handler.lambda_handler(event, LocalLambdaContext(aws_request_id="snapstart-test"))


def connection_pools() -> int:
    """Pools of botocore's urllib3 session; clearing them closes the keep-alive sockets they hold."""
    manager = repository.get_repository().client._endpoint.http_session._manager  # type: ignore[attr-defined]
    return len(manager.pools)


def test_the_first_request_uses_what_was_built_before_the_snapshot(snapshotted: list[str]) -> None:
    assert repository.get_repository.cache_info().currsize == 1
    assert create_call()["statusCode"] == 201
    assert snapshotted == [], "the first request built a client of its own"


def test_after_a_restore_the_client_is_kept_and_its_pooled_connections_closed(
    snapshotted: list[str],
) -> None:
    assert create_call()["statusCode"] == 201
    client = repository.get_repository().client
    assert connection_pools() == 1  # keep-alive: the connection waits in its pool for reuse

    run(snapshot_restore_py.get_after_restore())

    assert connection_pools() == 0
    assert create_call()["statusCode"] == 201
    assert repository.get_repository().client is client
    assert snapshotted == []


def test_the_handler_registers_every_service_for_the_snapshot() -> None:
    registered = [args for _function, args, _kwargs in snapshot_restore_py.get_before_snapshot()]
    assert (wiring.build_every_service,) in registered


def test_before_the_snapshot_every_route_service_is_built(snapshotted: list[str]) -> None:
    assert all(factory.cache_info().currsize == 1 for factory in wiring.SERVICE_FACTORIES)


def test_before_the_snapshot_the_deferred_request_models_are_built(
    db_environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calls.models import CreateCallRequest, JoinCallRequest, ListCallsQuery

    rebuilt: list[type] = []

    def recording(cls: type, **_options: Any) -> bool:
        rebuilt.append(cls)
        return True

    for model in (CreateCallRequest, ListCallsQuery, JoinCallRequest):
        monkeypatch.setattr(model, "model_rebuild", classmethod(recording))
    wiring.build_every_service()
    assert set(rebuilt) == {CreateCallRequest, ListCallsQuery, JoinCallRequest}
