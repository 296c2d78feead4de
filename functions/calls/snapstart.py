"""SnapStart: what the function builds before Lambda snapshots it, and what it renews after a restore.

With `snapStart` on (cdk.json), Lambda runs the function's init once per published version,
snapshots the microVM and resumes every new execution environment from that snapshot: what init
built, no cold start builds again. The handler builds its settings, DynamoDB client and services
on the first request (configuration is never read at import), so without a hook the snapshot
would hold imports only; `build_before_snapshot` runs that same builder during init instead.

Whatever is in the snapshot is shared, bit for bit, by every environment restored from it:

- Uniqueness. Call ids are uuid4, which asks the kernel (os.urandom) on every call: no id is
  derived from process state, and no id, token or secret is made before the snapshot. The one
  seeded generator in the process is `random`'s, seeded when the interpreter started, that is
  before the snapshot: botocore draws its retry jitter from it, so environments restored from one
  snapshot would back off in lockstep against a throttling table. `renew_after_restore` reseeds
  it from os.urandom.
- Connections. Building the client opens no socket (no request is made before the snapshot).
  Still, a keep-alive connection pooled in a snapshot would be a socket whose peer has long
  forgotten it, and its first reuse would fail or hang until the read timeout. So
  `renew_after_restore` empties the client's connection pools: the first request after a restore
  connects afresh, while the client, with its loaded service model, is kept.
- Credentials. With SnapStart, Lambda hands the role's credentials to SDKs through the container
  credentials endpoint rather than environment variables; botocore refreshes those before they
  expire, so a snapshot restored hours later signs with current ones.
- Time. Nothing time-stamped is cached before the snapshot (the app cache fills on requests).

Registration goes through the runtime's `snapshot_restore_py`, which Lambda's Python 3.12+
runtimes ship; where it is absent (locally, in tests) there is nothing to register with. In a
function without SnapStart the hooks are registered and never run.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def register_hooks(build: Callable[[], object]) -> bool:
    """Have `build` run before the snapshot and the connections renewed after each restore.

    False where the runtime's hook library is absent, as it is outside Lambda.
    """
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(build_before_snapshot, build)
    register_after_restore(renew_after_restore)
    return True


def build_before_snapshot(build: Callable[[], object]) -> None:
    """What the first request would build (settings, the client, the services), built during init."""
    build()


def renew_after_restore() -> None:
    """Make this environment its own again: a fresh random seed, no connection from the snapshot."""
    random.seed()
    _drop_pooled_connections()


def _drop_pooled_connections() -> None:
    from calls.repository import get_repository

    if get_repository.cache_info().currsize:  # built before the snapshot; never build it here
        # botocore's close() empties the connection pools; the client stays usable and reconnects.
        get_repository().client.close()
