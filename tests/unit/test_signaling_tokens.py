"""The signaling token (calls.signaling_tokens): what the join issues and the authorizer verifies."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from calls.signaling_tokens import (
    TOKEN_LIFETIME_SECONDS,
    InvalidSignalingToken,
    issue_token,
    verify_token,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 1_795_476_600.25
CALL_ID = str(uuid.uuid4())
URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_token_verifies_to_its_call_role_and_expiry() -> None:
    issued = issue_token(KEY, CALL_ID, "guest", NOW)
    granted = verify_token(KEY, issued.token, NOW)
    assert (granted.call_id, granted.role, granted.expires_at) == (CALL_ID, "guest", int(NOW) + 60)
    assert issued.expires_at == granted.expires_at
    assert TOKEN_LIFETIME_SECONDS == 60
    assert verify_token(KEY, issue_token(KEY, CALL_ID, "agent", NOW).token, NOW).role == "agent"


def test_a_token_is_url_safe_and_each_one_is_new() -> None:
    tokens = {issue_token(KEY, CALL_ID, "guest", NOW).token for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert set(token) <= URL_SAFE
        assert len(token) < 200


def test_each_token_has_its_own_use_key_which_is_not_its_nonce() -> None:
    first = verify_token(KEY, issue_token(KEY, CALL_ID, "guest", NOW).token, NOW)
    second = verify_token(KEY, issue_token(KEY, CALL_ID, "guest", NOW).token, NOW)
    assert first.use_key != second.use_key
    assert first.nonce not in first.use_key
    assert first.use_key == hashlib.sha256(first.nonce.encode()).hexdigest()


def test_it_is_valid_for_sixty_seconds_only() -> None:
    token = issue_token(KEY, CALL_ID, "guest", NOW).token
    assert verify_token(KEY, token, NOW + 59.7).call_id == CALL_ID
    for later in (int(NOW) + 60, NOW + 61, NOW + 3600):
        with pytest.raises(InvalidSignalingToken) as refused:
            verify_token(KEY, token, later)
        assert refused.value.reason == "expired"


def test_another_keys_token_is_refused() -> None:
    with pytest.raises(InvalidSignalingToken) as refused:
        verify_token(KEY, issue_token(OTHER_KEY, CALL_ID, "guest", NOW).token, NOW)
    assert refused.value.reason == "bad signature"


def test_every_single_character_edit_is_refused() -> None:
    token = issue_token(KEY, CALL_ID, "agent", NOW).token
    for index, original in enumerate(token):
        replacement = next(char for char in sorted(URL_SAFE) if char != original)
        with pytest.raises(InvalidSignalingToken):
            verify_token(KEY, token[:index] + replacement + token[index + 1 :], NOW)


def test_every_truncation_and_extension_is_refused() -> None:
    token = issue_token(KEY, CALL_ID, "guest", NOW).token
    for length in range(len(token)):
        with pytest.raises(InvalidSignalingToken):
            verify_token(KEY, token[:length], NOW)
    for extra in ("A", ".", ".x", "=="):
        with pytest.raises(InvalidSignalingToken):
            verify_token(KEY, token + extra, NOW)


def test_a_changed_role_or_call_or_expiry_is_refused_even_re_signed_with_another_key() -> None:
    """The tag covers every part: the guest's token is no agent's, and no other call's."""
    token = issue_token(KEY, CALL_ID, "guest", NOW).token
    for edited in (
        token.replace(".guest.", ".agent."),
        token.replace(CALL_ID, str(uuid.uuid4())),
        token.replace(f".{int(NOW) + 60}.", f".{int(NOW) + 6000}."),
        token.replace("v1.", "v2.", 1),
    ):
        assert edited != token
        with pytest.raises(InvalidSignalingToken):
            verify_token(KEY, edited, NOW)


def _signed(key: bytes, payload: str) -> str:
    import base64

    tag = base64.urlsafe_b64encode(hmac.new(key, payload.encode(), hashlib.sha256).digest()).rstrip(b"=")
    return f"{payload}.{tag.decode()}"


@pytest.mark.parametrize(
    "payload",
    [
        f"v1.{CALL_ID}.host.AAAAAAAAAAAAAAAAAAAAAA.{int(NOW) + 60}",  # no such role
        f"v1.not-a-call.guest.AAAAAAAAAAAAAAAAAAAAAA.{int(NOW) + 60}",
        f"v1.{CALL_ID}.guest.short.{int(NOW) + 60}",
        f"v1.{CALL_ID}.guest.AAAAAAAAAAAAAAAAAAAAAA.soon",
        f"v1.{CALL_ID}.guest.AAAAAAAAAAAAAAAAAAAAAA",
        f"v2.{CALL_ID}.guest.AAAAAAAAAAAAAAAAAAAAAA.{int(NOW) + 60}",
    ],
)
def test_a_well_signed_token_of_the_wrong_shape_is_refused(payload: str) -> None:
    with pytest.raises(InvalidSignalingToken) as refused:
        verify_token(KEY, _signed(KEY, payload), NOW)
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize("bad", [None, "", ".", "a.b.c.d.e.f", "é" * 10, "x" * 5000, "v1." + "A" * 300])
def test_garbage_is_refused(bad: str | None) -> None:
    with pytest.raises(InvalidSignalingToken):
        verify_token(KEY, bad, NOW)


def test_the_tag_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("calls.signaling_tokens.hmac.compare_digest", spy)
    token = issue_token(KEY, CALL_ID, "guest", NOW).token
    verify_token(KEY, token, NOW)
    with pytest.raises(InvalidSignalingToken):
        verify_token(KEY, token[:-1] + ("A" if token[-1] != "A" else "B"), NOW)
    assert len(compared) == 2


def test_no_token_for_a_role_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="role"):
        issue_token(KEY, CALL_ID, "host", NOW)
