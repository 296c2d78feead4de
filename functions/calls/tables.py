"""Table key schemas: the one definition shared by the stack, the local runner and the tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: Literal["S", "N", "B"] = "S"


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None


@dataclass(frozen=True)
class TableSchema:
    """Keys, TTL and indexes of one table, and where its name comes from: the environment
    variable the functions read it from (the stack sets it to the deployed table's name), else a
    default for the local run and the tools."""

    purpose: str
    name_variable: str
    default_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    ttl_attribute: str | None = None
    indexes: tuple[GlobalIndex, ...] = ()
    # The table's DynamoDB stream (what its records carry), or None for no stream.
    stream_view_type: Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"] | None = None


# One partition per app: the app item and its presets, so one Query returns all of them.
APPS = TableSchema(
    purpose="apps",
    name_variable="APPS_TABLE_NAME",
    default_name="video-calls-apps",
    partition_key=KeyAttribute("appId"),
    sort_key=KeyAttribute("sk"),
)
APP_ITEM_SK = "APP"
PRESET_SK_PREFIX = "PRESET#"

CALLS_BY_APP_INDEX = "byAppCreatedAt"
# Sparse: only calls with a Genesys conversationId carry its key, scoped to their app.
CALLS_BY_CONVERSATION_INDEX = "byAppConversation"
CONVERSATION_KEY_ATTRIBUTE = "appConversation"
CALLS = TableSchema(
    purpose="calls",
    name_variable="CALLS_TABLE_NAME",
    default_name="video-calls-calls",
    partition_key=KeyAttribute("callId"),
    ttl_attribute="expiresAt",
    # The events' outbox (docs/behaviour.md section 7): every committed change, both images, is an event.
    stream_view_type="NEW_AND_OLD_IMAGES",
    indexes=(
        GlobalIndex(
            name=CALLS_BY_APP_INDEX,
            partition_key=KeyAttribute("appId"),
            sort_key=KeyAttribute("createdAt"),
        ),
        GlobalIndex(
            name=CALLS_BY_CONVERSATION_INDEX,
            partition_key=KeyAttribute(CONVERSATION_KEY_ATTRIBUTE),
            sort_key=KeyAttribute("createdAt"),
        ),
    ),
)

# Idempotency-Key records (docs/behaviour.md section 3): one per app and key, gone after their TTL.
IDEMPOTENCY = TableSchema(
    purpose="idempotency",
    name_variable="IDEMPOTENCY_TABLE_NAME",
    default_name="video-calls-idempotency",
    partition_key=KeyAttribute("id"),
    ttl_attribute="expiration",
)

# Webhook endpoints (docs/behaviour.md section 7.3): one item per app holding a map of its endpoints, so
# that the fan-out reads an app's endpoints with one GetItem and the limit of 10 is one
# condition. A table of its own: the create path's Query of the apps table never sees them.
WEBHOOKS = TableSchema(
    purpose="webhooks",
    name_variable="WEBHOOKS_TABLE_NAME",
    default_name="video-calls-webhooks",
    partition_key=KeyAttribute("appId"),
)
WEBHOOK_ENDPOINTS_ATTRIBUTE = "endpoints"

# Signaling (docs/behaviour.md section 9.4): a call's live WebSocket connections, one item per
# role, so the other party is one GetItem and both are one Query of the call's partition. The tokens used to
# open them live in the same partition, as items whose sort key is USED_TOKEN_PREFIX + the
# digest of their nonce, written once each: a token opens one connection. Roles sort before the
# token items ("agent" < "guest" < "token#"), so a Query of the roles' range never reads a token.
CONNECTIONS = TableSchema(
    purpose="connections",
    name_variable="CONNECTIONS_TABLE_NAME",
    default_name="video-calls-connections",
    partition_key=KeyAttribute("callId"),
    sort_key=KeyAttribute("role"),
    ttl_attribute="expiresAt",
)
USED_TOKEN_PREFIX = "token#"  # noqa: S105 - a key prefix, no secret

# Recordings (docs/behaviour.md section 10): one partition per call, one item per recording, and
# while one records an item RECORDING_ACTIVE_SK naming it, written and removed in the same
# transactions as the recording, so that a call never has two recordings in progress. The stream
# is the outbox of `recording.ready` (the MODIFY that makes a recording ready).
RECORDINGS = TableSchema(
    purpose="recordings",
    name_variable="RECORDINGS_TABLE_NAME",
    default_name="video-calls-recordings",
    partition_key=KeyAttribute("callId"),
    sort_key=KeyAttribute("recordingId"),
    ttl_attribute="expiresAt",
    stream_view_type="NEW_AND_OLD_IMAGES",
)
# Sorts after every recording id (UUIDs are hex digits and dashes): no recording is ever named so.
RECORDING_ACTIVE_SK = "~active"

# The tables the stack deploys (infra/ makes one per schema here, each with its throttling alarm
# over the operations its functions call).
ALL_TABLES = (APPS, CALLS, IDEMPOTENCY, WEBHOOKS, CONNECTIONS, RECORDINGS)


def table_name(schema: TableSchema, environ: Mapping[str, str] = os.environ) -> str:
    """The table's name as the environment gives it, else its default."""
    return environ.get(schema.name_variable, "").strip() or schema.default_name


def conversation_key(app_id: str, conversation_id: str) -> str:
    """The conversation index's partition key: app and conversation as a JSON pair, so that no
    choice of either can collide with another app's key."""
    import json

    return json.dumps([app_id, conversation_id], separators=(",", ":"), ensure_ascii=False)


def preset_sort_key(preset_id: str) -> str:
    return f"{PRESET_SK_PREFIX}{preset_id}"


def create_table_request(schema: TableSchema, table_name: str) -> dict[str, Any]:
    """The CreateTable arguments for `schema` (on-demand billing), as boto3 takes them."""
    key_schema = [{"AttributeName": schema.partition_key.name, "KeyType": "HASH"}]
    attributes = {schema.partition_key.name: schema.partition_key.type}
    if schema.sort_key:
        key_schema.append({"AttributeName": schema.sort_key.name, "KeyType": "RANGE"})
        attributes[schema.sort_key.name] = schema.sort_key.type

    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": key_schema,
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = []
    for index in schema.indexes:
        index_keys = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
        attributes[index.partition_key.name] = index.partition_key.type
        if index.sort_key:
            index_keys.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
            attributes[index.sort_key.name] = index.sort_key.type
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": index_keys,
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    if schema.stream_view_type:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": schema.stream_view_type}
    request["AttributeDefinitions"] = [
        {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
    ]
    return request
