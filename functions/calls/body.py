"""The request body: size first, then JSON whatever the Content-Type, and only an object."""

from __future__ import annotations

from binascii import Error as Base64Error
from json import JSONDecodeError
from typing import Any

from calls.errors import InvalidBody, InvalidJson, PayloadTooLarge
from calls.jsontext import JsonTooDeep, has_lone_surrogate, loads_exact
from calls.models import MAX_BODY_BYTES

_JSON_WHITESPACE = b" \t\r\n"  # RFC 8259's four; bytes.strip() would take \x0b and \x0c too


def parse_body(raw: bytes) -> dict[str, Any]:
    """No body or blank means {}; JSON whatever the Content-Type; only an object is a body."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    if not raw.strip(_JSON_WHITESPACE):
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJson(f"The request body is not valid UTF-8 (at byte {error.start + 1}).") from None
    try:
        payload = loads_exact(text)
    except JsonTooDeep:
        raise InvalidJson("The request body is nested too deeply.") from None
    except JSONDecodeError as error:
        # Where the JSON broke, as an editor counts: the parser's own words and position.
        raise InvalidJson(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except ValueError:
        raise InvalidJson() from None
    if not isinstance(payload, dict):
        raise InvalidBody()
    if b"\\ud" in raw.lower() and has_lone_surrogate(payload):
        raise InvalidJson("The request body holds an unpaired surrogate escape.")
    return payload


def decode_base64_body(text: str) -> bytes:
    import base64

    try:
        return base64.b64decode(text, validate=True)
    except (Base64Error, ValueError):
        raise InvalidJson("The request body is not valid base64.") from None
