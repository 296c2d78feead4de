"""`callsctl apps set-host-links` on DynamoDB Local, and its effect on the API the local server serves."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from callsctl.store import AdminStore

from tests.integration.conftest import LocalApi
from tests.integration.test_callsctl import Ctl, create_app, ctl, one_line_error, post_call, raw_app_item

pytestmark = pytest.mark.integration

__all__ = ["ctl"]  # the fixture, shared with test_callsctl


def test_a_new_app_has_widget_key_host_links(ctl: Ctl) -> None:
    app = create_app(ctl)
    assert ctl.json("apps", "show", app.app_id)["hostLinks"] == "widgetKey"
    assert "widgetKey (host links carry the app's widget key)" in ctl.ok("apps", "show", app.app_id).stdout


def test_set_host_links_switches_the_mode_and_says_when_nothing_changed(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    assert ctl.json("apps", "set-host-links", app.app_id, "host-key") == {
        "appId": app.app_id,
        "hostLinks": "hostKey",
        "changed": True,
    }
    item = raw_app_item(admin, app.app_id)
    assert item is not None
    assert item["hostLinks"] == {"S": "hostKey"}
    assert admin.get_app(app.app_id).host_links == "hostKey"
    shown = ctl.json("apps", "show", app.app_id)
    assert shown["hostLinks"] == "hostKey"
    assert "hostKey (host links carry a per-call host key)" in ctl.ok("apps", "show", app.app_id).stdout
    listed = {entry["appId"]: entry for entry in ctl.json("apps", "list")}
    assert listed[app.app_id]["hostLinks"] == "hostKey"

    again = ctl.ok("apps", "set-host-links", app.app_id, "host-key").stdout
    assert "already" in again
    assert ctl.json("apps", "set-host-links", app.app_id, "host-key")["changed"] is False

    assert ctl.json("apps", "set-host-links", app.app_id, "widget-key")["changed"] is True
    assert admin.get_app(app.app_id).host_links == "widgetKey"
    # The rest of the app is untouched.
    assert admin.get_app(app.app_id).keys[0].key_id == app.key_id


def test_set_host_links_refuses_other_words_and_unknown_apps(ctl: Ctl, admin: AdminStore) -> None:
    app = create_app(ctl)
    for word in ("hostKey", "widgetKey", "host_key", "none", ""):
        result = ctl.fails(2, "apps", "set-host-links", app.app_id, word)
        assert "widget-key" in result.stderr
    ctl.fails(2, "apps", "set-host-links", app.app_id)
    assert admin.get_app(app.app_id).host_links == "widgetKey"

    missing = ctl.fails(1, "apps", "set-host-links", "app_missing", "host-key")
    assert one_line_error(missing) == "Error: app 'app_missing' not found"
    assert not admin.app_exists("app_missing")


def test_the_help_names_both_modes(ctl: Ctl) -> None:
    shown = ctl.ok("apps", "set-host-links", "--help").stdout
    assert "widget-key" in shown
    assert "host-key" in shown
    assert "set-host-links" in ctl.ok("apps", "--help").stdout


def test_the_api_follows_the_mode(ctl: Ctl, local_api: LocalApi) -> None:
    app = create_app(ctl)

    def host_link_query() -> dict[str, list[str]]:
        result = post_call(local_api, app.app_id, app.widget_key)
        assert result.status == 201, result.raw
        return parse_qs(urlsplit(result.body["data"]["hostJoinUrl"]).query)

    assert host_link_query() == {"role": ["agent"], "appId": [app.app_id], "widgetKey": [app.widget_key]}
    ctl.ok("apps", "set-host-links", app.app_id, "host-key")
    assert set(host_link_query()) == {"role", "hostKey"}
    ctl.ok("apps", "set-host-links", app.app_id, "widget-key")
    assert "widgetKey" in host_link_query()
