"""Operator-side access to the tables: apps, widget keys, presets and calls.

Used by `callsctl`, the local runner's seeding and the tests. Never shipped in the Lambda.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calls import tables
from calls.jsontext import dumps_exact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@dataclass(frozen=True)
class TableNames:
    apps: str
    calls: str
    idempotency: str

    def for_schema(self, schema: tables.TableSchema) -> str:
        name: str = getattr(self, schema.purpose)
        return name


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_digest(widget_key: str) -> str:
    return hashlib.sha256(widget_key.encode("utf-8")).hexdigest()


class AlreadyExists(Exception):
    pass


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

    def _all_table_names(self) -> Iterator[str]:
        for page in self.client.get_paginator("list_tables").paginate():
            yield from page.get("TableNames", [])

    # Apps, keys, presets

    def put_app(
        self,
        app_id: str,
        *,
        name: str,
        status: str = "active",
        active_preset_id: str | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        """Create the app item; refuses to replace an existing app."""
        item: dict[str, Any] = {
            "appId": {"S": app_id},
            "sk": {"S": tables.APP_ITEM_SK},
            "name": {"S": name},
            "status": {"S": status},
            "widgetKeys": {"M": {}},
            "allowedOrigins": {"L": [{"S": origin} for origin in allowed_origins]},
            "createdAt": {"S": utc_timestamp()},
        }
        if active_preset_id:
            item["activePresetId"] = {"S": active_preset_id}
        self._put_new(item)

    def add_key(self, app_id: str, key_id: str, widget_key: str) -> None:
        """Add a widget key beside the app's others; only its SHA-256 digest is stored."""
        self.client.update_item(
            TableName=self.names.apps,
            Key=_app_key(app_id),
            UpdateExpression="SET widgetKeys.#kid = :key",
            ConditionExpression="attribute_exists(appId)",
            ExpressionAttributeNames={"#kid": key_id},
            ExpressionAttributeValues={
                ":key": {
                    "M": {
                        "digest": {"S": key_digest(widget_key)},
                        "createdAt": {"S": utc_timestamp()},
                    }
                }
            },
        )

    def put_preset(self, app_id: str, preset_id: str, settings: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.names.apps,
            Item={
                "appId": {"S": app_id},
                "sk": {"S": tables.preset_sort_key(preset_id)},
                "presetId": {"S": preset_id},
                "settings": {"S": dumps_exact(settings)},
                "updatedAt": {"S": utc_timestamp()},
            },
        )

    def app_exists(self, app_id: str) -> bool:
        found = self.client.get_item(TableName=self.names.apps, Key=_app_key(app_id), ConsistentRead=True)
        return "Item" in found

    def preset_exists(self, app_id: str, preset_id: str) -> bool:
        found = self.client.get_item(
            TableName=self.names.apps,
            Key={"appId": {"S": app_id}, "sk": {"S": tables.preset_sort_key(preset_id)}},
            ConsistentRead=True,
        )
        return "Item" in found

    def get_call(self, call_id: str) -> dict[str, Any] | None:
        found = self.client.get_item(
            TableName=self.names.calls, Key={"callId": {"S": call_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _put_new(self, item: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.names.apps,
                Item=item,
                ConditionExpression="attribute_not_exists(appId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise AlreadyExists(item["appId"]["S"]) from None


def _app_key(app_id: str) -> dict[str, Any]:
    return {"appId": {"S": app_id}, "sk": {"S": tables.APP_ITEM_SK}}
