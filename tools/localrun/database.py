"""Tables and demo data on a DynamoDB-compatible endpoint, for the local run and the tests."""

from __future__ import annotations

from callsctl.store import AdminStore, TableNames

from localrun.demo import seed_demo_data


def admin_store(endpoint_url: str | None, names: TableNames | None = None) -> AdminStore:
    import boto3
    from calls.settings import get_settings

    # Read afresh, not through the cache: a test building its store before setting the
    # handler's configuration must not fix that configuration for the handler.
    settings = get_settings.__wrapped__()
    names = names or TableNames.from_environment()
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    return AdminStore(client, names, settings.join_base_url)


def prepare_database(store: AdminStore) -> list[str]:
    """Create missing tables and add missing indexes, then seed the demo data where it is
    missing. Returns the tables and indexes it made (AdminStore.ensure_tables)."""
    made = store.ensure_tables()
    seed_demo_data(store)
    return made
