"""`make run`: DynamoDB Local (or DYNAMODB_ENDPOINT_URL), tables, demo data, a local S3 for the
recordings (moto, or S3_ENDPOINT_URL), and on one port the API, the signaling WebSocket API and the
pages, as the deployed stack serves them on one origin."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import secrets
import signal
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from localrun.database import admin_store, prepare_database
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.dynamodb_local import DynamoDBLocalError, local_aws_environment, running_dynamodb_local
from localrun.gateway import Handler
from localrun.runfile import (
    PROJECT_ROOT,
    LocalRun,
    LocalRunError,
    local_dir,
    recorded_local_run,
    refuse_a_second_run,
)
from localrun.s3_local import (
    LocalS3Error,
    RecordingCopies,
    origin_of,
    prepare_bucket,
    running_s3_server,
    s3_client,
)
from localrun.server import LocalServer
from localrun.static import GENESYS_PAGE_PATH, Site

# The deployed function caches apps for 30 s, which suits a fleet of Lambdas. A local run is one
# process and one developer, who runs `callsctl` and expects the very next request to obey it.
LOCAL_RUN_DEFAULTS = {"CACHE_TTL_SECONDS": "0"}


def apply_local_run_defaults(environ: MutableMapping[str, str]) -> None:
    """The local run's defaults, where the developer has set no value of their own."""
    for name, value in LOCAL_RUN_DEFAULTS.items():
        if not environ.get(name, "").strip():
            environ[name] = value


def apply_local_addresses(environ: MutableMapping[str, str], port: int) -> None:
    """Where the functions find the local run: its own page, WebSocket API and management API.

    The join links and the signaling URL lead to this server unless the developer points them
    elsewhere (a tunnel, say); the management API is always this server's, since the connections
    live here. Without a SIGNALING_TOKEN_KEY the two functions share a random one: they run in
    this one process.
    """
    origin = f"http://127.0.0.1:{port}"
    defaults = {
        "JOIN_BASE_URL": origin,
        "SIGNALING_URL": f"ws://127.0.0.1:{port}/ws",
        "SIGNALING_TOKEN_KEY": secrets.token_urlsafe(48),
    }
    for name, value in defaults.items():
        if not environ.get(name, "").strip():
            environ[name] = value
    environ["SIGNALING_CALLBACK_URL"] = f"{origin}/__connections__"


SIGNALING_DIR = PROJECT_ROOT / "functions" / "signaling"


class SignalingNotImportable(RuntimeError):
    pass


def load_signaling_handler() -> Handler | None:
    """The signaling function, if this checkout has it (functions/signaling)."""
    try:
        module = importlib.import_module("signaling.handler")
    except ModuleNotFoundError as error:
        if error.name not in ("signaling", "signaling.handler"):
            raise
        if SIGNALING_DIR.is_dir():
            raise SignalingNotImportable(
                f"{SIGNALING_DIR} is here but `import signaling.handler` fails: run `make deps` "
                "again (the editable install maps the packages it found)"
            ) from error
        return None
    handler: Handler = module.lambda_handler
    return handler


@contextlib.contextmanager
def database_endpoint(directory: Path | None = None) -> Iterator[str]:
    configured = os.environ.get("DYNAMODB_ENDPOINT_URL")
    if configured:
        print(f"Using the DynamoDB endpoint {configured}")
        yield configured
        return
    directory = directory or local_dir()
    port = int(os.environ.get("DYNAMODB_LOCAL_PORT", "8000"))
    data_dir = Path(os.environ.get("DYNAMODB_LOCAL_DATA_DIR", str(directory / "dynamodb")))
    directory.mkdir(parents=True, exist_ok=True)
    with running_dynamodb_local(port, data_dir, log_path=directory / "dynamodb-local.log") as endpoint:
        print(f"DynamoDB Local on {endpoint}, data kept in {data_dir}")
        yield endpoint


@contextlib.contextmanager
def s3_endpoint(directory: Path) -> Iterator[str]:
    """S3_ENDPOINT_URL when set (any S3-compatible server), else moto's server, started here."""
    configured = os.environ.get("S3_ENDPOINT_URL", "").strip()
    if configured:
        print(f"Using the S3 endpoint {configured}")
        yield configured
        return
    port = int(os.environ.get("S3_LOCAL_PORT", "0") or 0)
    directory.mkdir(parents=True, exist_ok=True)
    with running_s3_server(port or None, log_path=directory / "s3-local.log") as endpoint:
        print(f"Local S3 (moto) on {endpoint}, recordings kept in {directory / 'recordings'}")
        yield endpoint


def prepare_recordings(endpoint: str, directory: Path, port: int) -> RecordingCopies:
    """The bucket, open to the page's origins (the join links' and this server's own), and every
    recording kept from earlier runs put back."""
    from calls.settings import get_settings

    settings = get_settings()
    client = s3_client(endpoint)
    origins = [origin_of(settings.join_base_url), f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    prepare_bucket(client, settings.recordings_bucket_name, origins)
    copies = RecordingCopies(directory / "recordings", client, settings.recordings_bucket_name)
    for key in copies.restore():
        print(f"Restored {key}")
    return copies


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    local_aws_environment()
    apply_local_run_defaults(os.environ)
    port = int(os.environ.get("PORT", "3000"))
    apply_local_addresses(os.environ, port)
    directory = local_dir()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        refuse_a_second_run(directory)
        with database_endpoint(directory) as endpoint, s3_endpoint(directory) as s3:
            os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint
            os.environ["S3_ENDPOINT_URL"] = s3
            for made in prepare_database(admin_store(endpoint)):
                print(f"Created {made}")
            copies = prepare_recordings(s3, directory, port)
            return asyncio.run(serve(port, endpoint, directory, copies))
    except (LocalRunError, DynamoDBLocalError, LocalS3Error, SignalingNotImportable) as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def serve(port: int, endpoint: str, directory: Path, copies: RecordingCopies | None = None) -> int:
    from calls.handler import lambda_handler
    from calls.settings import get_settings

    from localrun.events import LocalEvents

    signaling = load_signaling_handler()
    server = LocalServer(lambda_handler, site=Site(), signaling=signaling, port=port)
    # Section 7 for real: the calls table's stream drives the events and delivery code, and the
    # signaling function's stream handler, which tells the call's pages that it ended. Started
    # first, so that nothing written once the server answers is missed.
    events = LocalEvents(
        endpoint,
        get_settings().calls_table_name,
        signaling=server.signaling.invoke_from_thread if server.signaling is not None else None,
        recordings_table_name=get_settings().recordings_table_name,
        recording_copies=copies,
    )
    events.start()
    try:
        try:
            await server.start()
        except OSError as error:
            print(f"make run: cannot listen on {server.url}: {error.strerror}; set PORT", file=sys.stderr)
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        run = LocalRun(
            os.getpid(),
            server.url,
            endpoint,
            get_settings().join_base_url,
            s3_endpoint=os.environ.get("S3_ENDPOINT_URL") or None,
        )
        with recorded_local_run(directory, run):
            print(banner(server, events.scale, signaling is not None), flush=True)
            await stop.wait()
            print("\nStopping…", flush=True)
    finally:
        # In a thread: a stream handler still running may be posting to this server's sockets.
        await asyncio.to_thread(events.stop)
        await server.stop()
    return 0


def banner(server: LocalServer, retry_scale: float, signaling: bool) -> str:
    from calls.settings import get_settings

    url = server.url
    cache_ttl = get_settings().cache_ttl_seconds
    cache = f"{cache_ttl:g} s" if cache_ttl else "off, an operator's change applies to the next request"
    calls = f"  call page (the join links): {get_settings().join_base_url}/c/<callId>\n" + (
        f"  signaling: {os.environ.get('SIGNALING_URL')}\n"
        if signaling
        else "  signaling: functions/signaling is not in this checkout, so /ws is not served\n"
    )
    return (
        f"\nVideo Calls API listening on {url}\n"
        f"  demo credentials: appId={DEMO_APP_ID} widgetKey={DEMO_WIDGET_KEY}\n"
        f"  widget demo page: {url}/   API reference: {url}/docs\n"
        f"  Genesys agent panel: {url}{GENESYS_PAGE_PATH}?appId={DEMO_APP_ID}"
        f"&widgetKey={DEMO_WIDGET_KEY}&conversationId=demo-conversation&gcLangTag=en-us\n"
        f"{calls}"
        f"  app cache (CACHE_TTL_SECONDS): {cache}\n\n"
        "Create a call:\n"
        f"  curl -i -X POST {url}/api/calls -H 'Content-Type: application/json' "
        f"-H 'X-App-Id: {DEMO_APP_ID}' -H 'X-Widget-Key: {DEMO_WIDGET_KEY}' "
        '-d \'{"title": "Support Session #1234"}\'\n\n'
        "Webhooks: `callsctl --local webhooks add APP_ID URL` registers a receiver; deliveries run\n"
        f"  in-process with the retry schedule compressed {1 / retry_scale:.0f}x "
        "(LOCAL_RETRY_SPAN_SECONDS).\n\n"
        "Ctrl-C stops the server and the database."
    )


if __name__ == "__main__":
    sys.exit(main())
