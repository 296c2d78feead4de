"""Operator-side access to webhook endpoints (docs/behaviour.md section 7.3): add, list, remove, rotate, test.

Secrets exist in clear only in the webhooks table (the delivery function signs with them) and,
once, in what `add` and `rotate` return. Nothing else here returns or prints one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from callevents.destinations import DestinationPolicy, RefusedDestination, check_url
from callevents.endpoints import (
    ENDPOINTS,
    MAX_ENDPOINTS_PER_APP,
    Endpoint,
    endpoint_from_value,
    endpoint_to_value,
    endpoints_from_item,
    new_webhook_id,
)
from callevents.envelope import EVENT_TYPES
from callevents.sender import Answer
from callevents.signing import new_secret

from callsctl.store import Conflict, NotFound, StoreError, utc_timestamp


class InvalidWebhook(StoreError):
    """A URL or event type that section 7 refuses; the message says which rule."""


@dataclass(frozen=True)
class WebhookInfo:
    """An endpoint as an operator may see it: never its secret."""

    app_id: str
    webhook_id: str
    url: str
    event_types: tuple[str, ...]
    created_at: str


@dataclass(frozen=True)
class NewSecret:
    """A secret just made (add, rotate): the only moment it leaves the table."""

    app_id: str
    webhook_id: str
    secret: str


def check_event_types(values: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [value for value in values if value not in EVENT_TYPES]
    if unknown:
        raise InvalidWebhook(f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
    return tuple(dict.fromkeys(values))


class WebhookStore:
    def __init__(self, client: Any, table_name: str, policy: DestinationPolicy):
        self.client = client
        self.table_name = table_name
        # Strict (public addresses only) everywhere but the local run's tables.
        self.policy = policy

    def check_destination(self, url: str) -> None:
        try:
            check_url(url)
            self.policy.check(url)
        except RefusedDestination as refused:
            raise InvalidWebhook(f"refused URL: {refused}") from None

    def local_only(self, url: str) -> bool:
        """Whether `url` passes only because this store's policy admits private networks (the
        local run's): a deployed stack would refuse it."""
        if not self.policy.private_networks_allowed:
            return False
        strict = DestinationPolicy(private_networks_allowed=False, resolve=self.policy.resolve)
        try:
            strict.check(url)
        except RefusedDestination:
            return True
        return False

    def add(self, app_id: str, url: str, event_types: tuple[str, ...] = ()) -> tuple[WebhookInfo, NewSecret]:
        self.check_destination(url)
        same = next((found for found in self._endpoints(app_id) if found.url == url), None)
        if same is not None:
            raise Conflict(
                f"app {app_id!r} has a webhook for this URL already ({same.webhook_id}); "
                "remove it first, or rotate its secret"
            )
        endpoint = Endpoint(
            webhook_id=new_webhook_id(),
            url=url,
            event_types=check_event_types(event_types),
            created_at=utc_timestamp(),
            secret=new_secret(),
        )
        # The app's item first, if it has none yet: a nested SET needs its map to exist.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(
                TableName=self.table_name,
                Item={"appId": {"S": app_id}, ENDPOINTS: {"M": {}}},
                ConditionExpression="attribute_not_exists(appId)",
            )
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"appId": {"S": app_id}},
                UpdateExpression="SET #endpoints.#id = :endpoint",
                # The limit is one condition on the one item: two racing adds cannot pass it both.
                ConditionExpression="size(#endpoints) < :max AND attribute_not_exists(#endpoints.#id)",
                ExpressionAttributeNames={"#endpoints": ENDPOINTS, "#id": endpoint.webhook_id},
                ExpressionAttributeValues={
                    ":endpoint": endpoint_to_value(endpoint),
                    ":max": {"N": str(MAX_ENDPOINTS_PER_APP)},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise Conflict(
                f"app {app_id!r} has {MAX_ENDPOINTS_PER_APP} webhooks already (the most)"
            ) from None
        return _info(app_id, endpoint), NewSecret(app_id, endpoint.webhook_id, endpoint.secret)

    def list_webhooks(self, app_id: str) -> list[WebhookInfo]:
        return [_info(app_id, endpoint) for endpoint in self._endpoints(app_id)]

    def remove(self, app_id: str, webhook_id: str) -> None:
        """Gone at once: a delivery reads its endpoint when it runs, so queued ones send nothing."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"appId": {"S": app_id}},
                UpdateExpression="REMOVE #endpoints.#id",
                ConditionExpression="attribute_exists(#endpoints.#id)",
                ExpressionAttributeNames={"#endpoints": ENDPOINTS, "#id": webhook_id},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise _not_found(app_id, webhook_id) from None

    def rotate_secret(self, app_id: str, webhook_id: str) -> NewSecret:
        """A new secret, used from the next attempt on (deliveries read it when they run)."""
        secret = new_secret()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"appId": {"S": app_id}},
                UpdateExpression="SET #endpoints.#id.#secret = :secret",
                ConditionExpression="attribute_exists(#endpoints.#id)",
                ExpressionAttributeNames={"#endpoints": ENDPOINTS, "#id": webhook_id, "#secret": "secret"},
                ExpressionAttributeValues={":secret": {"S": secret}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise _not_found(app_id, webhook_id) from None
        return NewSecret(app_id, webhook_id, secret)

    def endpoint(self, app_id: str, webhook_id: str) -> Endpoint:
        """The endpoint with its secret, for signing a test delivery; never shown."""
        found = self.client.get_item(
            TableName=self.table_name, Key={"appId": {"S": app_id}}, ConsistentRead=True
        ).get("Item")
        value = (found or {}).get(ENDPOINTS, {}).get("M", {}).get(webhook_id)
        if value is None:
            raise _not_found(app_id, webhook_id)
        return endpoint_from_value(webhook_id, value)

    def send_test(self, app_id: str, webhook_id: str, *, timeout_seconds: float) -> tuple[str, Answer]:
        """Sign and POST a `webhook.test` event now; returns its id and the receiver's answer."""
        from callevents.delivery import Courier, attempt_once, probe_event

        endpoint = self.endpoint(app_id, webhook_id)
        event = probe_event(app_id, webhook_id)
        courier = Courier(
            webhooks=_Unused(), retries=_Unused(), policy=self.policy, timeout_seconds=timeout_seconds
        )
        return event.id, attempt_once(endpoint, event.id, event.body(), courier)

    def _endpoints(self, app_id: str) -> list[Endpoint]:
        found = self.client.get_item(
            TableName=self.table_name, Key={"appId": {"S": app_id}}, ConsistentRead=True
        ).get("Item")
        return endpoints_from_item(found)


class _Unused:
    """A test delivery is one attempt from the operator's machine: no directory, no retries."""

    def endpoints(self, app_id: str) -> list[Endpoint]:
        raise NotImplementedError

    def endpoint(self, app_id: str, webhook_id: str) -> Endpoint | None:
        raise NotImplementedError

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        raise NotImplementedError


def _info(app_id: str, endpoint: Endpoint) -> WebhookInfo:
    return WebhookInfo(app_id, endpoint.webhook_id, endpoint.url, endpoint.event_types, endpoint.created_at)


def _not_found(app_id: str, webhook_id: str) -> NotFound:
    return NotFound(f"webhook {webhook_id!r} of app {app_id!r} not found")
