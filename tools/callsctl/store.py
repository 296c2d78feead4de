"""Operator-side access to the tables: apps, widget keys, presets and calls.

Used by `callsctl`, the local runner's seeding and the tests. Never shipped in the Lambda.
Each method is one operator action; failures the operator can act on are `StoreError`s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calls import tables
from calls.access import widget_key_digest
from calls.jsontext import dumps_exact, loads_exact
from calls.models import HOST_LINK_MODES, HOST_LINKS_HOST_KEY, HOST_LINKS_WIDGET_KEY

if TYPE_CHECKING:
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
    # callevents.settings.DEFAULT_WEBHOOKS_TABLE_NAME, as the functions name it unless told.
    webhooks: str = "video-calls-webhooks"

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
class NewApp:
    app_id: str
    name: str
    status: str
    allowed_origins: tuple[str, ...]
    key: NewKey


class AdminStore:
    def __init__(self, client: DynamoDBClient, names: TableNames):
        self.client = client
        self.names = names

    # Tables

    def ensure_tables(self) -> list[str]:
        """Create the missing tables (with TTL where the schema has one); returns those created."""
        existing = set(self._all_table_names())
        created = []
        for schema in tables.ALL_TABLES:
            name = self.names.for_schema(schema)
            if name in existing:
                self._ensure_stream(schema, name)
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
        item = _app_item(app_id, name=name, status="active", allowed_origins=allowed_origins)
        item["widgetKeys"]["M"][key.key_id] = _key_value(key.widget_key, key.created_at)
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
        item = _app_item(app_id, name=name, status=status, allowed_origins=allowed_origins)
        if active_preset_id:
            item["activePresetId"] = {"S": active_preset_id}
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
                Key=_app_key(app_id),
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
                Key=_app_key(app_id),
                UpdateExpression="SET allowedOrigins = :origins",
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
                Key=_app_key(app_id),
                UpdateExpression="SET hostLinks = :mode",
                ConditionExpression="attribute_exists(appId)",
                ExpressionAttributeValues={":mode": {"S": mode}},
                ReturnValues="UPDATED_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None
        before = result.get("Attributes", {}).get("hostLinks", {}).get("S", HOST_LINKS_WIDGET_KEY)
        return before != mode

    def set_active_preset(self, app_id: str, preset_id: str) -> None:
        """Make an existing preset the app's active one; both checked in the same transaction."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": _preset_key(app_id, preset_id),
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.names.apps,
                            "Key": _app_key(app_id),
                            "UpdateExpression": "SET activePresetId = :preset",
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
                Key=_app_key(app_id),
                UpdateExpression="REMOVE activePresetId",
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
                Key=_app_key(app_id),
                ConditionExpression="attribute_exists(appId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"app {app_id!r} not found") from None
        return removed + self._delete_presets(app_id)

    def _delete_presets(self, app_id: str) -> int:
        presets = [item for item in self._partition(app_id) if _is_preset(item)]
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
                Key=_app_key(app_id),
                UpdateExpression="SET widgetKeys.#kid = :key",
                ConditionExpression="attribute_exists(appId) AND attribute_not_exists(widgetKeys.#kid)",
                ExpressionAttributeNames={"#kid": key_id},
                ExpressionAttributeValues={":key": _key_value(widget_key, created_at)},
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
                Key=_app_key(app_id),
                UpdateExpression="REMOVE widgetKeys.#kid",
                ConditionExpression="attribute_exists(widgetKeys.#kid)",
                ExpressionAttributeNames={"#kid": key_id},
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            self.get_app(app_id)
            raise NotFound(f"app {app_id!r} has no key {key_id!r}") from None
        return len(result.get("Attributes", {}).get("widgetKeys", {}).get("M", {}))

    # Presets

    def put_preset(self, app_id: str, preset_id: str, settings: dict[str, Any]) -> None:
        """Create or replace a preset of an existing app (checked in the same transaction)."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": _app_key(app_id),
                            "ConditionExpression": "attribute_exists(appId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.names.apps,
                            "Item": {
                                **_preset_key(app_id, preset_id),
                                "presetId": {"S": preset_id},
                                "settings": {"S": dumps_exact(settings)},
                                "updatedAt": {"S": utc_timestamp()},
                            },
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            _raise_if_contended(error.response)
            raise NotFound(f"app {app_id!r} not found") from None

    def preset_exists(self, app_id: str, preset_id: str) -> bool:
        found = self.client.get_item(
            TableName=self.names.apps, Key=_preset_key(app_id, preset_id), ConsistentRead=True
        )
        return "Item" in found

    def get_preset(self, app_id: str, preset_id: str) -> PresetInfo:
        found = self.client.get_item(
            TableName=self.names.apps, Key=_preset_key(app_id, preset_id), ConsistentRead=True
        )
        if "Item" not in found:
            self.get_app(app_id)
            raise NotFound(f"preset {preset_id!r} not found in app {app_id!r}")
        return _preset_info(found["Item"])

    def list_presets(self, app_id: str) -> list[PresetInfo]:
        items = self._partition(app_id)
        if not any(item["sk"]["S"] == tables.APP_ITEM_SK for item in items):
            raise NotFound(f"app {app_id!r} not found")
        return sorted((_preset_info(item) for item in items if _is_preset(item)), key=lambda p: p.preset_id)

    def delete_preset(self, app_id: str, preset_id: str) -> None:
        """Delete a preset, unless it is the app's active one (that would change calls silently)."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.names.apps,
                            "Key": _preset_key(app_id, preset_id),
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self.names.apps,
                            "Key": _app_key(app_id),
                            "ConditionExpression": (
                                "attribute_not_exists(activePresetId) OR activePresetId <> :preset"
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

    def show_call(self, call_id: str) -> dict[str, Any]:
        item = self.get_call(call_id)
        if item is None:
            raise NotFound(f"call {call_id!r} not found (calls expire after their TTL)")
        return call_from_item(item)

    def list_calls(self, app_id: str, limit: int) -> list[dict[str, Any]]:
        """The app's newest calls first, through the calls-by-app index."""
        request: dict[str, Any] = {
            "TableName": self.names.calls,
            "IndexName": tables.CALLS_BY_APP_INDEX,
            "KeyConditionExpression": "appId = :app",
            "ExpressionAttributeValues": {":app": {"S": app_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        calls: list[dict[str, Any]] = []
        while len(calls) < limit:
            page = self.client.query(**request)
            calls.extend(call_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
            request["Limit"] = limit - len(calls)
        if not calls and not self.app_exists(app_id):
            raise NotFound(f"app {app_id!r} not found and no calls of it are stored")
        return calls[:limit]

    # Helpers

    def _get_app_item(self, app_id: str) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=self.names.apps, Key=_app_key(app_id), ConsistentRead=True)
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


def _raise_if_contended(response: Any) -> None:
    """A transaction cancelled by a concurrent write says nothing about the items: ask for a retry."""
    codes = {reason.get("Code") for reason in response.get("CancellationReasons", [])}
    if "TransactionConflict" in codes:
        raise Conflict("another change to this app was in progress; try again")


def _app_key(app_id: str) -> dict[str, Any]:
    return {"appId": {"S": app_id}, "sk": {"S": tables.APP_ITEM_SK}}


def _preset_key(app_id: str, preset_id: str) -> dict[str, Any]:
    return {"appId": {"S": app_id}, "sk": {"S": tables.preset_sort_key(preset_id)}}


def _is_preset(item: dict[str, Any]) -> bool:
    sort_key: str = item["sk"]["S"]
    return sort_key.startswith(tables.PRESET_SK_PREFIX)


def _app_item(app_id: str, *, name: str, status: str, allowed_origins: tuple[str, ...]) -> dict[str, Any]:
    return {
        "appId": {"S": app_id},
        "sk": {"S": tables.APP_ITEM_SK},
        "name": {"S": name},
        "status": {"S": status},
        "widgetKeys": {"M": {}},
        "allowedOrigins": {"L": [{"S": origin} for origin in allowed_origins]},
        "createdAt": {"S": utc_timestamp()},
    }


def _key_value(widget_key: str, created_at: str) -> dict[str, Any]:
    return {"M": {"digest": {"S": key_digest(widget_key)}, "createdAt": {"S": created_at}}}


def _app_info(item: dict[str, Any]) -> AppInfo:
    keys = tuple(
        KeyInfo(
            key_id=key_id,
            digest_prefix=value["M"].get("digest", {}).get("S", "")[:DIGEST_PREFIX_LENGTH],
            created_at=value["M"].get("createdAt", {}).get("S"),
        )
        for key_id, value in item.get("widgetKeys", {}).get("M", {}).items()
    )
    return AppInfo(
        app_id=item["appId"]["S"],
        name=item.get("name", {}).get("S", ""),
        status=item.get("status", {}).get("S", "disabled"),
        created_at=item.get("createdAt", {}).get("S"),
        active_preset_id=item.get("activePresetId", {}).get("S"),
        allowed_origins=tuple(value["S"] for value in item.get("allowedOrigins", {}).get("L", [])),
        keys=tuple(sorted(keys, key=lambda key: (key.created_at or "", key.key_id))),
        # As the API reads it (calls.repository.app_from_items): anything but hostKey is widgetKey.
        host_links=(
            HOST_LINKS_HOST_KEY
            if item.get("hostLinks", {}).get("S") == HOST_LINKS_HOST_KEY
            else HOST_LINKS_WIDGET_KEY
        ),
    )


def _preset_info(item: dict[str, Any]) -> PresetInfo:
    settings = loads_exact(item["settings"]["S"]) if "settings" in item else {}
    return PresetInfo(
        app_id=item["appId"]["S"],
        preset_id=item["sk"]["S"][len(tables.PRESET_SK_PREFIX) :],
        settings=settings,
        updated_at=item.get("updatedAt", {}).get("S"),
    )


# Attributes of a call item that hold JSON text (exact numbers), shown as the JSON they hold.
_JSON_TEXT_ATTRIBUTES = ("metadata", "presetSettings")


def call_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A call item as plain values (numbers as Decimal), its JSON text attributes parsed."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    call = {name: deserializer.deserialize(value) for name, value in sorted(item.items())}
    for name in _JSON_TEXT_ATTRIBUTES:
        if isinstance(call.get(name), str):
            call[name] = loads_exact(call[name])
    return call
