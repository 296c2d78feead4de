"""Build the OpenAPI 3.1 document from what the code declares.

- Paths and methods: the routes registered on `calls.handler.app` (Powertools' resolver). A route
  whose function this module does not know makes the build fail, so a new route cannot go
  undocumented.
- The request body and the genesys query parameters: `CreateCallRequest` and `GenesysContext`, so
  the limits declared in the models are the limits in the document.
- The error codes, per status: the `ApiError` subclasses in `calls.errors`; `Retry-After` wherever
  an error class sets `retry_after`.
- The `Idempotency-Key` header: `models.IDEMPOTENCY_KEY_PATTERN`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from calls import errors, handler
from calls.models import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    METADATA_MAX_BYTES,
    METADATA_MAX_DEPTH,
    CreateCallRequest,
    GenesysContext,
)
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from openapi_spec.envelopes import CallCreated, ErrorEnvelope

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = PROJECT_ROOT / "docs" / "openapi.json"
REGENERATE_COMMAND = "make openapi  (or: .venv/bin/python -m openapi_spec --write)"

API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"

Schema = dict[str, Any]

# What each status means to a client. The codes come from calls.errors, and from GATEWAY_ERRORS.
STATUS_DESCRIPTIONS = {
    400: "The body is not valid JSON, or not a JSON object.",
    401: "Credentials missing, unknown or wrong. The same answer whichever was wrong.",
    403: "The app is disabled, or the request's `Origin` is not one the app allows.",
    404: "No such path.",
    405: "This path does not support this method.",
    409: "A request with the same `Idempotency-Key` is still in progress: retry after `Retry-After` seconds.",
    413: f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.",
    422: "A field is of the wrong type or outside its limits (one `details` entry per field), the "
    "preset does not exist for this app, or the `Idempotency-Key` was already used for another request.",
    429: "Refused before the function ran, so without `X-Request-Id`: by API Gateway's throttling "
    "(the stage's rate and burst limits; `requestId` is API Gateway's request id) or, where the stage "
    "has them, by the per-app rate limits at the edge (AWS WAF: per app id in the `X-App-Id` header or "
    "the `appId` query parameter, else per address, over 5 minutes; `requestId` is then "
    "`waf-app-rate-limit` or `waf-ip-rate-limit`, as WAF has no request id to give). Retry after "
    "`Retry-After` seconds, with exponential backoff.",
    500: "An internal error. The body carries the request id and nothing else of use to a client.",
    503: "The database throttled or timed out: retry after `Retry-After` seconds.",
}
# The statuses POST /api/calls can answer, besides 201 (404 and 405 belong to other paths and methods).
CREATE_CALL_ERROR_STATUSES = (400, 401, 403, 409, 413, 422, 429, 500, 503)
# Errors only API Gateway answers, in the contract's envelope: its gateway responses (infra/stack.py,
# GATEWAY_ANSWERS) rewrite them; a unit test checks the two agree. status: (code, Retry-After?).
GATEWAY_ERRORS = {429: ("TOO_MANY_REQUESTS", True)}

SECURITY_SCHEMES: dict[str, Schema] = {
    "appIdHeader": {"type": "apiKey", "in": "header", "name": "X-App-Id"},
    "widgetKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Widget-Key"},
    "appIdQuery": {"type": "apiKey", "in": "query", "name": "appId"},
    "widgetKeyQuery": {"type": "apiKey", "in": "query", "name": "widgetKey"},
}
CREDENTIALS_NOTE = (
    "Each of `appId` and `widgetKey` is taken from the first place that has a non-empty value: "
    "the header (`X-App-Id`, `X-Widget-Key`), then the query string, then the JSON body's "
    "`appId` / `widgetKey` fields. The places may be mixed."
)

# Filled in by info_description(), which knows the documented responses.
INFO_DESCRIPTION = """Creates video calls for a tenant ("app") and returns join links for a host and a guest.

**Credentials.** {credentials} Missing or wrong credentials answer 401 `UNAUTHORIZED`.

**Every response** carries `Cache-Control: no-store`, and every one the function writes an
`X-Request-Id` header equal to the `requestId` of an error body and to the id in the logs (API
Gateway's own answers, such as its throttling 429, have none). **Every response with a body**,
errors included, is `application/json`; {bodiless}. Every error has the same envelope:
`{{"ok": false, "error": {{"code", "message", "requestId", "details"?}}}}`. Branch on `code`.

**Unknown paths** answer 404 `NOT_FOUND` and **other methods** on `/api/calls` 405
`METHOD_NOT_ALLOWED`, with the same envelope.

**Retries.** Retry on 503 `SERVICE_UNAVAILABLE`, 409 `IDEMPOTENCY_KEY_IN_USE` and 429
`TOO_MANY_REQUESTS` (throttling, or an app's rate limit) after `Retry-After` seconds, backing off
exponentially when it happens again. Send an `Idempotency-Key` so that a retry of a request whose
answer was lost cannot create a second call. Never retry any other 4xx unchanged: it will fail the
same way.

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


def component_schemas() -> dict[str, Schema]:
    models: list[tuple[type[BaseModel], Any]] = [
        (CreateCallRequest, "validation"),
        (GenesysContext, "validation"),
        (CallCreated, "serialization"),
        (ErrorEnvelope, "serialization"),
    ]
    _, document = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Schema] = _drop_null_defaults(document["$defs"])
    request = schemas["CreateCallRequest"]
    request["description"] = (
        f"{request.get('description', '')} Unknown fields are ignored. Booleans are JSON true/false "
        f"only. `metadata` is limited to {METADATA_MAX_BYTES} bytes as compact UTF-8 JSON and "
        f"{METADATA_MAX_DEPTH} levels of nesting (`metadata` itself is level 1). The credentials may "
        "also be sent here as string fields `appId` and `widgetKey`."
    ).strip()
    return schemas


def error_codes_by_status() -> dict[int, list[str]]:
    """Every code of calls.errors, under its status."""
    codes: dict[int, set[str]] = {}
    for error_class in _subclasses(errors.ApiError):
        codes.setdefault(error_class.status, set()).add(error_class.code)
    codes.setdefault(errors.ApiError.status, set()).add(errors.ApiError.code)
    return {status: sorted(found) for status, found in sorted(codes.items())}


def retry_after_statuses() -> frozenset[int]:
    return frozenset(
        error_class.status
        for error_class in _subclasses(errors.ApiError)
        if error_class.retry_after is not None
    )


def _subclasses(base: type[errors.ApiError]) -> Iterator[type[errors.ApiError]]:
    """The errors the function can raise: those defined in its own package (never a test's)."""
    for subclass in base.__subclasses__():
        if subclass.__module__.startswith("calls."):
            yield subclass
        yield from _subclasses(subclass)


# Headers and responses


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
            {"type": "string", "examples": [handler.CORS_EXPOSE_HEADERS]},
        ),
        "Vary": _header("`Origin`, when the request sent one.", {"type": "string"}),
        "Allow": _header(
            "The methods this path supports.",
            {"type": "string", "examples": ["POST, OPTIONS"]},
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


def _error_response_name(status: int) -> str:
    return f"Error{status}"


def component_responses() -> dict[str, Schema]:
    codes = error_codes_by_status()
    with_retry_after = retry_after_statuses()
    responses: dict[str, Schema] = {}
    for status, description in STATUS_DESCRIPTIONS.items():
        if status in GATEWAY_ERRORS:
            gateway_code, retry_after = GATEWAY_ERRORS[status]
            status_codes = [gateway_code]
            headers = ["Cache-Control", "Access-Control-Allow-Origin", "Vary"]
        elif status in codes:
            status_codes = codes[status]
            headers = [*COMMON_HEADERS]
            retry_after = status in with_retry_after
        else:
            raise LookupError(f"calls.errors has no ApiError with status {status}, documented here")
        if retry_after:
            headers.append("Retry-After")
        if status == 405:
            headers.append("Allow")
        responses[_error_response_name(status)] = {
            "description": description,
            "headers": _headers(*headers),
            "content": {
                JSON: {
                    "schema": {
                        "allOf": [
                            {"$ref": REF.format(model="ErrorEnvelope")},
                            {"properties": {"error": {"properties": {"code": {"enum": status_codes}}}}},
                        ]
                    }
                }
            },
        }
    undocumented = set(codes) - set(STATUS_DESCRIPTIONS)
    if undocumented:
        raise LookupError(f"statuses of calls.errors not described in STATUS_DESCRIPTIONS: {undocumented}")
    return responses


def _error_refs(statuses: tuple[int, ...]) -> dict[str, Schema]:
    return {
        str(status): {"$ref": f"#/components/responses/{_error_response_name(status)}"} for status in statuses
    }


# Parameters


def _query_schema(field_schema: Schema) -> Schema:
    """A genesys field as it is written in a query string: the non-null branch; booleans as words."""
    branches = [
        branch for branch in field_schema.get("anyOf", [field_schema]) if branch.get("type") != "null"
    ]
    (branch,) = branches
    if branch.get("type") == "boolean":
        # true/false/1/0 in any case; JSON Schema patterns have no case-insensitive flag.
        return {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"}
    return {key: value for key, value in branch.items() if key != "title"}


def component_parameters() -> dict[str, Schema]:
    parameters: dict[str, Schema] = {
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
        parameters[f"genesys.{name}"] = {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"Genesys context `{name}`; the body's `genesys.{name}` wins over this.",
            "schema": _query_schema(field_schema),
        }
    return parameters


def _parameter_refs(names: list[str]) -> list[Schema]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


# Operations, one builder per route function of the handler


def _create_call(method: str) -> Schema:
    genesys = [f"genesys.{name}" for name in GenesysContext.model_fields]
    return {
        "operationId": "createCall",
        "summary": "Create a call",
        "description": "Creates a video call and returns the join links. Every body field is optional: no "
        "body, or `{}`, creates a call with the app's active preset or the built-in defaults. The body is "
        "read as JSON whatever the `Content-Type` (browsers may send `text/plain` to avoid a preflight). "
        f"Checks run in this order: size, JSON, credentials, fields, preset. {CREDENTIALS_NOTE}",
        "security": [
            {"appIdHeader": [], "widgetKeyHeader": []},
            {"appIdQuery": [], "widgetKeyQuery": []},
        ],
        "parameters": _parameter_refs(["IdempotencyKey", "Origin", *genesys]),
        "requestBody": {
            "required": False,
            "content": {JSON: {"schema": {"$ref": REF.format(model="CreateCallRequest")}}},
        },
        "responses": {
            "201": {
                "description": "The call was created (or, with `Idempotent-Replayed: true`, this is the "
                "stored answer to the first request with this `Idempotency-Key`).",
                "headers": _headers(*COMMON_HEADERS, "Idempotent-Replayed"),
                "content": {JSON: {"schema": {"$ref": REF.format(model="CallCreated")}}},
            },
            **_error_refs(CREATE_CALL_ERROR_STATUSES),
        },
    }


def _preflight(method: str) -> Schema:
    return {
        "operationId": "preflightCreateCall",
        "summary": "CORS preflight",
        "description": "Answers a browser's preflight. It carries no credentials, so it cannot check the "
        "app; the POST that follows is checked.",
        "security": [],
        "parameters": [
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
        ],
        "responses": {
            "204": {
                "description": "The methods and headers a browser may use on this path.",
                "headers": {
                    **_headers(*COMMON_HEADERS),
                    "Access-Control-Allow-Methods": _header(
                        "Always `POST, OPTIONS`.",
                        {"type": "string", "examples": ["POST, OPTIONS"]},
                        required=True,
                    ),
                    "Access-Control-Allow-Headers": _header(
                        "The request headers a browser may send.",
                        {"type": "string", "examples": [handler.CORS_ALLOW_HEADERS]},
                        required=True,
                    ),
                    "Access-Control-Max-Age": _header(
                        "Seconds a browser may cache this answer.",
                        {"type": "integer", "minimum": 0, "examples": [int(handler.CORS_MAX_AGE_SECONDS)]},
                        required=True,
                    ),
                },
            },
            **_error_refs((500,)),
        },
    }


OPERATION_BUILDERS: dict[Callable[..., Any], Callable[[str], Schema]] = {
    handler.create_call: _create_call,
    handler.preflight: _preflight,
}
# Routes whose only answer is 405: not operations a client can use, so they are not listed as
# operations (a fuzzer would rightly call a 405 to a "valid" request a failure); the path's
# description names them, and the 405 response is in components.
REFUSING_ROUTES: frozenset[Callable[..., Any]] = frozenset()
# OpenAPI's order of methods in a path item, so the document reads the same way every time.
METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def handler_routes() -> list[tuple[str, str, Callable[..., Any]]]:
    """(path, method, function) of every route registered on the handler's resolver."""
    # Powertools has no public listing of routes; its own OpenAPI generator reads these two lists too.
    routes = [*handler.app._static_routes, *handler.app._dynamic_routes]
    return [(route.path, route.method.upper(), route.func) for route in routes]


def paths() -> dict[str, Schema]:
    operations: dict[str, dict[str, Schema]] = {}
    refused: dict[str, list[str]] = {}
    for path, method, function in handler_routes():
        if function in REFUSING_ROUTES:
            refused.setdefault(path, []).append(method)
            continue
        builder = OPERATION_BUILDERS.get(function)
        if builder is None:
            raise LookupError(
                f"route {method} {path} -> {function.__name__} has no OpenAPI description; "
                "add one to openapi_spec.spec.OPERATION_BUILDERS"
            )
        operations.setdefault(path, {})[method.lower()] = builder(method)
    items: dict[str, Schema] = {}
    for path, by_method in sorted(operations.items()):
        item: Schema = {}
        if path in refused:
            methods = sorted(refused[path], key=lambda name: METHOD_ORDER.index(name.lower()))
            item["description"] = (
                f"Any other method ({', '.join(methods)}) answers 405 `METHOD_NOT_ALLOWED` "
                "(`#/components/responses/Error405`)."
            )
        item.update({method: by_method[method] for method in METHOD_ORDER if method in by_method})
        items[path] = item
    return items


def bodiless_responses(items: dict[str, Schema]) -> list[str]:
    """The documented responses without a body, as `STATUS` of `METHOD path` (summary)."""
    found = []
    for path, item in items.items():
        for method, operation in item.items():
            if method == "description":
                continue
            for status, response in operation["responses"].items():
                if "$ref" not in response and "content" not in response:
                    found.append(f"the `{status}` of `{method.upper()} {path}` ({operation['summary']})")
    return found


def info_description(items: dict[str, Schema]) -> str:
    bodiless = bodiless_responses(items)
    if bodiless:
        verb = "has" if len(bodiless) == 1 else "have"
        exceptions = f"{', '.join(bodiless)} {verb} no body and no `Content-Type`"
    else:
        exceptions = "every documented response has one"
    return INFO_DESCRIPTION.format(credentials=CREDENTIALS_NOTE, bodiless=exceptions)


def build_spec() -> Schema:
    items = paths()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Video Calls API",
            "version": API_VERSION,
            "description": info_description(items),
        },
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
