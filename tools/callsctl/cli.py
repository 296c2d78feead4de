"""`callsctl`: the operator's tool for apps, widget keys, presets and calls.

    callsctl [TARGET] [--json] GROUP COMMAND ARGS...

Exit status: 0 success, 1 failure (not found, conflict, unreachable), 2 wrong usage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from calls.models import HOST_LINKS_HOST_KEY, HOST_LINKS_WIDGET_KEY, CallRecord
from calls.view import STATUSES, call_view, utc_now

if TYPE_CHECKING:
    from calls.responses import CallView

from callsctl import inputs, output
from callsctl.state import APP_ARGUMENT, State, pass_state
from callsctl.store import AdminStore, AppInfo, KeyInfo, NewApp, NewKey, PresetInfo, StoreError
from callsctl.target import ConflictingTargets, Target, TargetOptions, TargetUsageError, choose_target
from callsctl.webhooks_cli import webhooks

KEY_SHOWN_ONCE = "Save the widget key now: only its digest is stored, it cannot be shown again."


class CallsctlGroup(click.Group):
    """Turns the failures an operator can act on into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreError as error:
            raise click.ClickException(str(error)) from None
        except click.ClickException:
            raise
        except Exception as error:
            state = ctx.find_object(State)
            message = describe_failure(error, state.target if state else None)
            if message is None:
                raise
            raise click.ClickException(message) from None


def describe_failure(error: Exception, target: Target | None) -> str | None:
    """One line for an expected failure of AWS or the configuration; None for a bug."""
    from botocore import exceptions as aws
    from calls.errors import ApiError
    from calls.settings import ConfigurationError

    # The API's repository turns AWS failures into its own 503/500 errors; the cause says more.
    if isinstance(error, ApiError) and isinstance(error.__cause__, Exception):
        error = error.__cause__

    where = target.description if target else "the target"
    message: str | None = None
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectionClosedError):
        message = f"cannot reach {where}{target.unreachable_hint if target else ''}"
    elif isinstance(error, aws.ReadTimeoutError):
        message = f"{where} did not answer in time"
    elif isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        message = "no AWS credentials found: pass --profile or set AWS_PROFILE"
    elif isinstance(error, aws.NoRegionError):
        message = "no AWS region: pass --region or set AWS_REGION"
    elif isinstance(error, aws.ClientError):
        details = error.response.get("Error", {})
        code, text = details.get("Code", "Error"), details.get("Message", "")
        if code == "ResourceNotFoundException":
            message = f"a table was not found on {where}: {text}"
        else:
            message = f"AWS refused the request ({code}): {text}"
    elif isinstance(error, aws.BotoCoreError | ConfigurationError):
        message = str(error)
    return " ".join(message.split()) if message is not None else None


def checked[T](validate: Callable[[str], T]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that runs one of `inputs`' validators: a refused value is a usage error (2)."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            if isinstance(value, tuple):
                return tuple(validate(item) for item in value)
            return validate(value)
        except inputs.InvalidInput as error:
            raise click.BadParameter(str(error)) from None

    return callback


PRESET_ARGUMENT = click.argument("preset_id", metavar="PRESET_ID", callback=checked(inputs.preset_id))


@click.group(cls=CallsctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--local",
    is_flag=True,
    help="The local run's DynamoDB: 127.0.0.1:$DYNAMODB_LOCAL_PORT if set, else the running make run's "
    "(.local/run.json), else 127.0.0.1:8000.",
)
@click.option(
    "--endpoint-url", metavar="URL", help="A DynamoDB-compatible endpoint; table names from the environment."
)
@click.option(
    "--stack", metavar="NAME", help="A deployed stack: table names from its CloudFormation outputs."
)
@click.option("--region", metavar="REGION", help="AWS region (else AWS_REGION / the profile's).")
@click.option("--profile", metavar="PROFILE", help="AWS profile (else AWS_PROFILE / the default chain).")
@click.option("--json", "json_output", is_flag=True, help="Print JSON for scripts instead of tables.")
@click.version_option(package_name="video-calls-api", prog_name="callsctl")
@click.pass_context
def cli(
    ctx: click.Context,
    local: bool,
    endpoint_url: str | None,
    stack: str | None,
    region: str | None,
    profile: str | None,
    json_output: bool,
) -> None:
    """Operate the Video Calls API: apps, widget keys, presets and calls.

    Without a target option, the table names come from APPS_TABLE_NAME,
    CALLS_TABLE_NAME (and DYNAMODB_ENDPOINT_URL), as the Lambda reads them.
    """
    options = TargetOptions(local, endpoint_url, stack, region, profile)
    try:
        choose_target(options, os.environ)
    except ConflictingTargets as error:
        raise click.UsageError(str(error), ctx) from None
    except TargetUsageError:
        pass  # no target yet: `--help` of a command needs none; commands that touch data will say so
    ctx.obj = State(target_options=options, json_output=json_output)


# apps


@cli.group()
def apps() -> None:
    """Tenants (apps), their status, active preset and origins."""


def _app_json(app: AppInfo) -> dict[str, Any]:
    return {
        "appId": app.app_id,
        "name": app.name,
        "status": app.status,
        "createdAt": app.created_at,
        "activePresetId": app.active_preset_id,
        "allowedOrigins": list(app.allowed_origins),
        "hostLinks": app.host_links,
        "keys": [_key_json(key) for key in app.keys],
    }


def _key_json(key: KeyInfo) -> dict[str, Any]:
    return {"keyId": key.key_id, "digestPrefix": key.digest_prefix, "createdAt": key.created_at}


def _new_key_json(key: NewKey) -> dict[str, Any]:
    return {
        "appId": key.app_id,
        "keyId": key.key_id,
        "widgetKey": key.widget_key,
        "createdAt": key.created_at,
    }


def _keys_table(keys: tuple[KeyInfo, ...]) -> str:
    return output.table(
        ["KEY ID", "DIGEST", "CREATED"],
        [(key.key_id, f"{key.digest_prefix}…", key.created_at) for key in keys],
        empty="(no keys: every call is refused with 401)",
    )


@apps.command("create")
@click.argument("name", callback=checked(inputs.app_name))
@click.option(
    "--allowed-origin",
    "origins",
    multiple=True,
    metavar="ORIGIN",
    callback=checked(inputs.origin),
    help="scheme://host[:port] a browser may call from; repeat for more. None: any origin.",
)
@pass_state
def apps_create(state: State, name: str, origins: tuple[str, ...]) -> None:
    """Create an app and its first widget key.

    The key is printed this once; only its SHA-256 digest is stored.
    """
    app: NewApp = state.store().create_app(name, allowed_origins=origins)
    state.emit(
        {
            "appId": app.app_id,
            "name": app.name,
            "status": app.status,
            "allowedOrigins": list(app.allowed_origins),
            "keyId": app.key.key_id,
            "widgetKey": app.key.widget_key,
            "createdAt": app.key.created_at,
        },
        output.record(
            {
                "appId": app.app_id,
                "name": app.name,
                "status": app.status,
                "allowedOrigins": app.allowed_origins,
                "keyId": app.key.key_id,
                "widgetKey": app.key.widget_key,
            }
        ),
    )
    click.echo(KEY_SHOWN_ONCE, err=True)


@apps.command("list")
@pass_state
def apps_list(state: State) -> None:
    """Every app, with its status and number of keys."""
    found = state.store().list_apps()
    state.emit(
        [_app_json(app) for app in found],
        output.table(
            ["APP ID", "NAME", "STATUS", "KEYS", "ACTIVE PRESET", "ALLOWED ORIGINS"],
            [
                (app.app_id, app.name, app.status, len(app.keys), app.active_preset_id, app.allowed_origins)
                for app in found
            ],
            empty="(no apps)",
        ),
    )


@apps.command("show")
@APP_ARGUMENT
@pass_state
def apps_show(state: State, app_id: str) -> None:
    """One app, its key ids and its presets (never a key)."""
    store = state.store()
    app = store.get_app(app_id)
    presets = [preset.preset_id for preset in store.list_presets(app_id)]
    state.emit(
        {**_app_json(app), "presets": presets},
        output.record(
            {
                "appId": app.app_id,
                "name": app.name,
                "status": app.status,
                "createdAt": app.created_at,
                "activePreset": app.active_preset_id,
                "allowedOrigins": app.allowed_origins or "- (any origin)",
                "hostLinks": f"{app.host_links} ({HOST_LINK_MEANINGS[app.host_links]})",
                "presets": presets,
            }
        )
        + "\n\n"
        + _keys_table(app.keys),
    )


def _set_status(state: State, app_id: str, status: str) -> None:
    changed = state.store().set_status(app_id, status)
    word = "enabled" if status == "active" else "disabled"
    state.emit(
        {"appId": app_id, "status": status, "changed": changed},
        f"app {app_id} {word}" if changed else f"app {app_id} was {word} already",
    )


@apps.command("disable")
@APP_ARGUMENT
@pass_state
def apps_disable(state: State, app_id: str) -> None:
    """Refuse the app's calls with 403; keys and presets stay."""
    _set_status(state, app_id, "disabled")


@apps.command("enable")
@APP_ARGUMENT
@pass_state
def apps_enable(state: State, app_id: str) -> None:
    """Accept the app's calls again."""
    _set_status(state, app_id, "active")


@apps.command("delete")
@APP_ARGUMENT
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def apps_delete(state: State, app_id: str, yes: bool) -> None:
    """Delete the app, its keys and its presets.

    Asks first unless --yes. Its calls stay until their TTL.
    """
    store = state.store()
    app = store.get_app(app_id)
    if not yes:
        count = len(store.list_presets(app_id))
        click.confirm(
            f"Delete app {app_id} ({app.name}), its {len(app.keys)} key(s) and {count} preset(s)?",
            abort=True,
            err=True,
        )
    removed = store.delete_app(app_id)
    state.emit(
        {"appId": app_id, "deleted": True, "presetsDeleted": removed},
        f"app {app_id} deleted with {removed} preset(s)",
    )


@apps.command("set-preset")
@APP_ARGUMENT
@PRESET_ARGUMENT
@pass_state
def apps_set_preset(state: State, app_id: str, preset_id: str) -> None:
    """Set the preset of calls that name none.

    The preset must exist already (presets put).
    """
    state.store().set_active_preset(app_id, preset_id)
    state.emit({"appId": app_id, "activePresetId": preset_id}, f"app {app_id}: active preset {preset_id}")


@apps.command("clear-preset")
@APP_ARGUMENT
@pass_state
def apps_clear_preset(state: State, app_id: str) -> None:
    """Calls that name no preset get the built-in defaults again."""
    state.store().clear_active_preset(app_id)
    state.emit({"appId": app_id, "activePresetId": None}, f"app {app_id}: no active preset")


# The command's words, and what each mode puts into a call's host link.
HOST_LINK_WORDS = {"widget-key": HOST_LINKS_WIDGET_KEY, "host-key": HOST_LINKS_HOST_KEY}
HOST_LINK_MEANINGS = {
    HOST_LINKS_WIDGET_KEY: "host links carry the app's widget key",
    HOST_LINKS_HOST_KEY: "host links carry a per-call host key",
}


@apps.command("set-host-links")
@APP_ARGUMENT
@click.argument("mode", metavar="widget-key|host-key", type=click.Choice(sorted(HOST_LINK_WORDS)))
@pass_state
def apps_set_host_links(state: State, app_id: str, mode: str) -> None:
    """Choose what the app's host links carry.

    \b
    widget-key  the default, upstream's shape: ?role=agent&appId=...&widgetKey=...
    host-key    ?role=agent&hostKey=..., a random key per call, shown once on create

    Calls made before keep their links; in host-key mode the widget key no longer
    lets an agent join.
    """
    host_links = HOST_LINK_WORDS[mode]
    changed = state.store().set_host_links(app_id, host_links)
    meaning = HOST_LINK_MEANINGS[host_links]
    state.emit(
        {"appId": app_id, "hostLinks": host_links, "changed": changed},
        f"app {app_id}: {meaning}" + ("" if changed else " already"),
    )


@apps.command("set-origins")
@APP_ARGUMENT
@click.argument("origins", metavar="ORIGIN...", nargs=-1, required=True, callback=checked(inputs.origin))
@pass_state
def apps_set_origins(state: State, app_id: str, origins: tuple[str, ...]) -> None:
    """Replace the origins browsers may call from.

    Each ORIGIN is scheme://host[:port], as browsers send it.
    """
    unique = tuple(dict.fromkeys(origins))
    state.store().set_allowed_origins(app_id, unique)
    state.emit(
        {"appId": app_id, "allowedOrigins": list(unique)},
        f"app {app_id}: allowed origins {', '.join(unique)}",
    )


@apps.command("clear-origins")
@APP_ARGUMENT
@pass_state
def apps_clear_origins(state: State, app_id: str) -> None:
    """Let any origin call again."""
    state.store().set_allowed_origins(app_id, ())
    state.emit({"appId": app_id, "allowedOrigins": []}, f"app {app_id}: any origin may call")


# keys


@cli.group()
def keys() -> None:
    """Widget keys: add, list, revoke (rotation without downtime)."""


@keys.command("add")
@APP_ARGUMENT
@pass_state
def keys_add(state: State, app_id: str) -> None:
    """Add a widget key beside the app's others; printed this once."""
    key = state.store().create_key(app_id)
    state.emit(
        _new_key_json(key),
        output.record({"appId": key.app_id, "keyId": key.key_id, "widgetKey": key.widget_key}),
    )
    click.echo(KEY_SHOWN_ONCE, err=True)


@keys.command("list")
@APP_ARGUMENT
@pass_state
def keys_list(state: State, app_id: str) -> None:
    """The app's key ids, digest prefixes and creation times."""
    found = state.store().list_keys(app_id)
    state.emit([_key_json(key) for key in found], _keys_table(found))


@keys.command("revoke")
@APP_ARGUMENT
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, app_id: str, key_id: str) -> None:
    """Remove one key: callers still using it get 401."""
    remaining = state.store().revoke_key(app_id, key_id)
    state.emit(
        {"appId": app_id, "keyId": key_id, "revoked": True, "remainingKeys": remaining},
        f"key {key_id} of app {app_id} revoked; {remaining} key(s) left",
    )
    if remaining == 0:
        click.echo(f"warning: app {app_id} has no keys left, every call is refused", err=True)


# presets


@cli.group()
def presets() -> None:
    """Named call settings of an app: put, list, show, delete."""


def _preset_json(preset: PresetInfo, active: str | None) -> dict[str, Any]:
    return {
        "appId": preset.app_id,
        "presetId": preset.preset_id,
        "settings": preset.settings,
        "updatedAt": preset.updated_at,
        "active": preset.preset_id == active,
    }


@presets.command("put")
@APP_ARGUMENT
@PRESET_ARGUMENT
@click.option(
    "--file",
    "settings_file",
    type=click.File("r", encoding="utf-8"),
    metavar="PATH",
    help="Settings as a JSON object ('-' for stdin); further settings are kept.",
)
@click.option("--host-name", help="Default display name of the host (1-100 characters).")
@click.option("--guest-name", help="Default display name of the guest (1-100 characters).")
@click.option("--record-on-start/--no-record-on-start", default=None, help="Record when the meeting begins.")
@click.option("--preview/--no-preview", default=None, help="Show the preview screen before joining.")
@pass_state
def presets_put(
    state: State,
    app_id: str,
    preset_id: str,
    settings_file: Any,
    host_name: str | None,
    guest_name: str | None,
    record_on_start: bool | None,
    preview: bool | None,
) -> None:
    """Create or replace a preset.

    Settings from flags and/or a JSON file; flags win over the file. The whole
    preset is replaced.
    """
    settings: dict[str, Any] = {}
    try:
        if settings_file is not None:
            settings = inputs.settings_from_json(settings_file.read())
        flags = {
            "hostName": host_name,
            "guestName": guest_name,
            "recordOnStart": record_on_start,
            "previewEnabled": preview,
        }
        settings.update({name: value for name, value in flags.items() if value is not None})
        settings = inputs.preset_settings(settings)
    except inputs.InvalidInput as error:
        raise click.UsageError(str(error)) from None
    state.store().put_preset(app_id, preset_id, settings)
    state.emit(
        {"appId": app_id, "presetId": preset_id, "settings": settings},
        f"preset {preset_id} of app {app_id} saved: {output.as_json(settings)}",
    )


@presets.command("list")
@APP_ARGUMENT
@pass_state
def presets_list(state: State, app_id: str) -> None:
    """The app's presets and their settings; * marks the active one."""
    store = state.store()
    active = store.get_app(app_id).active_preset_id
    found = store.list_presets(app_id)
    state.emit(
        [_preset_json(preset, active) for preset in found],
        output.table(
            ["", "PRESET ID", "SETTINGS", "UPDATED"],
            [
                (
                    "*" if preset.preset_id == active else "",
                    preset.preset_id,
                    preset.settings,
                    preset.updated_at,
                )
                for preset in found
            ],
            empty="(no presets: calls get the built-in defaults)",
        ),
    )


@presets.command("show")
@APP_ARGUMENT
@PRESET_ARGUMENT
@pass_state
def presets_show(state: State, app_id: str, preset_id: str) -> None:
    """One preset's settings."""
    store = state.store()
    preset = store.get_preset(app_id, preset_id)
    active = store.get_app(app_id).active_preset_id
    state.emit(
        _preset_json(preset, active),
        output.record(
            {
                "appId": app_id,
                "presetId": preset.preset_id,
                "active": preset.preset_id == active,
                "updatedAt": preset.updated_at,
                **{f"  {name}": value for name, value in preset.settings.items()},
            }
        ),
    )


@presets.command("delete")
@APP_ARGUMENT
@PRESET_ARGUMENT
@pass_state
def presets_delete(state: State, app_id: str, preset_id: str) -> None:
    """Delete a preset (not the app's active one)."""
    state.store().delete_preset(app_id, preset_id)
    state.emit(
        {"appId": app_id, "presetId": preset_id, "deleted": True},
        f"preset {preset_id} of app {app_id} deleted",
    )


# calls


@cli.group()
def calls() -> None:
    """Calls created through the API: show, list, end (kept until their TTL), and their recordings."""


def _call_view(store: AdminStore, call: CallRecord, now: datetime) -> CallView:
    """The API's call view (docs/behaviour.md section 5.2) without host links: those carry a widget key,
    which an operator does not have."""
    return call_view(call, now=now, base_url=store.join_base_url)


def _call_text(view: Mapping[str, Any]) -> str:
    return output.record({name: value for name, value in view.items() if name != "joinUrl"})


CALL_ARGUMENT = click.argument("call_id", metavar="CALL_ID")


@calls.command("show")
@APP_ARGUMENT
@CALL_ARGUMENT
@pass_state
def calls_show(state: State, app_id: str, call_id: str) -> None:
    """One call of the app, as GET /api/calls/{callId} shows it.

    Another app's call is not found, as in the API.
    """
    store = state.store()
    view = _call_view(store, store.show_call(app_id, call_id), utc_now())
    state.emit(view, _call_text(view))


@calls.command("list")
@APP_ARGUMENT
@click.option(
    "--status", type=click.Choice(STATUSES), help="Only calls with this status, as the API derives it."
)
@click.option(
    "--conversation-id",
    metavar="ID",
    callback=checked(inputs.conversation_id),
    help="Only the calls of this Genesys conversation (its index: one Query a page).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many calls; the pages are followed until they are found.",
)
@click.option("--all", "list_all", is_flag=True, help="Every matching call: follow the pages to the end.")
@pass_state
def calls_list(
    state: State, app_id: str, status: str | None, conversation_id: str | None, limit: int, list_all: bool
) -> None:
    """The app's calls, newest first, as GET /api/calls lists them."""
    store = state.store()
    now = utc_now()
    listing = store.list_calls(
        app_id, now=now, limit=None if list_all else limit, status=status, conversation_id=conversation_id
    )
    views = [_call_view(store, call, now) for call in listing.calls]
    state.emit(
        views,
        output.table(
            ["CALL ID", "CREATED", "STATUS", "ENDED", "PRESET", "TITLE"],
            [
                (
                    v["callId"],
                    v["createdAt"],
                    v["status"],
                    v.get("endedAt"),
                    v.get("presetId"),
                    v.get("title"),
                )
                for v in views
            ],
            empty="(no calls)",
        ),
    )
    if listing.more:
        click.echo(f"(more calls may follow: raise --limit above {limit} or pass --all)", err=True)


@calls.command("end")
@APP_ARGUMENT
@CALL_ARGUMENT
@pass_state
def calls_end(state: State, app_id: str, call_id: str) -> None:
    """End a call of the app, as POST /api/calls/{callId}/end does.

    Ending an ended call again changes nothing and shows its first endedAt; a call
    that expired without being ended cannot be ended (exit status 1).
    """
    store = state.store()
    now = utc_now()
    ended = store.end_call(app_id, call_id, now=now)
    view = _call_view(store, ended.call, now)
    said = "ended" if ended.ended_now else "was ended already"
    state.emit(view, f"call {call_id} {said}, at {view['endedAt']}\n\n{_call_text(view)}")


@calls.command("recordings")
@APP_ARGUMENT
@CALL_ARGUMENT
@click.option(
    "--download",
    "directory",
    type=click.Path(file_okay=False, writable=True),
    help="Also save each ready recording as DIR/{recordingId}.webm.",
)
@pass_state
def calls_recordings(state: State, app_id: str, call_id: str, directory: str | None) -> None:
    """A call's recordings, newest first, as GET /api/calls/{callId}/recordings lists them.

    Another app's call is not found, as in the API. --json adds a download URL (15 minutes)
    to each ready one.
    """
    from pathlib import Path

    from calls.view import READY

    store = state.store()
    recordings = store.list_recordings(app_id, call_id)
    views = [store.recording_json(recording) for recording in recordings]
    saved: list[str] = []
    if directory is not None:
        for recording in recordings:
            if recording.status == READY:
                saved.append(str(store.download_recording(recording, Path(directory))))
    state.emit(
        views,
        output.table(
            ["RECORDING ID", "STATUS", "STARTED", "ENDED", "SIZE", "SECONDS"],
            [
                (
                    v["recordingId"],
                    v["status"],
                    v["startedAt"],
                    v.get("endedAt"),
                    v.get("sizeBytes"),
                    v.get("durationSeconds"),
                )
                for v in views
            ],
            empty="(no recordings)",
        ),
    )
    for path in saved:
        click.echo(f"saved {path}", err=True)


# webhooks: their own module (callsctl.webhooks_cli), registered here.
cli.add_command(webhooks)


def main() -> None:
    cli.main(prog_name="callsctl")
