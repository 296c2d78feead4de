"""The fixed demo data of the local run, so that the README's curl examples work as printed."""

from __future__ import annotations

from callsctl.inputs import preset_settings
from callsctl.store import AdminStore

DEMO_APP_ID = "demo-app"
DEMO_WIDGET_KEY = "demo-widget-key"
DISABLED_APP_ID = "disabled-app"
DISABLED_WIDGET_KEY = "disabled-widget-key"

DEMO_PRESETS = {
    "default": {
        "hostName": "Host",
        "guestName": "Guest",
        "recordOnStart": False,
        "previewEnabled": True,
    },
    "support": {
        "hostName": "Support Agent",
        "guestName": "Customer",
        "recordOnStart": True,
        "previewEnabled": False,
    },
}


def seed_demo_data(store: AdminStore) -> bool:
    """Create the demo apps, keys and presets where they are missing; True if anything was created.

    Every write is the one the matching `callsctl` command makes (apps create, presets put,
    apps set-preset, apps disable); only the ids and keys are fixed, so the README works as printed.
    """
    created = False
    if not store.app_exists(DEMO_APP_ID):
        store.create_app("Demo app", app_id=DEMO_APP_ID, key_id="demo", widget_key=DEMO_WIDGET_KEY)
        created = True
    for preset_id, settings in DEMO_PRESETS.items():
        if not store.preset_exists(DEMO_APP_ID, preset_id):
            store.put_preset(DEMO_APP_ID, preset_id, preset_settings(settings))
            created = True
    if store.get_app(DEMO_APP_ID).active_preset_id is None:
        store.set_active_preset(DEMO_APP_ID, "default")
        created = True
    if not store.app_exists(DISABLED_APP_ID):
        store.create_app(
            "Disabled demo app", app_id=DISABLED_APP_ID, key_id="demo", widget_key=DISABLED_WIDGET_KEY
        )
        created = True
    if store.set_status(DISABLED_APP_ID, "disabled"):
        created = True
    return created
