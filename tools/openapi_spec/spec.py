"""Build the OpenAPI 3.1 document from what the code declares.

- Paths and methods: the routes registered on `calls.handler.app` (Powertools' resolver). A route
  whose function this module does not know makes the build fail, so a new route cannot go
  undocumented. Each path's other methods (405 with `Allow`) come from `calls.routes.ROUTES`.
- The request body and the genesys query parameters: `CreateCallRequest` and `GenesysContext`; the
  list's query parameters: `ListCallsQuery`; the join's: `JoinCallRequest`. The limits declared in
  the models are the limits in the document.
- The error codes: the `ApiError` subclasses in `calls.errors`, grouped into shared responses
  (`ERROR_RESPONSES`) that each operation references; an error class in none of them makes the
  build fail. `Retry-After` wherever an error class sets `retry_after`.
- The `Idempotency-Key` header: `models.IDEMPOTENCY_KEY_PATTERN`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calls import errors, handler, rest, routes
from calls.models import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    METADATA_MAX_BYTES,
    METADATA_MAX_DEPTH,
    CompleteRecordingRequest,
    CreateCallRequest,
    GenesysContext,
    JoinCallRequest,
    ListCallsQuery,
    RecordingPartsRequest,
    StartRecordingRequest,
)
from calls.responses import (
    CallCreated,
    CallPageResponse,
    CallViewResponse,
    ErrorEnvelope,
    JoinResponse,
    PartUploadUrlsResponse,
    RecordingListResponse,
    RecordingViewResponse,
    StartedRecordingResponse,
)
from pydantic import BaseModel, ConfigDict, TypeAdapter

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = PROJECT_ROOT / "docs" / "openapi.json"
REGENERATE_COMMAND = "make openapi  (or: .venv/bin/python -m openapi_spec --write)"

API_VERSION = "1.1.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"

Schema = dict[str, Any]

CALLS_TAG = "Calls"
JOIN_TAG = "Join"
RECORDINGS_TAG = "Recordings"
CORS_TAG = "CORS"
TAGS = [
    {
        "name": CALLS_TAG,
        "description": "Create a call, read it again, find and list an app's calls, end one.",
    },
    {
        "name": JOIN_TAG,
        "description": "For the page behind the join links: who may join a call, as agent or guest. A "
        "guest needs no app credentials, and any origin may call it.",
    },
    {
        "name": RECORDINGS_TAG,
        "description": "Record a call from the agent's page, straight to S3 in parts, and list a call's "
        "recordings with download links.",
    },
    {
        "name": CORS_TAG,
        "description": "Browser preflights. They carry no credentials, so they answer the same for every "
        "app; the request that follows is checked.",
    },
]

SECURITY_SCHEMES: dict[str, Schema] = {
    "appIdHeader": {"type": "apiKey", "in": "header", "name": "X-App-Id"},
    "widgetKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Widget-Key"},
    "appIdQuery": {"type": "apiKey", "in": "query", "name": "appId"},
    "widgetKeyQuery": {"type": "apiKey", "in": "query", "name": "widgetKey"},
}
# Either pair; the JSON body's appId / widgetKey (POST only) is a third place OpenAPI cannot express.
CREDENTIALS: list[dict[str, list[str]]] = [
    {"appIdHeader": [], "widgetKeyHeader": []},
    {"appIdQuery": [], "widgetKeyQuery": []},
]
CREDENTIALS_NOTE = (
    "Each of `appId` and `widgetKey` is taken from the first place that has a non-empty value: "
    "the header (`X-App-Id`, `X-Widget-Key`), then the query string, then (POST only) the JSON "
    "body's `appId` / `widgetKey` fields. The places may be mixed."
)

# Filled in by info_description(), which knows the documented responses.
INFO_DESCRIPTION = """Creates video calls for a tenant ("app") and returns join links for a host and a guest;
reads a call again, lists an app's calls (by status, by Genesys conversation) and ends a call. The
page behind the join links asks who may join a call, and as what (`joinCall`).

**Credentials.** {credentials} Missing or wrong credentials answer 401 `UNAUTHORIZED`. `joinCall`
needs none for a guest: there the call id is the guest's credential.

**Every response** carries `Cache-Control: no-store`, and every one the function writes an
`X-Request-Id` header equal to the `requestId` of an error body and to the id in the logs (an
answer of the gateway in front of the function gives its own request id; a rate limit's 429 the
limit's name). **Every response with a body**,
errors included, is `application/json`; {bodiless}. Every error has the same envelope
(`ErrorEnvelope`): `{{"ok": false, "error": {{"code", "message", "requestId", "details"?}}}}`.
Branch on `code`; each operation lists the codes it can answer.

**Unknown paths** answer 404 `NOT_FOUND`, and **other methods** on a known path 405
`METHOD_NOT_ALLOWED` with an `Allow` header naming the path's methods, in the same envelope.

**Retries.** Retry on 503 `SERVICE_UNAVAILABLE`, 409 `IDEMPOTENCY_KEY_IN_USE` and 429
`TOO_MANY_REQUESTS` (throttling, or an app's rate limit) after `Retry-After` seconds, backing off
exponentially when it happens again. Send an `Idempotency-Key` so that a retry of a create whose
answer was lost cannot create a second call; ending is safe to retry as it is. Never retry any
other 4xx unchanged: it will fail the same way.

This document is generated from the code (`make openapi`); do not edit it by hand."""


# Schemas


def _drop_null_defaults(schema: Any) -> Any:
    """Pydantic writes `default: null` for optional fields whose schema leaves out null; drop it."""
    if isinstance(schema, dict):
        cleaned = {name: _drop_null_defaults(value) for name, value in schema.items()}
        if "default" in cleaned and cleaned["default"] is None and not _allows_null(cleaned):
            del cleaned["default"]
        return cleaned
    if isinstance(schema, list):
        return [_drop_null_defaults(item) for item in schema]
    return schema


def _allows_null(schema: Schema) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_allows_null(branch) for branch in schema.get("anyOf", []) if isinstance(branch, dict))


class EndCallRequest(BaseModel):
    """Optional. Read only for the credentials, as string fields: `appId` and `widgetKey` when the
    headers and the query string carry none, and the call's `hostKey` when the query string
    carries none; any other field, and a credential that is not a string, is ignored."""

    model_config = ConfigDict(extra="allow")


def component_schemas() -> dict[str, Schema]:
    """The request models (their limits) and the response types the handler builds its bodies
    with (calls.responses): the document describes what the code declares, not a copy of it."""
    shapes: list[tuple[Any, Any]] = [
        (CreateCallRequest, "validation"),
        (GenesysContext, "validation"),
        (EndCallRequest, "validation"),
        (JoinCallRequest, "validation"),
        (CallCreated, "serialization"),
        (CallViewResponse, "serialization"),
        (CallPageResponse, "serialization"),
        (JoinResponse, "serialization"),
        (StartRecordingRequest, "validation"),
        (RecordingPartsRequest, "validation"),
        (CompleteRecordingRequest, "validation"),
        (StartedRecordingResponse, "serialization"),
        (PartUploadUrlsResponse, "serialization"),
        (RecordingViewResponse, "serialization"),
        (RecordingListResponse, "serialization"),
        (ErrorEnvelope, "serialization"),
    ]
    _, document = TypeAdapter.json_schemas(
        [(shape, mode, TypeAdapter(shape)) for shape, mode in shapes], ref_template=REF
    )
    schemas: dict[str, Schema] = _drop_null_defaults(document["$defs"])
    request = schemas["CreateCallRequest"]
    request["description"] = (
        f"{request.get('description', '')} Unknown fields are ignored. Booleans are JSON true/false "
        f"only. `metadata` is limited to {METADATA_MAX_BYTES} bytes as compact UTF-8 JSON and "
        f"{METADATA_MAX_DEPTH} levels of nesting (`metadata` itself is level 1). The credentials may "
        "also be sent here as string fields `appId` and `widgetKey`."
    ).strip()
    # The model's docstring speaks to this code's readers; the document's to the join page's.
    schemas["JoinCallRequest"]["description"] = (
        "What a join link carries, as JSON body fields named as its query parameters; the query wins. "
        "`appId` and `widgetKey` may be sent here too. An empty string is the same as leaving a field out."
    )
    return schemas


def error_classes() -> list[type[errors.ApiError]]:
    """Every error the function can raise: ApiError itself (500) and its subclasses in calls."""
    return [errors.ApiError, *_subclasses(errors.ApiError)]


def _subclasses(base: type[errors.ApiError]) -> Iterator[type[errors.ApiError]]:
    """The errors the function can raise: those defined in its own package (never a test's)."""
    for subclass in base.__subclasses__():
        if subclass.__module__.startswith("calls."):
            yield subclass
        yield from _subclasses(subclass)


# Headers


def _header(description: str, schema: Schema, *, required: bool = False) -> Schema:
    return {"description": description, "required": required, "schema": schema}


def component_headers() -> dict[str, Schema]:
    return {
        "X-Request-Id": _header(
            "The request id: the same as `requestId` in an error body and `correlation_id` in the logs.",
            {"type": "string", "minLength": 1},
            required=True,
        ),
        "Cache-Control": _header(
            "Never cache: the host link is a credential.",
            {"type": "string", "const": "no-store"},
            required=True,
        ),
        "Retry-After": _header(
            "Seconds to wait before retrying.", {"type": "integer", "minimum": 0}, required=True
        ),
        "Idempotent-Replayed": _header(
            "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
            {"type": "string", "const": "true"},
        ),
        "Access-Control-Allow-Origin": _header(
            "The request's `Origin`, when it sent one.", {"type": "string"}
        ),
        "Access-Control-Expose-Headers": _header(
            "Headers a browser script may read, when the request sent an `Origin`.",
            {"type": "string", "examples": [rest.CORS_EXPOSE_HEADERS]},
        ),
        "Vary": _header("`Origin`, when the request sent one.", {"type": "string"}),
        "Allow": _header(
            "The methods this path supports.",
            {"type": "string", "examples": ["GET, POST, OPTIONS"]},
            required=True,
        ),
    }


def _headers(*names: str) -> dict[str, Schema]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


COMMON_HEADERS = (
    "X-Request-Id",
    "Cache-Control",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Vary",
)
# What the answers given before the function carry (infra/rest_api.py, infra/edge.py): the gateway's
# request id, or the name of the WAF limit, as X-Request-Id.
GATEWAY_HEADERS = COMMON_HEADERS


# Error responses, shared: each operation references those it can answer


@dataclass(frozen=True)
class ErrorResponse:
    """One status and the codes a client can get with it, with the headers that come along."""

    status: int
    codes: tuple[str, ...]
    description: str
    headers: tuple[str, ...]

    @property
    def retry_after(self) -> bool:
        return "Retry-After" in self.headers


def function_error(
    description: str, *classes: type[errors.ApiError], headers: tuple[str, ...] = ()
) -> ErrorResponse:
    """An answer of the function: status, codes and Retry-After from the error classes themselves."""
    (status,) = {error_class.status for error_class in classes}
    retry_after = any(error_class.retry_after is not None for error_class in classes)
    return ErrorResponse(
        status=status,
        codes=tuple(error_class.code for error_class in classes),
        description=description,
        headers=(*COMMON_HEADERS, *(("Retry-After",) if retry_after else ()), *headers),
    )


ERROR_RESPONSES: dict[str, ErrorResponse] = {
    "UnreadableBody": function_error(
        "The body is not valid JSON, or not a JSON object.", errors.InvalidJson, errors.InvalidBody
    ),
    "InvalidCursor": function_error(
        "The `cursor` was not issued by this API for this app and these filters (edited, truncated, "
        "another app's, or sent with other `status` / `conversationId`). Start again without it.",
        errors.InvalidCursor,
    ),
    "Unauthorized": function_error(
        "Credentials missing, unknown or wrong. The same answer whichever was wrong.", errors.Unauthorized
    ),
    "Forbidden": function_error(
        "The app is disabled, or the request's `Origin` is not one the app allows.",
        errors.AppDisabled,
        errors.OriginNotAllowed,
    ),
    "AppDisabled": function_error("The call's app is disabled.", errors.AppDisabled),
    "NotFound": function_error("No such path.", errors.RouteNotFound),
    "CallNotFound": function_error(
        "No call with this `callId` for this app: unknown, not a UUID, removed after it expired, or "
        "another app's (the same answer, so no answer tells whether another app's call exists).",
        errors.CallNotFound,
    ),
    "MethodNotAllowed": function_error(
        "This path does not support this method; `Allow` names those it does.",
        errors.MethodNotAllowed,
        headers=("Allow",),
    ),
    "IdempotencyKeyInUse": function_error(
        "A request with the same `Idempotency-Key` is still in progress: retry after `Retry-After` seconds.",
        errors.IdempotencyKeyInUse,
    ),
    "CallExpired": function_error(
        "The call expired before it was ended; it can no longer be ended (it stays readable until removed).",
        errors.CallExpired,
    ),
    "CallGone": function_error(
        "The call has ended, or expired: it can no longer be joined.",
        errors.CallEnded,
        errors.CallExpiredGone,
    ),
    "RecordingCallGone": function_error(
        "The call has ended, or expired: it can no longer be recorded.",
        errors.CallEnded,
        errors.CallExpiredGone,
    ),
    "RecordingNotFound": function_error(
        "No such call for this caller (as `CALL_NOT_FOUND` elsewhere), or no recording with this "
        "`recordingId` in this call.",
        errors.CallNotFound,
        errors.RecordingNotFound,
    ),
    "RecordingInProgress": function_error(
        "The call is being recorded already: complete that recording first (one at a time per call).",
        errors.RecordingInProgress,
    ),
    "RecordingNotInProgress": function_error(
        "The recording was completed (by its page, or by the server when the agent's connection or "
        "the call ended): it takes no more parts.",
        errors.RecordingNotInProgress,
    ),
    "RecordingEmpty": function_error(
        "No part of the recording had arrived: it was discarded (its upload aborted, the recording removed).",
        errors.RecordingEmpty,
    ),
    "PayloadTooLarge": function_error(
        f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.", errors.PayloadTooLarge
    ),
    "CreateCallUnprocessable": function_error(
        "A field is of the wrong type or outside its limits (one `details` entry per field), the preset "
        "does not exist for this app, or the `Idempotency-Key` was already used for another request.",
        errors.ValidationFailed,
        errors.PresetNotFound,
        errors.IdempotencyKeyReused,
    ),
    "ValidationError": function_error(
        "A parameter or field is of the wrong type or outside its limits: one `details` entry for each.",
        errors.ValidationFailed,
    ),
    "TooManyRequests": ErrorResponse(
        status=429,
        codes=("TOO_MANY_REQUESTS",),
        description="Refused before the function ran: by API Gateway's "
        "throttling (the stage's rate and burst limits; `requestId` is API Gateway's request id) or, where "
        "the stage has them, by the per-app rate limits at the edge (AWS WAF: per app id in the `X-App-Id` "
        "header or the `appId` query parameter, else per address, over 5 minutes; `requestId` is then "
        "`waf-app-rate-limit` or `waf-ip-rate-limit`, as WAF has no request id to give). Retry after "
        "`Retry-After` seconds, with exponential backoff.",
        headers=(*GATEWAY_HEADERS, "Retry-After"),
    ),
    "InternalError": function_error(
        "An internal error. The body carries the request id and nothing else of use to a client.",
        errors.InternalError,
    ),
    "ServiceUnavailable": function_error(
        "The database throttled or timed out: retry after `Retry-After` seconds.", errors.ServiceUnavailable
    ),
}


def component_responses() -> dict[str, Schema]:
    # By status and code: CALL_EXPIRED is a 409 to end but a 410 to join.
    undocumented = {(error_class.status, error_class.code) for error_class in error_classes()} - {
        (response.status, code) for response in ERROR_RESPONSES.values() for code in response.codes
    }
    if undocumented:
        raise LookupError(
            f"error codes of calls.errors in no shared response: {sorted(undocumented)}; "
            "add them to openapi_spec.spec.ERROR_RESPONSES"
        )
    return {
        name: {
            "description": response.description,
            "headers": _headers(*response.headers),
            "content": {
                JSON: {
                    "schema": {
                        "allOf": [
                            {"$ref": REF.format(model="ErrorEnvelope")},
                            {
                                "properties": {
                                    "error": {"properties": {"code": {"enum": list(response.codes)}}}
                                }
                            },
                        ]
                    }
                }
            },
        }
        for name, response in ERROR_RESPONSES.items()
    }


def _error_refs(*names: str) -> dict[str, Schema]:
    refs: dict[str, Schema] = {}
    for name in names:
        status = str(ERROR_RESPONSES[name].status)
        if status in refs:
            raise ValueError(
                f"one operation lists two error responses for status {status}, {name} among them"
            )
        refs[status] = {"$ref": f"#/components/responses/{name}"}
    return dict(sorted(refs.items()))


# Every operation with credentials can answer these.
ADMITTED_ERRORS = ("Unauthorized", "Forbidden", "TooManyRequests", "InternalError", "ServiceUnavailable")


# Parameters


def _query_schema(field_schema: Schema) -> Schema:
    """A model's field as it is written in a query string: the non-null branch; booleans as words."""
    branches = [
        branch for branch in field_schema.get("anyOf", [field_schema]) if branch.get("type") != "null"
    ]
    (branch,) = branches
    if branch.get("type") == "boolean":
        # true/false/1/0 in any case; JSON Schema patterns have no case-insensitive flag.
        return {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"}
    schema = {key: value for key, value in branch.items() if key not in ("title", "description")}
    if "default" in field_schema and field_schema["default"] is not None:
        schema["default"] = field_schema["default"]
    return schema


# calls.request.first_query_value reads every query parameter the same way: an empty value is no value.
EMPTY_QUERY_VALUE_NOTE = "An empty value is the same as leaving the parameter out."


def _query_parameter(name: str, description: str, field_schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{description} {EMPTY_QUERY_VALUE_NOTE}",
        "schema": _query_schema(field_schema),
        "allowEmptyValue": True,
    }


def component_parameters() -> dict[str, Schema]:
    parameters: dict[str, Schema] = {
        "CallId": {
            "name": "callId",
            "in": "path",
            "required": True,
            "description": "The call's id, as create answered it. Any other value, or another app's call, "
            "is a 404 `CALL_NOT_FOUND`.",
            "schema": {"type": "string", "format": "uuid"},
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Makes a retry safe: the same app, key and request within 24 hours get the first "
            "answer again (`Idempotent-Replayed: true`) and create no second call. 1-255 printable ASCII "
            "characters; a different request with a used key is a 422 `IDEMPOTENCY_KEY_REUSED`, the same "
            "key while the first request is in progress a 409 `IDEMPOTENCY_KEY_IN_USE`.",
            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
        },
        "Origin": {
            "name": "Origin",
            "in": "header",
            "required": False,
            "description": "Sent by browsers. When the app lists `allowedOrigins`, an `Origin` outside the "
            "list is a 403 `ORIGIN_NOT_ALLOWED`; without `Origin` (server to server) nothing is checked.",
            "schema": {"type": "string"},
        },
    }
    genesys_schema = GenesysContext.model_json_schema()
    for name, field_schema in genesys_schema["properties"].items():
        parameters[f"genesys.{name}"] = _query_parameter(
            name, f"Genesys context `{name}`; the body's `genesys.{name}` wins over this.", field_schema
        )
    return parameters


def _parameter_refs(*names: str) -> list[Schema]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


# What the model's descriptions leave for the document to say.
LIST_PARAMETER_NOTES = {
    "cursor": "Good only with the same app, `status` and `conversationId`; otherwise a 400 `INVALID_CURSOR`.",
}


def list_parameters() -> list[Schema]:
    """GET /api/calls's query: ListCallsQuery's fields, with its limits."""
    properties = ListCallsQuery.model_json_schema()["properties"]
    parameters = []
    for name, field_schema in properties.items():
        notes = filter(None, [field_schema.get("description"), LIST_PARAMETER_NOTES.get(name)])
        description = " ".join(f"{note.rstrip('.')}." for note in notes)
        parameters.append(_query_parameter(name, description, field_schema))
    return parameters


def join_parameters() -> list[Schema]:
    """POST /api/calls/{callId}/join's query: JoinCallRequest's fields, as the join link carries them."""
    properties = JoinCallRequest.model_json_schema()["properties"]
    return [
        _query_parameter(
            name, f"{field_schema['description']}; the body's `{name}` when absent.", field_schema
        )
        for name, field_schema in properties.items()
    ]


def end_host_key_parameter() -> Schema:
    """POST /api/calls/{callId}/end's `hostKey`: the join's field, as a host-key link carries it."""
    field_schema = JoinCallRequest.model_json_schema()["properties"]["hostKey"]
    return _query_parameter(
        "hostKey",
        f"{field_schema['description']}: ends that call, when the request carries no app credentials; "
        "the body's `hostKey` when absent.",
        field_schema,
    )


# Operations, one builder per route function of the handler


def _ok_response(description: str, model: str, links: dict[str, Schema] | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "headers": _headers(*COMMON_HEADERS),
        "content": {JSON: {"schema": {"$ref": REF.format(model=model)}}},
    }
    if links:
        response["links"] = links
    return response


def _call_link(operation_id: str, description: str, source: str) -> Schema:
    """A link that carries a call's id from this response to another operation on that call."""
    return {"operationId": operation_id, "description": description, "parameters": {"callId": source}}


CREATED_CALL_ID = "$response.body#/data/callId"


def _create_call(path: str) -> Schema:
    genesys = [f"genesys.{name}" for name in GenesysContext.model_fields]
    created = _ok_response(
        "The call was created (or, with `Idempotent-Replayed: true`, this is the stored answer to the first "
        "request with this `Idempotency-Key`).",
        "CallCreated",
        links={
            "getCall": _call_link("getCall", "Read the call just created.", CREATED_CALL_ID),
            "endCall": _call_link("endCall", "End the call just created.", CREATED_CALL_ID),
            "joinCall": _call_link("joinCall", "Join the call just created, as the guest.", CREATED_CALL_ID),
        },
    )
    created["headers"] = _headers(*COMMON_HEADERS, "Idempotent-Replayed")
    return {
        "tags": [CALLS_TAG],
        "operationId": "createCall",
        "summary": "Create a call",
        "description": "Creates a video call and returns the join links. Every body field is optional: no "
        "body, or `{}`, creates a call with the app's active preset or the built-in defaults. The body is "
        "read as JSON whatever the `Content-Type` (browsers may send `text/plain` to avoid a preflight). "
        f"Checks run in this order: size, JSON, credentials, fields, preset. {CREDENTIALS_NOTE}",
        "security": CREDENTIALS,
        "parameters": _parameter_refs("IdempotencyKey", "Origin", *genesys),
        "requestBody": {
            "required": False,
            "content": {JSON: {"schema": {"$ref": REF.format(model="CreateCallRequest")}}},
        },
        "responses": {
            "201": created,
            **_error_refs(
                "UnreadableBody",
                "IdempotencyKeyInUse",
                "PayloadTooLarge",
                "CreateCallUnprocessable",
                *ADMITTED_ERRORS,
            ),
        },
    }


def _list_calls(path: str) -> Schema:
    return {
        "tags": [CALLS_TAG],
        "operationId": "listCalls",
        "summary": "List the app's calls",
        "description": "The calling app's calls, newest first (ties in `createdAt` in a stable order), a "
        "page at a time. Follow `nextCursor`, with the same filters, until it is absent: that yields every "
        "matching call exactly once. A page may hold fewer than `limit` calls when filters apply. Checks "
        "run in this order: credentials, origin, parameters (422), cursor (400).",
        "security": CREDENTIALS,
        "parameters": [*list_parameters(), *_parameter_refs("Origin")],
        "responses": {
            "200": _ok_response(
                "A page of calls, and the cursor of the next one unless this is the last.", "CallPageResponse"
            ),
            **_error_refs("InvalidCursor", "ValidationError", *ADMITTED_ERRORS),
        },
    }


def _get_call(path: str) -> Schema:
    return {
        "tags": [CALLS_TAG],
        "operationId": "getCall",
        "summary": "Read a call",
        "description": "One call of the calling app, as it stands. Checks run in this order: credentials, "
        "origin, the call.",
        "security": CREDENTIALS,
        "parameters": _parameter_refs("CallId", "Origin"),
        "responses": {
            "200": _ok_response(
                "The call.",
                "CallViewResponse",
                links={
                    "endCall": _call_link("endCall", "End this call.", "$request.path.callId"),
                },
            ),
            **_error_refs("CallNotFound", *ADMITTED_ERRORS),
        },
    }


def _end_call(path: str) -> Schema:
    return {
        "tags": [CALLS_TAG],
        "operationId": "endCall",
        "summary": "End a call",
        "description": "Ends a call of the calling app. Ending an ended call again answers the same, with "
        "the first `endedAt`: nothing is rewritten, so a retry is safe and racing ends record one "
        "`endedAt`. A call that expired before it was ended answers 409 `CALL_EXPIRED`. Checks run in "
        f"this order: size, JSON, credentials, origin, the call. {CREDENTIALS_NOTE}\n\n"
        "The agent of a host-key link may end its own call with the link's credential instead: "
        "`hostKey` in the query string or the body (the page behind the link forwards it), considered "
        "only when the request carries no `appId` or `widgetKey` (a request with the app's credentials "
        "is judged by them, as above). Any origin may send it (`allowedOrigins` does not apply, as "
        "for the join), and the answer has no host link. Then the checks run in this "
        "order: size, JSON, the key (401 when it opens no call: another call's, a wrong one, one for a call "
        "without a key or for no call at all), the call's app (401 when deleted, 403 `APP_DISABLED`), the "
        "end.",
        # Or the call's host key, a parameter as the join documents it.
        "security": CREDENTIALS,
        "parameters": [*_parameter_refs("CallId", "Origin"), end_host_key_parameter()],
        "requestBody": {
            "required": False,
            "content": {JSON: {"schema": {"$ref": REF.format(model="EndCallRequest")}}},
        },
        "responses": {
            "200": _ok_response(
                "The call, ended (by this request or an earlier one): `status` `ended` and `endedAt`.",
                "CallViewResponse",
                links={
                    "getCall": _call_link("getCall", "Read the ended call.", "$request.path.callId"),
                },
            ),
            **_error_refs(
                "UnreadableBody", "CallNotFound", "CallExpired", "PayloadTooLarge", *ADMITTED_ERRORS
            ),
        },
    }


def _join_call(path: str) -> Schema:
    return {
        "tags": [JOIN_TAG],
        "operationId": "joinCall",
        "summary": "Join a call",
        "description": "For the page behind the join links: who may join this call, and as what. Send what "
        "the link carries, in the query string (the page forwards its own) or as JSON body fields of the "
        "same names; the query wins. Without `role`, or with `role=guest`, the caller is the guest: the "
        "call id is the guest's credential. `role=agent` needs the call's `hostKey` (apps in hostKey "
        "mode) or the `appId` and `widgetKey` of the call's app (apps in widgetKey mode). The first "
        "successful join of each role stamps `agentJoinedAt` / `guestJoinedAt` on the call, once. Any "
        "origin may call it: `allowedOrigins` does not apply. Checks run in this order: size, JSON, "
        "fields, the call, the agent's credential, whether the call is still on.",
        # A guest needs nothing; an agent of a widgetKey-mode app sends the app's credentials.
        "security": [{}, *CREDENTIALS],
        "parameters": [*_parameter_refs("CallId"), *join_parameters()],
        "requestBody": {
            "required": False,
            "content": {JSON: {"schema": {"$ref": REF.format(model="JoinCallRequest")}}},
        },
        "responses": {
            "200": _ok_response(
                "Who joins, as what, and what the page needs to start the call.", "JoinResponse"
            ),
            **_error_refs(
                "UnreadableBody",
                "Unauthorized",
                "AppDisabled",
                "CallNotFound",
                "CallGone",
                "PayloadTooLarge",
                "ValidationError",
                "TooManyRequests",
                "InternalError",
                "ServiceUnavailable",
            ),
        },
    }


RECORDER_NOTE = (
    "The call's agent may call it with the call's `hostKey` (query or body; any origin, as for the "
    "join and the end), or the call's app with its credentials (`allowedOrigins` applies); the "
    "guest, whose only credential is the call id, gets 401. A request that carries `appId` or "
    "`widgetKey` is judged by them."
)
# The agent's host key, or the app's credentials.
RECORDER_SECURITY: list[dict[str, list[str]]] = [*CREDENTIALS]


def recording_host_key_parameter() -> Schema:
    field_schema = JoinCallRequest.model_json_schema()["properties"]["hostKey"]
    return _query_parameter(
        "hostKey",
        f"{field_schema['description']}: the call's agent, when the request carries no app credentials; "
        "the body's `hostKey` when absent.",
        field_schema,
    )


def _recording_parameters() -> list[Schema]:
    return [*_parameter_refs("CallId", "Origin"), recording_host_key_parameter()]


RECORDING_ID_PARAMETER: Schema = {
    "name": "recordingId",
    "in": "path",
    "required": True,
    "description": "The recording's id, as the start answered it. Another call's, or an unknown one, is "
    "a 404 `RECORDING_NOT_FOUND`.",
    "schema": {"type": "string", "format": "uuid"},
}


def _request_body(model: str) -> Schema:
    return {"required": False, "content": {JSON: {"schema": {"$ref": REF.format(model=model)}}}}


def _start_recording(path: str) -> Schema:
    return {
        "tags": [RECORDINGS_TAG],
        "operationId": "startRecording",
        "summary": "Start a recording",
        "description": "Starts a recording of a live call: an S3 multipart upload, whose parts the page "
        "uploads with the URLs of `getRecordingPartUrls`. One recording at a time per call. "
        f"{RECORDER_NOTE} Checks run in this order: size, JSON, credentials, origin, fields, the call, "
        "whether it is still on, whether it records already.",
        "security": RECORDER_SECURITY,
        "parameters": _recording_parameters(),
        "requestBody": _request_body("StartRecordingRequest"),
        "responses": {
            "201": _ok_response(
                "The recording, started, with how to upload its parts.",
                "StartedRecordingResponse",
                links={
                    "getRecordingPartUrls": {
                        "operationId": "getRecordingPartUrls",
                        "description": "Get URLs to upload the recording's parts.",
                        "parameters": {
                            "callId": "$request.path.callId",
                            "recordingId": "$response.body#/data/recordingId",
                        },
                    }
                },
            ),
            **_error_refs(
                "UnreadableBody",
                "CallNotFound",
                "RecordingInProgress",
                "RecordingCallGone",
                "PayloadTooLarge",
                "ValidationError",
                *ADMITTED_ERRORS,
            ),
        },
    }


def _recording_part_urls(path: str) -> Schema:
    return {
        "tags": [RECORDINGS_TAG],
        "operationId": "getRecordingPartUrls",
        "summary": "Get part upload URLs",
        "description": "Presigned S3 UploadPart URLs, valid 15 minutes, one per part number asked for. "
        "`PUT` each part's bytes to its URL with no further headers; every part but the last must hold "
        "at least `partSizeBytes`. A part uploaded again replaces the earlier one. Only while the "
        f"recording is `recording`. {RECORDER_NOTE}",
        "security": RECORDER_SECURITY,
        "parameters": [*_recording_parameters(), RECORDING_ID_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": REF.format(model="RecordingPartsRequest")}}},
        },
        "responses": {
            "200": _ok_response("One URL per part.", "PartUploadUrlsResponse"),
            **_error_refs(
                "UnreadableBody",
                "RecordingNotFound",
                "RecordingNotInProgress",
                "PayloadTooLarge",
                "ValidationError",
                *ADMITTED_ERRORS,
            ),
        },
    }


def _complete_recording(path: str) -> Schema:
    return {
        "tags": [RECORDINGS_TAG],
        "operationId": "completeRecording",
        "summary": "Complete a recording",
        "description": "Completes the upload from the parts S3 holds (no ETags needed): parts 1, 2, 3... "
        "up to the first missing one, ending at the first one shorter than `partSizeBytes`. The recording "
        "becomes `ready`, with `endedAt`, `sizeBytes` and `durationSeconds` (the body's, else from "
        "`startedAt` to `endedAt`), and `recording.ready` is sent. Completing a ready recording again "
        "answers it as it is; none of its parts had arrived: it is discarded, 409 `RECORDING_EMPTY`. The "
        "server completes a recording by itself when the agent's signaling connection or the call ends. "
        f"{RECORDER_NOTE}",
        "security": RECORDER_SECURITY,
        "parameters": [*_recording_parameters(), RECORDING_ID_PARAMETER],
        "requestBody": _request_body("CompleteRecordingRequest"),
        "responses": {
            "200": _ok_response("The recording, ready.", "RecordingViewResponse"),
            **_error_refs(
                "UnreadableBody",
                "RecordingNotFound",
                "RecordingEmpty",
                "PayloadTooLarge",
                "ValidationError",
                *ADMITTED_ERRORS,
            ),
        },
    }


def _list_recordings(path: str) -> Schema:
    return {
        "tags": [RECORDINGS_TAG],
        "operationId": "listRecordings",
        "summary": "List a call's recordings",
        "description": "The call's recordings, newest first; each ready one with a `downloadUrl` valid 15 "
        "minutes. The app's credentials only (`allowedOrigins` applies). Recordings are kept longer than "
        "their call: once the call itself is removed, its recordings are still listed to its app. Checks "
        "run in this order: credentials, origin, the call.",
        "security": CREDENTIALS,
        "parameters": _parameter_refs("CallId", "Origin"),
        "responses": {
            "200": _ok_response("The call's recordings.", "RecordingListResponse"),
            **_error_refs("CallNotFound", *ADMITTED_ERRORS),
        },
    }


# One preflight function serves every path; each path's preflight is an operation of its own.
PREFLIGHT_OPERATION_IDS = {
    routes.CALLS: "preflightCalls",
    routes.CALL: "preflightCall",
    routes.END: "preflightEndCall",
    routes.JOIN: "preflightJoinCall",
    routes.RECORDINGS: "preflightRecordings",
    routes.RECORDING_PARTS: "preflightRecordingParts",
    routes.RECORDING_COMPLETE: "preflightCompleteRecording",
}


def _preflight(path: str) -> Schema:
    operation_id = PREFLIGHT_OPERATION_IDS.get(openapi_path(path))
    if operation_id is None:
        raise LookupError(f"the preflight of {path} has no operationId; add one to PREFLIGHT_OPERATION_IDS")
    allowed = rest.allowed_methods(openapi_path(path))
    # Any value: a preflight cannot look anything up.
    parameters: list[Schema] = [
        {"name": _camel_case(name), "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(\w+)>", path)
    ]
    parameters += [
        {"$ref": "#/components/parameters/Origin"},
        {
            "name": "Access-Control-Request-Method",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {
            "name": "Access-Control-Request-Headers",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
    ]
    return {
        "tags": [CORS_TAG],
        "operationId": operation_id,
        "summary": "CORS preflight",
        "description": "Answers a browser's preflight. It carries no credentials, so it cannot check the "
        "app; the request that follows is checked.",
        "security": [],
        "parameters": parameters,
        "responses": {
            "204": {
                "description": "The methods and headers a browser may use on this path.",
                "headers": {
                    **_headers(*COMMON_HEADERS),
                    "Access-Control-Allow-Methods": _header(
                        "The methods of this path.", {"type": "string", "const": allowed}, required=True
                    ),
                    "Access-Control-Allow-Headers": _header(
                        "The request headers a browser may send.",
                        {"type": "string", "const": rest.CORS_ALLOW_HEADERS},
                        required=True,
                    ),
                    "Access-Control-Max-Age": _header(
                        "Seconds a browser may cache this answer.",
                        {"type": "integer", "minimum": 0, "examples": [int(rest.CORS_MAX_AGE_SECONDS)]},
                        required=True,
                    ),
                },
            },
            **_error_refs("InternalError"),
        },
    }


OPERATION_BUILDERS: dict[Callable[..., Any], Callable[[str], Schema]] = {
    handler.create_call: _create_call,
    handler.list_calls: _list_calls,
    handler.read_call: _get_call,
    handler.end_call: _end_call,
    handler.join_call: _join_call,
    handler.start_recording: _start_recording,
    handler.recording_part_urls: _recording_part_urls,
    handler.complete_recording: _complete_recording,
    handler.list_recordings: _list_recordings,
    handler.preflight: _preflight,
}
# OpenAPI's order of methods in a path item, so the document reads the same way every time.
METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The methods API Gateway forwards to the function (its ANY method): the candidates for a 405.
FORWARDED_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH")


def handler_routes() -> list[tuple[str, str, Callable[..., Any]]]:
    """(path, method, function) of every route registered on the handler's resolver."""
    # Powertools has no public listing of routes; its own OpenAPI generator reads these two lists too.
    routes = [*handler.app._static_routes, *handler.app._dynamic_routes]
    return [(route.path, route.method.upper(), route.func) for route in routes]


def openapi_path(route_path: str) -> str:
    """`/api/calls/<call_id>` as OpenAPI writes it: `/api/calls/{callId}`."""
    return re.sub(r"<(\w+)>", lambda match: "{" + _camel_case(match[1]) + "}", route_path)


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _refused_methods_note(route_path: str) -> str:
    path = openapi_path(route_path)
    refused = [method for method in FORWARDED_METHODS if method not in routes.ROUTES[path]]
    return (
        f"Any other method ({', '.join(refused)}) answers 405 `METHOD_NOT_ALLOWED` with "
        f"`Allow: {rest.allowed_methods(path)}` (`#/components/responses/MethodNotAllowed`)."
    )


def paths() -> dict[str, Schema]:
    operations: dict[str, dict[str, Schema]] = {}
    for route_path, method, function in handler_routes():
        builder = OPERATION_BUILDERS.get(function)
        if builder is None:
            raise LookupError(
                f"route {method} {route_path} -> {function.__name__} has no OpenAPI description; "
                "add one to openapi_spec.spec.OPERATION_BUILDERS"
            )
        operations.setdefault(route_path, {})[method.lower()] = builder(route_path)
    items: dict[str, Schema] = {}
    for route_path, by_method in sorted(operations.items()):
        item: Schema = {"description": _refused_methods_note(route_path)}
        item.update({method: by_method[method] for method in METHOD_ORDER if method in by_method})
        items[openapi_path(route_path)] = item
    return items


def bodiless_responses(items: dict[str, Schema]) -> list[tuple[str, str, str, str]]:
    """(method, path, status, summary) of each documented response without a body."""
    found = []
    for path, item in items.items():
        for method, operation in item.items():
            if method == "description":
                continue
            for status, response in operation["responses"].items():
                if "$ref" not in response and "content" not in response:
                    found.append((method.upper(), path, status, operation["summary"]))
    return found


def info_description(items: dict[str, Schema]) -> str:
    bodiless = bodiless_responses(items)
    kinds = sorted({(method, status, summary) for method, _, status, summary in bodiless})
    named = []
    for method, status, summary in kinds:
        where = [path for m, path, s, _ in bodiless if (m, s) == (method, status)]
        everywhere = [path for path, item in items.items() if method.lower() in item]
        on = (
            f"`{method}` on every path"
            if where == everywhere
            else ", ".join(f"`{method} {p}`" for p in where)
        )
        named.append(f"the `{status}` of {on} ({summary})")
    if named:
        verb = "has" if len(named) == 1 else "have"
        exceptions = f"{', '.join(named)} {verb} no body and no `Content-Type`"
    else:
        exceptions = "every documented response has one"
    return INFO_DESCRIPTION.format(credentials=CREDENTIALS_NOTE, bodiless=exceptions)


# Where the API answers: the local run, and a deployed stack's one origin (its output SiteUrl), the
# CloudFront distribution in front of the stage (infra/distribution.py).
SERVERS: list[Schema] = [
    {"url": "http://127.0.0.1:3000", "description": "The local run (`make run`; `PORT` moves it)"},
    {
        "url": "https://{host}",
        "description": "A deployed stack: its output `SiteUrl`, the page's, the API's and signaling's origin",
        "variables": {
            "host": {
                "default": "d111111abcdef8.cloudfront.net",
                "description": "The distribution's name (`DistributionDomainName`) or the `domainName`",
            },
        },
    },
]


def build_spec() -> Schema:
    items = paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Video Calls API",
            "version": API_VERSION,
            "description": info_description(items),
        },
        "servers": SERVERS,
        "tags": TAGS,
        "paths": items,
        "components": {
            "schemas": component_schemas(),
            "parameters": component_parameters(),
            "headers": component_headers(),
            "responses": component_responses(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(spec: Schema) -> str:
    """The committed form: stable key order, two-space indent, ASCII only, one trailing newline."""
    return json.dumps(spec, indent=2, ensure_ascii=True) + "\n"
