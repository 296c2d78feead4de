"""What an operator types, checked with the API's own constraints (calls.models), never restated here."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from calls.jsontext import JsonTooDeep, dumps_exact, loads_exact, nesting_depth
from calls.models import (
    ACCENT_COLOR_PATTERN,
    LANGUAGE_TAG_PATTERN,
    LOGO_URL_MAX_LENGTH,
    LOGO_URL_PATTERN,
    METADATA_MAX_BYTES,
    METADATA_MAX_DEPTH,
    DisplayName,
    PresetId,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class InvalidInput(ValueError):
    """An operator's value that the API would refuse; the message says why, in one line."""


def normalize_origin(value: str) -> str:
    """An origin as browsers send it: http(s)://host[:port], lower case, no default port, no path.

    The API compares the Origin header with the stored values exactly, so what is stored
    must be the browser's serialization, or it would never match.
    """
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{value!r} is not an origin: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise ValueError(f"{value!r} is not an origin: expected http(s)://host[:port]")
    if parts.path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(f"{value!r} is not an origin: no path, query or trailing slash allowed")
    if "@" in parts.netloc:
        raise ValueError(f"{value!r} is not an origin: no user name or password allowed")
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6, bracketed in the netloc
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError(f"{value!r} is not an origin: bad IPv6 address") from None
    elif not _HOST_NAME.match(host):
        raise ValueError(f"{value!r} is not an origin: bad host name (write international names in punycode)")
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


AllowedOrigin = Annotated[str, AfterValidator(normalize_origin)]


class Branding(BaseModel):
    """The call page's branding, as the join answer returns it."""

    model_config = ConfigDict(extra="forbid")

    logoUrl: (
        Annotated[
            str, StringConstraints(strict=True, pattern=LOGO_URL_PATTERN, max_length=LOGO_URL_MAX_LENGTH)
        ]
        | None
    ) = None
    accentColor: Annotated[str, StringConstraints(strict=True, pattern=ACCENT_COLOR_PATTERN)] | None = None


class PresetSettings(BaseModel):
    """A preset's settings: the four the API knows, with the request's limits, the call page's
    language and branding, and any further ones."""

    model_config = ConfigDict(extra="allow")

    hostName: DisplayName | None = None
    guestName: DisplayName | None = None
    recordOnStart: StrictBool | None = None
    previewEnabled: StrictBool | None = None
    language: Annotated[str, StringConstraints(strict=True, pattern=LANGUAGE_TAG_PATTERN)] | None = None
    branding: Branding | None = None


_PRESET_ID = TypeAdapter(PresetId)
_APP_NAME = TypeAdapter(DisplayName)
_ORIGIN = TypeAdapter(AllowedOrigin)


def _one_line(error: ValidationError, subject: str | None = None) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    joined = "; ".join(problems)
    return f"{subject}: {joined}" if subject else joined


def preset_id(value: str) -> str:
    try:
        return _PRESET_ID.validate_python(value)
    except ValidationError as error:
        raise InvalidInput(_one_line(error, f"invalid preset id {value!r}")) from None


def app_name(value: str) -> str:
    try:
        return _APP_NAME.validate_python(value)
    except ValidationError as error:
        raise InvalidInput(_one_line(error, "invalid app name")) from None


def origin(value: str) -> str:
    try:
        return _ORIGIN.validate_python(value)
    except ValidationError as error:
        raise InvalidInput(_one_line(error)) from None


def preset_settings(settings: Any) -> dict[str, Any]:
    """Validated settings as they will be stored: known fields checked, unset ones left out.

    Every call made with the preset copies its further settings, so they get the
    metadata's size and depth limits.
    """
    if not isinstance(settings, dict):
        raise InvalidInput("preset settings must be a JSON object")
    try:
        model = PresetSettings.model_validate(settings)
    except ValidationError as error:
        raise InvalidInput(_one_line(error, "invalid preset settings")) from None
    validated = {name: value for name, value in model.model_dump().items() if value is not None}
    if model.branding is not None:
        validated["branding"] = model.branding.model_dump(exclude_none=True)
    if nesting_depth(validated) > METADATA_MAX_DEPTH:
        raise InvalidInput(f"preset settings are nested more than {METADATA_MAX_DEPTH} levels deep")
    if len(dumps_exact(validated).encode("utf-8")) > METADATA_MAX_BYTES:
        raise InvalidInput(f"preset settings are larger than {METADATA_MAX_BYTES} bytes as compact JSON")
    return validated


def settings_from_json(text: str) -> dict[str, Any]:
    """Settings from a JSON document; numbers keep their exact value."""
    try:
        parsed = loads_exact(text)
    except JsonTooDeep:
        raise InvalidInput("the settings file is nested too deeply") from None
    except ValueError as error:
        raise InvalidInput(f"the settings file is not valid JSON: {error}") from None
    return preset_settings(parsed)


def conversation_id(value: str) -> str:
    """A Genesys conversationId as the list's query parameter takes it (calls.models)."""
    from calls.models import ListCallsQuery

    if not value:
        raise InvalidInput("the conversation id must not be empty")
    try:
        ListCallsQuery.model_validate({"conversationId": value})
    except ValidationError as error:
        raise InvalidInput(f"conversation id: {error.errors()[0]['msg']}") from None
    return value
