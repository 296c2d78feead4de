"""Operator-side access to the tables: apps, widget keys, presets and calls.

Used by `callsctl`, the local runner's seeding and the tests. Never shipped in the Lambda.
Each method is one operator action; failures the operator can act on are `StoreError`s.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calls import items, tables
from calls.access import widget_key_digest
from calls.models import HOST_LINK_MODES, HOST_LINKS_WIDGET_KEY, CallRecord, PageKey
from calls.settings import DEFAULT_JOIN_BASE_URL

if TYPE_CHECKING:
    from calls.repository import Repository
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The Lambda's own digest, so a stored key and a presented key can only ever hash alike.
key_digest = widget_key_digest

# How much of a digest an operator may see: enough to tell keys apart, useless to an attacker.
DIGEST_PREFIX_LENGTH = 8


@dataclass(frozen=True)
class TableNames:
    apps: str
    calls: str
    idempotency: str
    webhooks: str = tables.WEBHOOKS.default_name
    connections: str = tables.CONNECTIONS.default_name
    recordings: str = tables.RECORDINGS.default_name

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TableNames:
        """The names the functions read from the same environment (calls.tables.table_name)."""
        return cls(**{schema.purpose: tables.table_name(schema, environ) for schema in tables.ALL_TABLES})

    def for_schema(self, schema: tables.TableSchema) -> str:
        name: str = getattr(self, schema.purpose)
        return name


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_app_id() -> str:
    return f"app_{secrets.token_hex(8)}"


def new_key_id() -> str:
    return f"key_{secrets.token_hex(4)}"


def new_widget_key() -> str:
    """256 random bits; the prefix lets secret scanners and people recognise a widget key."""
    return f"wk_{secrets.token_urlsafe(32)}"


class StoreError(Exception):
    """A failure the operator can act on; the message is one line."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    pass


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    digest_prefix: str
    created_at: str | None


@dataclass(frozen=True)
class AppInfo:
    app_id: str
    name: str
    status: str
    created_at: str | None
    active_preset_id: str | None
    allowed_origins: tuple[str, ...]
    keys: tuple[KeyInfo, ...]
    host_links: str = HOST_LINKS_WIDGET_KEY


@dataclass(frozen=True)
class PresetInfo:
    app_id: str
    preset_id: str
    settings: dict[str, Any]
    updated_at: str | None


@dataclass(frozen=True)
class NewKey:
    """A widget key just made: the only moment its clear text exists outside the caller's hands."""

    app_id: str
    key_id: str
    widget_key: str
    created_at: str


@dataclass(frozen=True)
class CallListing:
    calls: list[CallRecord]
    more: bool  # the listing stopped at its limit with calls possibly left


@dataclass(frozen=True)
class EndedCall:
    call: CallRecord
    ended_now: bool  # False: it had been ended before, and keeps its first endedAt


@dataclass(frozen=True)
class NewApp:
    app_id: str
    name: str
    status: str
    allowed_origins: tuple[str, ...]
    key: NewKey


@dataclass(frozen=True)
class RecordingsBucket:
    """Where recordings are kept: the bucket, and an S3-compatible endpoint (None: AWS's)."""

    name: str
    endpoint_url: str | None = None
    # Makes a session's S3 client (the target's credentials), only for the commands that need
    # one; without it, a client is made from the endpoint.
    make_client: Callable[[], Any] | None = None


class AdminStore:
    def __init__(
        self,
        client: DynamoDBClient,
        names: TableNames,
        join_base_url: str = DEFAULT_JOIN_BASE_URL,
        recordings_bucket: RecordingsBucket | None = None,
    ):
        self.client = client
        self.names = names
        # The base of the guest links the call view shows (the function's JOIN_BASE_URL).
        self.join_base_url = join_base_url.rstrip("/")
        self.recordings_bucket = recordings_bucket

    # Tables

    def ensure_tables(self) -> list[str]:
        """Create the missing tables (with TTL where the schema has one), and add to the existing
        ones the stream and the indexes their schema gained since they were made: a database
        kept in `.local` outlives schema changes. Returns what it made: table names, and
        `TABLE/index/INDEX` for each index added."""
        existing = set(self._all_table_names())
        created: list[str] = []
        for schema in tables.ALL_TABLES:
            name = self.names.for_schema(schema)
            if name in existing:
                self._ensure_stream(schema, name)
                created.extend(f"{name}/index/{index}" for index in self.add_missing_indexes(schema, name))
                continue
            self.client.create_table(**tables.create_table_request(schema, name))
            self.client.get_waiter("table_exists").wait(TableName=name)
            if schema.ttl_attribute:
                self.client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "Enabled": True,
                        "AttributeName": schema.ttl_attribute,
                    },
                )
            created.append(name)
        return created

    def _ensure_stream(self, schema: tables.TableSchema, name: str) -> None:
        """A table made before its schema had a stream (an older local run's data) gets it now."""
        if not schema.stream_view_type:
            return
        found = self.client.describe_table(TableName=name)["Table"].get("StreamSpecification", {})
        if found.get("StreamEnabled"):
            return
        self.client.update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": schema.stream_view_type},
        )

    def add_missing_indexes(
        self, schema: tables.TableSchema, table_name: str, *, timeout: float = 600, poll: float = 0.5
    ) -> list[str]:
        """Create each index of `schema` that the table lacks, one UpdateTable each (DynamoDB
        builds one at a time), waiting until it is ACTIVE (backfilled). Returns the names added.

        An index that exists with other keys is not changed (that would need the table rebuilt):
        it is a StoreError naming it.
        """
        wanted = tables.create_table_request(schema, table_name)
        present = {
            index["IndexName"]: index["KeySchema"]
            for index in self._describe(table_name).get("GlobalSecondaryIndexes", [])
        }
        added = []
        for index in wanted.get("GlobalSecondaryIndexes", []):
            name = index["IndexName"]
            if name in present:
                if present[name] != index["KeySchema"]:
                    raise StoreError(
                        f"index {name} of table {table_name} has other keys than calls.tables defines; "
                        "delete the table (locally: stop `make run` and remove .local/) to recreate it"
                    )
                continue
            keys = {key["AttributeName"] for key in index["KeySchema"]}
            self.client.update_table(
                TableName=table_name,
                AttributeDefinitions=[
                    definition
                    for definition in wanted["AttributeDefinitions"]
                    if definition["AttributeName"] in keys
                ],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
            self._wait_until_active(table_name, name, timeout=timeout, poll=poll)
            added.append(name)
        return added

    def _wait_until_active(self, table_name: str, index_name: str, *, timeout: float, poll: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            table = self._describe(table_name)
            status = next(
                (
                    index.get("IndexStatus")
                    for index in table.get("GlobalSecondaryIndexes", [])
                    if index["IndexName"] == index_name
                ),
                None,
            )
            if status == "ACTIVE" and table.get("TableStatus") == "ACTIVE":
                return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"index {index_name} of table {table_name} is still {status or 'missing'} "
                    f"after {timeout:g} s"
                )
            time.sleep(poll)

    def _describe(self, table_name: str) -> dict[str, Any]:
        table: dict[str, Any] = self.client.describe_table(TableName=table_name)["Table"]  # type: ignore[assignment]
        return table

    def _all_table_names(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_tables").paginate():
            yield from page.get("TableNames", [])

    # Apps

    def create_app(
        self,
        name: str,
        *,
        allowed_origins: tuple[str, ...] = (),
        app_id: str | None = None,
        key_id: str | None = None,
        widget_key: str | None = None,
    ) -> NewApp:
        """A new active app with its first widget key, in one write: never an app without a key.

        Ids and key are generated unless given (the local demo data uses fixed ones).
        """
        app_id = app_id or new_app_id()
        key = NewKey(
            app_id=app_id,
            key_id=key_id or new_key_id(),
            widget_key=widget_key or new_widget_key(),
            created_at=utc_timestamp(),
        )
        item = items.new_app_item(
            app_id, name=name, status="active", allowed_origins=allowed_origins, created_at=utc_timestamp()
        )
        item[items.WIDGET_KEYS]["M"][key.key_id] = items.widget_key_value(
            key_digest(key.widget_key), key.created_at
        )
        self._put_new(item)
        return NewApp(app_id, name, "active", allowed_origins, key)

    def put_app(
        self,
        app_id: str,
        *,
        name: str,
        status: str = "active",
        active_preset_id: str | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        """Create the app item without keys (tests build odd apps with it); refuses to replace an app."""
        item = items.new_app_item(
            app_id, name=name, status=status, allowed_origins=allowed_origins, created_at=utc_timestamp()
        )
        if active_preset_id:
            item[items.ACTIVE_PRESET_ID] = {"S": active_preset_id}
        self._put_new(item)

    def app_exists(self, app_id: str) -> bool:
        return self._get_app_item(app_id) is not None

    def get_app(self, app_id: str) -> AppInfo:
        item = self._get_app_item(app_id)
        if item is None:
            raise NotFound(f"app {app_id!r} not found")
        return _app_info(item)

    def list_apps(self) -> list[AppInfo]:
        """Every app, by id; a Scan, which is fine for an operator's occasional look."""
        request: dict[str, Any] = {
            "TableName": self.names.apps,
            "FilterExpression": "sk = :app",
            "ExpressionAttributeValues": {":app": {"S": tables.APP_ITEM_SK}},
        }
        apps: list[AppInfo] = []
        while True:
            page = self.client.scan(**request)
            apps.extend(_app_info(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(apps, key=lambda app: app.app_id)

    def set_status(self, app_id: str, status: str) -> bool:
        """Enable ("active") or disable ("disabled") the app; True if that changed its status."""
        try:
            result = self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression="SET #status = :status",
                ConditionExpression="attribute_exists(appId)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status}},
                ReturnValues="UPDATED_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None
        return result.get("Attributes", {}).get("status", {}).get("S") != status

    def set_allowed_origins(self, app_id: str, origins: tuple[str, ...]) -> None:
        """Replace the app's allowed origins; an empty tuple lets any origin call."""
        try:
            self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression=f"SET {items.ALLOWED_ORIGINS} = :origins",
                ConditionExpression="attribute_exists(appId)",
                ExpressionAttributeValues={":origins": {"L": [{"S": origin} for origin in origins]}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None

    def set_host_links(self, app_id: str, mode: str) -> bool:
        """What the app's host links carry: its widget key ("widgetKey", upstream's shape) or a
        per-call host key ("hostKey"). True if that changed the mode; calls made before keep
        their links."""
        if mode not in HOST_LINK_MODES:
            raise ValueError(f"host-link mode must be one of {HOST_LINK_MODES}, got {mode!r}")
        try:
            result = self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression=f"SET {items.HOST_LINKS} = :mode",
                ConditionExpression="attribute_exists(appId)",
                ExpressionAttributeValues={":mode": {"S": mode}},
                ReturnValues="UPDATED_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None
        before = result.get("Attributes", {}).get(items.HOST_LINKS, {}).get("S", HOST_LINKS_WIDGET_KEY)
        return before != mode

    def set_active_preset(self, app_id: str, preset_id: str) -> None:
        """Make an existing preset the app's active one; both checked in the same transaction."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": items.preset_key(app_id, preset_id),
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.names.apps,
                            "Key": items.app_key(app_id),
                            "UpdateExpression": f"SET {items.ACTIVE_PRESET_ID} = :preset",
                            "ConditionExpression": "attribute_exists(appId)",
                            "ExpressionAttributeValues": {":preset": {"S": preset_id}},
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            _raise_if_contended(error.response)
            self.get_app(app_id)
            raise NotFound(f"preset {preset_id!r} not found in app {app_id!r}") from None

    def clear_active_preset(self, app_id: str) -> None:
        """Calls without a presetId get the built-in defaults again."""
        try:
            self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression=f"REMOVE {items.ACTIVE_PRESET_ID}",
                ConditionExpression="attribute_exists(appId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None

    def delete_app(self, app_id: str) -> int:
        """Remove the app and its presets; returns how many presets went with it.

        Presets go first, so a delete cut short leaves an app that a re-run removes;
        a preset written meanwhile is caught by the sweep after the app item is gone
        (no preset can be written after that: `put_preset` checks the app).
        """
        if not self.app_exists(app_id):
            raise NotFound(f"app {app_id!r} not found")
        removed = self._delete_presets(app_id)
        try:
            self.client.delete_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                ConditionExpression="attribute_exists(appId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None
        return removed + self._delete_presets(app_id)

    def _delete_presets(self, app_id: str) -> int:
        presets = [item for item in self._partition(app_id) if items.is_preset_item(item)]
        for item in presets:
            self.client.delete_item(TableName=self.names.apps, Key={"appId": item["appId"], "sk": item["sk"]})
        return len(presets)

    # Widget keys

    def add_key(self, app_id: str, key_id: str, widget_key: str) -> str:
        """Add a widget key beside the app's others; only its SHA-256 digest is stored.

        Returns its creation time. Refuses to replace a key with the same id.
        """
        created_at = utc_timestamp()
        try:
            self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression=f"SET {items.WIDGET_KEYS}.#kid = :key",
                ConditionExpression=(
                    f"attribute_exists(appId) AND attribute_not_exists({items.WIDGET_KEYS}.#kid)"
                ),
                ExpressionAttributeNames={"#kid": key_id},
                ExpressionAttributeValues={
                    ":key": items.widget_key_value(key_digest(widget_key), created_at)
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            self.get_app(app_id)
            raise AlreadyExists(f"app {app_id!r} has a key {key_id!r} already") from None
        return created_at

    def create_key(self, app_id: str) -> NewKey:
        """A new random key beside the app's others: rotation without downtime starts here."""
        key_id, widget_key = new_key_id(), new_widget_key()
        created_at = self.add_key(app_id, key_id, widget_key)
        return NewKey(app_id=app_id, key_id=key_id, widget_key=widget_key, created_at=created_at)

    def list_keys(self, app_id: str) -> tuple[KeyInfo, ...]:
        return self.get_app(app_id).keys

    def revoke_key(self, app_id: str, key_id: str) -> int:
        """Remove one key; callers using it get 401 from then on. Returns how many keys remain."""
        try:
            result = self.client.update_item(
                TableName=self.names.apps,
                Key=items.app_key(app_id),
                UpdateExpression=f"REMOVE {items.WIDGET_KEYS}.#kid",
                ConditionExpression=f"attribute_exists({items.WIDGET_KEYS}.#kid)",
                ExpressionAttributeNames={"#kid": key_id},
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            self.get_app(app_id)
            raise NotFound(f"app {app_id!r} has no key {key_id!r}") from None
        return len(result.get("Attributes", {}).get(items.WIDGET_KEYS, {}).get("M", {}))

    # Presets

    def put_preset(self, app_id: str, preset_id: str, settings: dict[str, Any]) -> None:
        """Create or replace a preset of an existing app (checked in the same transaction)."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": items.app_key(app_id),
                            "ConditionExpression": "attribute_exists(appId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.names.apps,
                            "Item": items.preset_item(app_id, preset_id, settings, utc_timestamp()),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            _raise_if_contended(error.response)
            raise NotFound(f"app {app_id!r} not found") from None

    def preset_exists(self, app_id: str, preset_id: str) -> bool:
        found = self.client.get_item(
            TableName=self.names.apps, Key=items.preset_key(app_id, preset_id), ConsistentRead=True
        )
        return "Item" in found

    def get_preset(self, app_id: str, preset_id: str) -> PresetInfo:
        found = self.client.get_item(
            TableName=self.names.apps, Key=items.preset_key(app_id, preset_id), ConsistentRead=True
        )
        if "Item" not in found:
            self.get_app(app_id)
            raise NotFound(f"preset {preset_id!r} not found in app {app_id!r}")
        return _preset_info(found["Item"])

    def list_presets(self, app_id: str) -> list[PresetInfo]:
        partition = self._partition(app_id)
        if not any(items.is_app_item(item) for item in partition):
            raise NotFound(f"app {app_id!r} not found")
        return sorted(
            (_preset_info(item) for item in partition if items.is_preset_item(item)),
            key=lambda p: p.preset_id,
        )

    def delete_preset(self, app_id: str, preset_id: str) -> None:
        """Delete a preset, unless it is the app's active one (that would change calls silently)."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.names.apps,
                            "Key": items.preset_key(app_id, preset_id),
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": items.app_key(app_id),
                            "ConditionExpression": (
                                f"attribute_not_exists({items.ACTIVE_PRESET_ID}) "
                                f"OR {items.ACTIVE_PRESET_ID} <> :preset"
                            ),
                            "ExpressionAttributeValues": {":preset": {"S": preset_id}},
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            _raise_if_contended(error.response)
            if not self.preset_exists(app_id, preset_id):
                self.get_app(app_id)
                raise NotFound(f"preset {preset_id!r} not found in app {app_id!r}") from None
            raise Conflict(
                f"preset {preset_id!r} is the active preset of app {app_id!r}; "
                "set another one or clear it first"
            ) from None

    # Calls

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        """The raw call item (DynamoDB attribute values), or None."""
        found = self.client.get_item(
            TableName=self.names.calls, Key={"callId": {"S": call_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    # Calls: through the API's own store code (calls.repository) and decisions (calls.read,
    # calls.end), so that `callsctl` and the API cannot disagree about a call.

    @functools.cached_property
    def calls_repository(self) -> Repository:
        from calls.repository import Repository

        return Repository(self.client, self.names.apps, self.names.calls)

    def show_call(self, app_id: str, call_id: str) -> CallRecord:
        """The app's call, read as GET /api/calls/{callId} reads it: one consistent GetItem.
        Another app's call is not found, as in the API."""
        from calls.errors import CallNotFound
        from calls.read import read_own_call

        try:
            return read_own_call(self.calls_repository.get_call, app_id, call_id)
        except CallNotFound:
            raise self._call_not_found(app_id, call_id) from None

    def list_calls(
        self,
        app_id: str,
        *,
        now: datetime,
        limit: int | None,
        status: str | None = None,
        conversation_id: str | None = None,
        page_size: int = 100,
    ) -> CallListing:
        """The app's calls, newest first, with the API's own Query a page (by app, or by
        conversation), following the pages until `limit` calls are found (None: all of them).
        A status filter applies to what each Query reads, as in the API."""
        repository = self.calls_repository
        found: list[CallRecord] = []
        start: PageKey | None = None
        while True:
            wanted = page_size if limit is None else min(page_size, limit - len(found))
            page = repository.list_calls(
                app_id,
                limit=wanted,
                now=int(now.timestamp()),
                status=status,
                conversation_id=conversation_id,
                start=start,
            )
            found.extend(page.calls)
            start = page.next_key
            if start is None or (limit is not None and len(found) >= limit):
                break
        if not found and not self.app_exists(app_id):
            raise NotFound(f"app {app_id!r} not found and no calls of it are stored")
        return CallListing(calls=found, more=start is not None)

    def end_call(self, app_id: str, call_id: str, *, now: datetime) -> EndedCall:
        """End the app's call as POST /api/calls/{callId}/end does: one conditional update that
        never rewrites an endedAt. Ending an ended call again returns it as it is."""
        from calls.end import end_own_call
        from calls.errors import CallExpired, CallNotFound
        from calls.view import iso_timestamp

        try:
            call = end_own_call(self.calls_repository.end_call_once, app_id, call_id, now)
        except CallNotFound:
            raise self._call_not_found(app_id, call_id) from None
        except CallExpired:
            raise Conflict(
                f"call {call_id!r} of app {app_id!r} expired without being ended; it can no longer be ended"
            ) from None
        return EndedCall(call=call, ended_now=call.ended_at == iso_timestamp(now))

    def _call_not_found(self, app_id: str, call_id: str) -> NotFound:
        if not self.app_exists(app_id):
            return NotFound(f"app {app_id!r} not found")
        return NotFound(f"call {call_id!r} not found in app {app_id!r} (calls are removed after their TTL)")

    # Helpers

    def _get_app_item(self, app_id: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self.names.apps, Key=items.app_key(app_id), ConsistentRead=True
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _partition(self, app_id: str) -> list[dict[str, Any]]:
        """The app item and all its presets."""
        request: dict[str, Any] = {
            "TableName": self.names.apps,
            "KeyConditionExpression": "appId = :app",
            "ExpressionAttributeValues": {":app": {"S": app_id}},
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put_new(self, item: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.names.apps,
                Item=item,
                ConditionExpression="attribute_not_exists(appId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise AlreadyExists(f"app {item['appId']['S']!r} exists already") from None

    # Recordings (the API's own adapters of the table and the bucket, over this store's clients)

    def list_recordings(self, app_id: str, call_id: str) -> list[Any]:
        """The call's recordings, newest first; NotFound for another app's call, as in the API
        (a removed call's recordings are still its app's, by their own appId)."""
        from calls.read import is_call_id
        from calls.recording_storage import DynamoDBRecordings

        if not is_call_id(call_id):
            raise NotFound(f"no call {call_id} in app {app_id}")
        found = self.client.get_item(
            TableName=self.names.calls, Key={"callId": {"S": call_id}}, ConsistentRead=True
        ).get("Item")
        recordings = DynamoDBRecordings(self.client, self.names.recordings).of_call(call_id)
        owner = found["appId"]["S"] if found else (recordings[0].app_id if recordings else None)
        if owner != app_id:
            raise NotFound(f"no call {call_id} in app {app_id}")
        return sorted(recordings, key=lambda r: (r.started_at, r.recording_id), reverse=True)

    def recording_json(self, recording: Any) -> dict[str, Any]:
        from datetime import timedelta

        from calls.recording_storage import S3Recordings
        from calls.recordings import URL_EXPIRY_SECONDS, file_name
        from calls.view import READY, iso_timestamp, recording_view

        view: dict[str, Any] = dict(recording_view(recording))
        if recording.status == READY and self.recordings_bucket is not None:
            bucket = S3Recordings(_recordings_s3(self.recordings_bucket), self.recordings_bucket.name)
            view["downloadUrl"] = bucket.download_url(
                recording.object_key, file_name(recording), URL_EXPIRY_SECONDS
            )
            view["downloadUrlExpiresAt"] = iso_timestamp(
                datetime.now(UTC) + timedelta(seconds=URL_EXPIRY_SECONDS)
            )
        return view

    def download_recording(self, recording: Any, directory: Any) -> Any:
        """Save a ready recording's object as directory/{recordingId}.webm."""
        from calls.recordings import file_name

        if self.recordings_bucket is None:
            raise StoreError("no recordings bucket: set RECORDINGS_BUCKET_NAME (and S3_ENDPOINT_URL locally)")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / file_name(recording)
        client = _recordings_s3(self.recordings_bucket)
        answer = client.get_object(Bucket=self.recordings_bucket.name, Key=recording.object_key)
        with open(path, "wb") as file:
            for chunk in answer["Body"].iter_chunks(1024 * 1024):
                file.write(chunk)
        return path


def _raise_if_contended(response: Any) -> None:
    """A transaction cancelled by a concurrent write says nothing about the items: ask for a retry."""
    codes = {reason.get("Code") for reason in response.get("CancellationReasons", [])}
    if "TransactionConflict" in codes:
        raise Conflict("another change to this app was in progress; try again")


def _app_info(item: dict[str, Any]) -> AppInfo:
    """The app item as the API reads it (calls.items), for an operator's eyes."""
    app = items.stored_app(item)
    return AppInfo(
        app_id=app.app_id,
        name=app.name,
        status=app.status,
        created_at=app.created_at,
        active_preset_id=app.active_preset_id,
        allowed_origins=app.allowed_origins,
        keys=tuple(
            KeyInfo(key.key_id, key.digest[:DIGEST_PREFIX_LENGTH], key.created_at) for key in app.widget_keys
        ),
        host_links=app.host_links,
    )


def _preset_info(item: dict[str, Any]) -> PresetInfo:
    preset = items.stored_preset(item)
    return PresetInfo(preset.app_id, preset.preset_id, preset.settings, preset.updated_at)


def _recordings_s3(bucket: RecordingsBucket) -> Any:
    if bucket.make_client is not None:
        return bucket.make_client()
    from calls.recording_storage import create_s3_client
    from calls.settings import get_settings

    settings = get_settings.__wrapped__()
    return create_s3_client(dataclasses.replace(settings, s3_endpoint_url=bucket.endpoint_url))
