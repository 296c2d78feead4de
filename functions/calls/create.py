"""POST /api/calls: validation, preset, the call written once, its links, and safe retries.

Nothing here knows HTTP frameworks or DynamoDB: the handler passes a `CallRequest`
in, the repository is handed over as callables.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from calls.access import AppDirectory, Credentials, admit, host_key_digest, new_host_key
from calls.body import parse_body
from calls.errors import (
    FieldProblem,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    PresetNotFound,
    ValidationFailed,
)
from calls.idempotency import (
    IDEMPOTENCY_IN_PROGRESS_SECONDS,
    IDEMPOTENCY_WINDOW_SECONDS,
    IdempotencyRecords,
    idempotency_record_id,
    release_quietly,
    replayed_body,
    request_fingerprint,
    response_to_store,
)
from calls.jsontext import dumps_exact
from calls.models import (
    DEFAULT_SETTINGS,
    GENESYS_FIELDS,
    IDEMPOTENCY_KEY_PATTERN,
    AppRecord,
    CallRecord,
    CallSettings,
    CreateCallRequest,
    GenesysContext,
    field_problems,
)
from calls.request import CallRequest, first_query_value
from calls.telemetry import SERVICE_NAME
from calls.view import JoinUrls, build_host_key_join_urls, build_join_urls, iso_timestamp, utc_now

if TYPE_CHECKING:
    from calls.responses import CallData

logger = Logger(service=SERVICE_NAME, child=True)

_TRUE_WORDS = frozenset({"true", "1"})
_FALSE_WORDS = frozenset({"false", "0"})
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True)
class CreatedCall:
    record: CallRecord
    join_urls: JoinUrls


# Validation


def _genesys_from_query(query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for name in GENESYS_FIELDS:
        value = first_query_value(query, name)
        if value is None:
            continue
        if name == "gcUsePopupAuth":
            word = value.lower()
            # Anything but the four words stays a string, which the model then rejects.
            context[name] = True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else value
        else:
            context[name] = value
    return context


def merge_genesys(body_genesys: Any, query: Mapping[str, Sequence[str]]) -> Any:
    """Per field, the body's genesys object wins over the query string."""
    from_query = _genesys_from_query(query)
    if not from_query or not isinstance(body_genesys, dict | None):
        return body_genesys
    merged = dict(from_query)
    merged.update({name: value for name, value in (body_genesys or {}).items() if value is not None})
    return merged


def validate_request(
    payload: Mapping[str, Any],
    query: Mapping[str, Sequence[str]],
    idempotency_key: str | None = None,
) -> CreateCallRequest:
    """The request's fields, its query's genesys fields and its Idempotency-Key, all checked at once.

    Query genesys values are held to their limits even where the body's value wins.
    """
    candidate = dict(payload)
    genesys = merge_genesys(payload.get("genesys"), query)
    if genesys is not None:
        candidate["genesys"] = genesys
    problems: dict[str, FieldProblem] = {}
    requested = None
    try:
        requested = CreateCallRequest.model_validate(candidate)
    except ValidationError as error:
        problems.update(field_problems(error))
    from_query = _genesys_from_query(query)
    if from_query:
        try:
            GenesysContext.model_validate(from_query)
        except ValidationError as error:
            for name, problem in field_problems(error, prefix="genesys.").items():
                problems.setdefault(name, problem)
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        problems["Idempotency-Key"] = FieldProblem(
            field="Idempotency-Key", message="must be 1-255 printable ASCII characters"
        )
    if problems or requested is None:
        raise ValidationFailed(details=list(problems.values()))
    return requested


# Preset and call


def resolve_preset(app: AppRecord, requested: CreateCallRequest) -> tuple[str | None, CallSettings]:
    """The preset the call uses and its settings, with the request's overrides applied."""
    preset = None
    if requested.presetId is not None:
        preset = app.presets.get(requested.presetId)
        if preset is None:
            raise PresetNotFound()
    elif app.active_preset_id:
        preset = app.presets.get(app.active_preset_id)
        if preset is None:
            logger.warning(
                "Active preset does not exist; using the built-in defaults",
                extra={"appId": app.app_id, "activePresetId": app.active_preset_id},
            )

    base = DEFAULT_SETTINGS
    extra: dict[str, Any] = {}
    if preset is not None:
        stored = preset.settings
        base = CallSettings(
            host_name=_typed(stored, "hostName", str, base.host_name),
            guest_name=_typed(stored, "guestName", str, base.guest_name),
            record_on_start=_typed(stored, "recordOnStart", bool, base.record_on_start),
            preview_enabled=_typed(stored, "previewEnabled", bool, base.preview_enabled),
        )
        extra = {name: value for name, value in stored.items() if name not in _CORE_SETTINGS}

    settings = CallSettings(
        host_name=requested.hostName if requested.hostName is not None else base.host_name,
        guest_name=requested.guestName if requested.guestName is not None else base.guest_name,
        record_on_start=(
            requested.recordOnStart if requested.recordOnStart is not None else base.record_on_start
        ),
        preview_enabled=base.preview_enabled,
        extra=extra,
    )
    return (preset.preset_id if preset else None), settings


_CORE_SETTINGS = frozenset({"hostName", "guestName", "recordOnStart", "previewEnabled"})


def _typed(stored: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = stored.get(name)
    return value if isinstance(value, kind) else default


def new_call_record(
    *,
    app: AppRecord,
    requested: CreateCallRequest,
    request_id: str,
    now: datetime,
    ttl_seconds: int,
    host_key_digest: str | None = None,
) -> CallRecord:
    preset_id, settings = resolve_preset(app, requested)
    genesys = requested.genesys.model_dump(exclude_none=True) if requested.genesys else None
    return CallRecord(
        call_id=str(uuid.uuid4()),
        app_id=app.app_id,
        preset_id=preset_id,
        settings=settings,
        created_at=iso_timestamp(now),
        expires_at=int(now.timestamp()) + ttl_seconds,
        request_id=request_id,
        title=requested.title,
        description=requested.description,
        metadata=requested.metadata,
        genesys=genesys or None,
        host_key_digest=host_key_digest,
    )


@dataclass(frozen=True)
class CallResult:
    """The response to send: a new call, or the replay of an earlier identical request."""

    status: int
    body: str
    created: CreatedCall | None = None

    @property
    def replayed(self) -> bool:
        return self.created is None


@dataclass(frozen=True)
class CreateCall:
    """POST /api/calls from start to end, with its collaborators passed in."""

    apps: AppDirectory
    put_call_once: Callable[[CallRecord], None]
    join_base_url: str
    call_ttl_seconds: int
    idempotency: Callable[[], IdempotencyRecords] | None = None
    now: Callable[[], datetime] = utc_now

    def __call__(self, request: CallRequest) -> CallResult:
        """Checks in the specified order (docs/behaviour.md section 1.7): size, JSON, credentials,
        validation, then preset."""
        payload = parse_body(request.body)
        caller = admit(request, payload, self.apps)
        app, credentials = caller.app, caller.credentials
        idempotency_key = request.headers.get("idempotency-key")
        requested = validate_request(payload, request.query, idempotency_key)
        if idempotency_key is None or self.idempotency is None:
            return self._new_call(app, requested, credentials, request.request_id)
        return self._once_per_key(app, requested, credentials, request.request_id, idempotency_key)

    def _new_call(
        self, app: AppRecord, requested: CreateCallRequest, credentials: Credentials, request_id: str
    ) -> CallResult:
        host_key = None if app.host_links_carry_widget_key else new_host_key()
        record = new_call_record(
            app=app,
            requested=requested,
            request_id=request_id,
            now=self.now(),
            ttl_seconds=self.call_ttl_seconds,
            host_key_digest=host_key_digest(host_key) if host_key is not None else None,
        )
        self.put_call_once(record)
        if host_key is None:
            join_urls = build_join_urls(self.join_base_url, record.call_id, credentials)
        else:
            join_urls = build_host_key_join_urls(self.join_base_url, record.call_id, host_key)
        created = CreatedCall(record=record, join_urls=join_urls)
        return CallResult(
            status=201, body=dumps_exact({"ok": True, "data": response_data(created)}), created=created
        )

    def _once_per_key(
        self,
        app: AppRecord,
        requested: CreateCallRequest,
        credentials: Credentials,
        request_id: str,
        idempotency_key: str,
    ) -> CallResult:
        assert self.idempotency is not None
        records = self.idempotency()
        record_id = idempotency_record_id(app.app_id, idempotency_key)
        fingerprint = request_fingerprint(requested)
        now = int(self.now().timestamp())
        previous = records.claim(
            record_id,
            app.app_id,
            fingerprint,
            now=now,
            expires_at=now + IDEMPOTENCY_WINDOW_SECONDS,
            in_progress_until=now + IDEMPOTENCY_IN_PROGRESS_SECONDS,
        )
        if previous is not None:
            if previous.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            if previous.response is None:
                raise IdempotencyKeyInUse()
            return CallResult(
                status=previous.response.status,
                body=replayed_body(
                    previous.response, credentials, host_links_withheld=not app.host_links_carry_widget_key
                ),
            )

        try:
            result = self._new_call(app, requested, credentials, request_id)
        except BaseException:
            # A failed request is not remembered: its retry runs anew.
            release_quietly(records, record_id)
            raise
        stored = response_to_store(
            result.status,
            result.body,
            credentials=credentials,
            host_links_withheld=not app.host_links_carry_widget_key,
        )
        try:
            records.complete(record_id, stored)
        except Exception:
            # The call exists and the client gets its 201; only a later replay of it is lost.
            logger.exception("Could not store the response for replay", extra={"appId": app.app_id})
        return result


def response_data(created: CreatedCall) -> CallData:
    """The envelope's `data`: upstream fields, aliases, echoes only of what was sent, and additions."""
    record = created.record
    data: dict[str, Any] = {
        "callId": record.call_id,
        "hostJoinUrl": created.join_urls.host,
        "guestJoinUrl": created.join_urls.guest,
        "joinUrl": created.join_urls.guest,
        "agentJoinUrl": created.join_urls.host,
        "previewEnabled": record.settings.preview_enabled,
    }
    if record.title is not None:
        data["title"] = record.title
    if record.description is not None:
        data["description"] = record.description
    if record.metadata is not None:
        data["metadata"] = record.metadata
    if record.preset_id is not None:
        data["presetId"] = record.preset_id
    data["createdAt"] = record.created_at
    data["expiresAt"] = record.expires_at
    return cast("CallData", data)
