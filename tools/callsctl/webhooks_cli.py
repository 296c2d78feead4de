"""`callsctl webhooks ...`: an app's webhook endpoints (docs/behaviour.md section 7.3)."""

from __future__ import annotations

from typing import Any

import click

from callsctl import output
from callsctl.state import APP_ARGUMENT, State, pass_state
from callsctl.webhooks import WebhookInfo, WebhookStore

LOCAL_ONLY_NOTE = (
    "Note: this URL is on a loopback or private address, which only the local run delivers to; "
    "a deployed stack refuses it on add and at every delivery."
)
SECRET_SHOWN_ONCE = "Save the secret now: it is shown this once (rotate-secret makes a new one)."  # noqa: S105
# The delivery function's timeout, so a test answers as a real delivery would.
TEST_TIMEOUT_SECONDS = 10.0


def webhook_store(state: State) -> WebhookStore:
    """The webhooks table of the target. Loopback and private addresses are refused on add unless
    the target is a local endpoint (the local run delivers to receivers on this machine and its
    network); link-local and metadata addresses are refused everywhere."""
    from callevents.destinations import DestinationPolicy

    store = state.store()
    local = state.target is not None and state.target.is_local
    return WebhookStore(store.client, store.names.webhooks, DestinationPolicy(private_networks_allowed=local))


def _json(info: WebhookInfo) -> dict[str, Any]:
    return {
        "appId": info.app_id,
        "webhookId": info.webhook_id,
        "url": info.url,
        "events": list(info.event_types),
        "createdAt": info.created_at,
    }


@click.group()
def webhooks() -> None:
    """Webhook endpoints of an app: add, list, remove, rotate-secret, test."""


@webhooks.command("add")
@APP_ARGUMENT
@click.argument("url")
@click.option(
    "--event",
    "event_types",
    multiple=True,
    metavar="TYPE",
    help="An event type to send (call.created, call.ended, ...); repeat for more. None: all.",
)
@pass_state
def webhooks_add(state: State, app_id: str, url: str, event_types: tuple[str, ...]) -> None:
    """Add an endpoint (at most 10 per app); prints its webhookId and secret once.

    URL is https://...; plain http only to loopback, on the local run.
    """
    state.store().get_app(app_id)  # an unknown app is an error, not a silent new item
    store = webhook_store(state)
    info, secret = store.add(app_id, url, event_types)
    if store.local_only(url):
        click.echo(LOCAL_ONLY_NOTE, err=True)
    state.emit(
        {**_json(info), "secret": secret.secret},
        output.record(
            {
                "appId": info.app_id,
                "webhookId": info.webhook_id,
                "url": info.url,
                "events": list(info.event_types) or "- (all)",
                "secret": secret.secret,
            }
        ),
    )
    click.echo(SECRET_SHOWN_ONCE, err=True)


@webhooks.command("list")
@APP_ARGUMENT
@pass_state
def webhooks_list(state: State, app_id: str) -> None:
    """The app's endpoints (never a secret)."""
    found = webhook_store(state).list_webhooks(app_id)
    state.emit(
        [_json(info) for info in found],
        output.table(
            ["WEBHOOK ID", "URL", "EVENTS", "CREATED"],
            [(info.webhook_id, info.url, list(info.event_types) or "all", info.created_at) for info in found],
            empty="(no webhooks)",
        ),
    )


@webhooks.command("remove")
@APP_ARGUMENT
@click.argument("webhook_id")
@pass_state
def webhooks_remove(state: State, app_id: str, webhook_id: str) -> None:
    """Remove an endpoint: it gets nothing more, not even deliveries already queued."""
    webhook_store(state).remove(app_id, webhook_id)
    state.emit(
        {"appId": app_id, "webhookId": webhook_id, "removed": True},
        f"webhook {webhook_id} of app {app_id} removed",
    )


@webhooks.command("rotate-secret")
@APP_ARGUMENT
@click.argument("webhook_id")
@pass_state
def webhooks_rotate_secret(state: State, app_id: str, webhook_id: str) -> None:
    """A new secret, printed once; every delivery from now on is signed with it only."""
    secret = webhook_store(state).rotate_secret(app_id, webhook_id)
    state.emit(
        {"appId": app_id, "webhookId": webhook_id, "secret": secret.secret},
        output.record({"appId": app_id, "webhookId": webhook_id, "secret": secret.secret}),
    )
    click.echo(SECRET_SHOWN_ONCE, err=True)


@webhooks.command("test")
@APP_ARGUMENT
@click.argument("webhook_id")
@pass_state
def webhooks_test(state: State, app_id: str, webhook_id: str) -> None:
    """Send a signed webhook.test event now and report the receiver's answer.

    Exit status 1 when the receiver did not answer 2xx.
    """
    event_id, answer = webhook_store(state).send_test(
        app_id, webhook_id, timeout_seconds=TEST_TIMEOUT_SECONDS
    )
    state.emit(
        {
            "appId": app_id,
            "webhookId": webhook_id,
            "eventId": event_id,
            "delivered": answer.delivered,
            "status": answer.status,
            "excerpt": answer.excerpt,
            "error": answer.error,
        },
        output.record(
            {
                "webhookId": webhook_id,
                "eventId": event_id,
                "status": answer.status,
                "answer": answer.excerpt or None,
                "error": answer.error,
            }
        ),
    )
    if not answer.delivered:
        raise click.exceptions.Exit(1)
