"""The signaling token: what a join hands the page to open the call's WebSocket, once, soon.

Issued by the join (calls.join) and verified by the signaling function's authorizer
(signaling.connect), with the same key: `SIGNALING_TOKEN_KEY` (calls.settings). A token names
one call and one role, carries a random nonce (what makes it single-use: the authorizer records
each nonce it accepts) and its expiry, and an HMAC-SHA256 tag over all of these with the version:

    v1.{callId}.{role}.{nonce}.{expiresAt}.{tag}

Every part is URL-safe (base64url without padding, digits, a UUID), so the page puts the token in
the socket's query string as it is. Clients treat it as opaque: its shape may change with its
version. Issuing it costs no request: the join stays one GetItem.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

FORMAT_VERSION = "v1"
TOKEN_LIFETIME_SECONDS = 60
TOKEN_ROLES = ("agent", "guest")
# 128 random bits, base64url: 22 characters.
NONCE_BYTES = 16
# An issued token is about 140 characters; anything much longer is not one, and is refused
# before it is hashed.
MAX_TOKEN_LENGTH = 256

_CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
_EXPIRY = re.compile(r"[1-9][0-9]{0,11}")


class InvalidSignalingToken(ValueError):
    """The token is missing, malformed, not signed with this key, or expired. `reason` is for the
    logs only: every refusal looks the same to the client."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignalingToken:
    """What a valid token grants: one connection to `call_id` as `role`, until `expires_at`."""

    call_id: str
    role: str
    nonce: str
    expires_at: int  # epoch seconds

    @property
    def use_key(self) -> str:
        """What records the token as used: a digest of its nonce (the nonce itself is never stored)."""
        return hashlib.sha256(self.nonce.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int  # epoch seconds


def issue_token(key: bytes, call_id: str, role: str, now: float) -> IssuedToken:
    """A token for one connection to `call_id` as `role`, valid TOKEN_LIFETIME_SECONDS from `now`."""
    if role not in TOKEN_ROLES:
        raise ValueError(f"no signaling role {role!r}")
    nonce = base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).rstrip(b"=").decode("ascii")
    expires_at = int(now) + TOKEN_LIFETIME_SECONDS
    signed = f"{FORMAT_VERSION}.{call_id}.{role}.{nonce}.{expires_at}"
    return IssuedToken(token=f"{signed}.{_tag(key, signed)}", expires_at=expires_at)


def verify_token(key: bytes, token: str | None, now: float) -> SignalingToken:
    """The grant of a token this key signed and that has not expired; InvalidSignalingToken otherwise.

    The tag is compared in constant time, and before any part is trusted: an edited, truncated
    or extended token, or one of another key, fails there whatever was changed.
    """
    if not token:
        raise InvalidSignalingToken("missing")
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidSignalingToken("malformed")
    signed, _, tag = token.rpartition(".")
    if not hmac.compare_digest(_tag(key, signed).encode("ascii"), tag.encode("ascii")):
        raise InvalidSignalingToken("bad signature")
    parts = signed.split(".")
    if len(parts) != 5 or parts[0] != FORMAT_VERSION:
        raise InvalidSignalingToken("malformed")
    _, call_id, role, nonce, expiry = parts
    if not (
        _CALL_ID.fullmatch(call_id)
        and role in TOKEN_ROLES
        and _NONCE.fullmatch(nonce)
        and _EXPIRY.fullmatch(expiry)
    ):
        raise InvalidSignalingToken("malformed")
    expires_at = int(expiry)
    if now >= expires_at:
        raise InvalidSignalingToken("expired")
    return SignalingToken(call_id=call_id, role=role, nonce=nonce, expires_at=expires_at)


def _tag(key: bytes, signed: str) -> str:
    digest = hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
