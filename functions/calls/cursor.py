"""List cursors: opaque to callers, and good only for the app and filters they were issued for.

A cursor holds where the last page stopped (the last call's createdAt and callId) and an
HMAC-SHA256 tag over that position *and* the app and filters of the listing. An edited,
truncated or foreign cursor fails the tag check and answers 400 INVALID_CURSOR. The app and
the conversation of the next Query always come from the authenticated request, never from
the cursor, so even a forged tag could not read outside the caller's own calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from binascii import Error as Base64Error
from dataclasses import dataclass

from calls.errors import InvalidCursor
from calls.models import PageKey

MAX_CURSOR_LENGTH = 1024
_TAG_BYTES = 16


@dataclass(frozen=True)
class CursorScope:
    """What a cursor is good for: the listing's app and filters."""

    app_id: str
    status: str | None
    conversation_id: str | None

    def encoded(self) -> bytes:
        fields = ["v1", self.app_id, self.status, self.conversation_id]
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")


def _tag(key: bytes, scope: bytes, position: bytes) -> bytes:
    return hmac.new(key, scope + b"\n" + position, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_cursor(key: bytes, position: PageKey, scope: CursorScope) -> str:
    raw = json.dumps([position.created_at, position.call_id], separators=(",", ":")).encode("utf-8")
    tag = _tag(key, scope.encoded(), raw)
    return f"{_b64(raw)}.{_b64(tag)}"


def open_cursor(key: bytes, cursor: str, scope: CursorScope) -> PageKey:
    """The position a cursor holds, if this API issued it for this app and these filters."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise ValueError
        encoded_position, encoded_tag = cursor.split(".")
        raw, tag = _unb64(encoded_position), _unb64(encoded_tag)
        # The decoder skips stray characters; only the exact spelling this API issued counts.
        if _b64(raw) != encoded_position or _b64(tag) != encoded_tag:
            raise ValueError
    except (ValueError, Base64Error):
        raise InvalidCursor() from None
    if not hmac.compare_digest(tag, _tag(key, scope.encoded(), raw)):
        raise InvalidCursor()
    created_at, call_id = json.loads(raw)
    return PageKey(created_at=created_at, call_id=call_id)
