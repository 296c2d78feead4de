"""Tables and demo data on a DynamoDB-compatible endpoint, for the local run and the tests."""

from __future__ import annotations

from callsctl.store import AdminStore, TableNames

from localrun.demo import seed_demo_data


def admin_store(endpoint_url: str | None, names: TableNames | None = None) -> AdminStore:
    import boto3
    from callevents.settings import webhooks_table_name
    from calls.settings import get_settings

    if names is None:
        settings = get_settings()
        names = TableNames(
            apps=settings.apps_table_name,
            calls=settings.calls_table_name,
            idempotency=settings.idempotency_table_name,
            webhooks=webhooks_table_name(),
        )
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    return AdminStore(client, names)


def prepare_database(store: AdminStore) -> None:
    """Create missing tables, then seed the demo data where it is missing."""
    store.ensure_tables()
    seed_demo_data(store)
