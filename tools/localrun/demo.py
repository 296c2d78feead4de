"""The fixed demo data of the local run, so that the README's curl examples work as printed."""

from __future__ import annotations

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
    """Create the demo apps, keys and presets where they are missing; True if anything was created."""
    created = False
    if not store.app_exists(DEMO_APP_ID):
        store.put_app(DEMO_APP_ID, name="Demo app", active_preset_id="default")
        store.add_key(DEMO_APP_ID, "demo", DEMO_WIDGET_KEY)
        created = True
    for preset_id, settings in DEMO_PRESETS.items():
        if not store.preset_exists(DEMO_APP_ID, preset_id):
            store.put_preset(DEMO_APP_ID, preset_id, settings)
            created = True
    if not store.app_exists(DISABLED_APP_ID):
        store.put_app(DISABLED_APP_ID, name="Disabled demo app", status="disabled")
        store.add_key(DISABLED_APP_ID, "demo", DISABLED_WIDGET_KEY)
        created = True
    return created
