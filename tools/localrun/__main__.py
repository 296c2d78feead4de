"""`make run`: DynamoDB Local (or DYNAMODB_ENDPOINT_URL), tables, demo data, and the API on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from localrun.database import admin_store, prepare_database
from localrun.demo import DEMO_APP_ID, DEMO_WIDGET_KEY
from localrun.dynamodb_local import PROJECT_ROOT, local_aws_environment, running_dynamodb_local
from localrun.server import LocalApiServer
from localrun.static import GENESYS_PAGE_PATH, static_routes

DATA_DIR = PROJECT_ROOT / ".local"

# The deployed function caches apps for 30 s, which suits a fleet of Lambdas. A local run is one
# process and one developer, who runs `callsctl` and expects the very next request to obey it.
LOCAL_RUN_DEFAULTS = {"CACHE_TTL_SECONDS": "0"}


def apply_local_run_defaults(environ: MutableMapping[str, str]) -> None:
    """The local run's defaults, where the developer has set no value of their own."""
    for name, value in LOCAL_RUN_DEFAULTS.items():
        if not environ.get(name, "").strip():
            environ[name] = value


@contextlib.contextmanager
def database_endpoint() -> Iterator[str]:
    configured = os.environ.get("DYNAMODB_ENDPOINT_URL")
    if configured:
        print(f"Using the DynamoDB endpoint {configured}")
        yield configured
        return
    port = int(os.environ.get("DYNAMODB_LOCAL_PORT", "8000"))
    data_dir = Path(os.environ.get("DYNAMODB_LOCAL_DATA_DIR", str(DATA_DIR / "dynamodb")))
    DATA_DIR.mkdir(exist_ok=True)
    with running_dynamodb_local(port, data_dir, log_path=DATA_DIR / "dynamodb-local.log") as endpoint:
        print(f"DynamoDB Local on {endpoint}, data kept in {data_dir}")
        yield endpoint


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    local_aws_environment()
    apply_local_run_defaults(os.environ)
    port = int(os.environ.get("PORT", "3000"))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with database_endpoint() as endpoint:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint
        prepare_database(admin_store(endpoint))

        from calls.handler import lambda_handler
        from calls.settings import get_settings

        from localrun.events import LocalEvents

        # Section 7 for real: the calls table's stream drives the events and delivery code.
        events = LocalEvents(endpoint, get_settings().calls_table_name)
        events.start()
        cache_ttl = get_settings().cache_ttl_seconds
        cache = f"{cache_ttl:g} s" if cache_ttl else "off, an operator's change applies to the next request"
        server = LocalApiServer(("127.0.0.1", port), lambda_handler, static_routes())
        print(
            f"\nVideo Calls API listening on {server.url}\n"
            f"  demo credentials: appId={DEMO_APP_ID} widgetKey={DEMO_WIDGET_KEY}\n"
            f"  widget demo page: {server.url}/   API reference: {server.url}/docs\n"
            f"  Genesys agent panel: {server.url}{GENESYS_PAGE_PATH}?appId={DEMO_APP_ID}"
            f"&widgetKey={DEMO_WIDGET_KEY}&conversationId=demo-conversation&gcLangTag=en-us\n"
            f"  app cache (CACHE_TTL_SECONDS): {cache}\n\n"
            "Create a call:\n"
            f"  curl -i -X POST {server.url}/api/calls -H 'Content-Type: application/json' "
            f"-H 'X-App-Id: {DEMO_APP_ID}' -H 'X-Widget-Key: {DEMO_WIDGET_KEY}' "
            '-d \'{"title": "Support Session #1234"}\'\n\n'
            "Webhooks: `callsctl --local webhooks add APP_ID URL` registers a receiver; deliveries run\n"
            f"  in-process with the retry schedule compressed {1 / events.scale:.0f}x "
            "(LOCAL_RETRY_SPAN_SECONDS).\n\n"
            "Ctrl-C stops the server and the database.",
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("\nStopping…", flush=True)
        finally:
            server.server_close()
            events.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
