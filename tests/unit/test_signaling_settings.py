"""The join's signaling settings (calls.settings): the socket's URL and the token key."""

from __future__ import annotations

import pytest
from calls.settings import ConfigurationError, get_settings


@pytest.mark.parametrize(
    ("join_base_url", "signaling_url"),
    [
        (None, "wss://video.apifycloud.io/ws"),
        ("https://calls.example.com/", "wss://calls.example.com/ws"),
        ("http://127.0.0.1:3000", "ws://127.0.0.1:3000/ws"),
        ("https://example.com/video", "wss://example.com/video/ws"),
    ],
)
def test_the_socket_is_on_the_join_links_origin_by_default(
    monkeypatch: pytest.MonkeyPatch, join_base_url: str | None, signaling_url: str
) -> None:
    if join_base_url is not None:
        monkeypatch.setenv("JOIN_BASE_URL", join_base_url)
    get_settings.cache_clear()
    assert get_settings().signaling_url == signaling_url


def test_signaling_url_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOIN_BASE_URL", "https://video.example")
    monkeypatch.setenv("SIGNALING_URL", "wss://signal.example/prod/")
    get_settings.cache_clear()
    assert get_settings().signaling_url == "wss://signal.example/prod"


@pytest.mark.parametrize("bad", ["https://signal.example/ws", "wss://", "ws:/x", "signal.example"])
def test_a_signaling_url_that_is_no_websocket_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("SIGNALING_URL", bad)
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SIGNALING_URL"):
        get_settings()


def test_the_token_key_is_the_configured_one_or_random_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    first = get_settings().signaling_token_key
    get_settings.cache_clear()
    second = get_settings().signaling_token_key
    assert len(first) == 32
    assert first != second
    assert first != get_settings().cursor_signing_key

    monkeypatch.setenv("SIGNALING_TOKEN_KEY", "k" * 32)
    get_settings.cache_clear()
    assert get_settings().signaling_token_key == b"k" * 32


def test_a_short_token_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALING_TOKEN_KEY", "k" * 31)
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SIGNALING_TOKEN_KEY must be at least 32 characters"):
        get_settings()
