"""One benchmark run: DynamoDB Local, the seeded tables, then every measurement of issue 6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localrun.processes import ServiceDidNotStart, stop, wait_for_local_api

from bench.asset import ASSET_ROOT, build_asset_zip, unpack
from bench.environment import PYTHON_FLAGS, REGION, TABLE_NAMES, lambda_environment, reported_environment
from bench.http_load import run_load
from bench.machine import REPO_ROOT, git_info, machine_info
from bench.report import SIGNALING_BUDGETS, Verdict, evaluate
from bench.stats import median, ratio, spread, summarize
from infra.function_asset import SIGNALING_PACKAGES

# A widget's typical request: title, metadata, both names, recording, a preset of the demo app.
EVENT_PATH = REPO_ROOT / "events" / "full-upstream-example.json"
# GET /api/calls/{callId}; the warm run puts the id of a call it created in its path.
READ_EVENT_PATH = REPO_ROOT / "events" / "get-call.json"
# POST /api/calls/{callId}/join as a guest's page sends it; the warm run names its calls in it.
JOIN_EVENT_PATH = REPO_ROOT / "events" / "join-call.json"
# The signaling function's sample events: the authorizer's, $connect and a signal.
SIGNALING_EVENTS_DIR = REPO_ROOT / "events" / "signaling"
Progress = Callable[[str], None]


class BenchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Options:
    cold_runs: int = 11
    warm_calls: int = 1000
    http_requests: int = 2000
    http_clients: int = 8
    # DynamoDB Local is a JVM: its first few hundred requests run interpreted, then JIT-compiled.
    server_warmup_requests: int = 300
    # Cold processes leave at once after their work, as a frozen Lambda environment never finalizes.
    finalize: bool = False
    # What to measure as the Lambda asset: functions/, or a scratch copy holding a proposed change.
    functions_dir: str = str(ASSET_ROOT)
    # Another asset whose cold start is measured beside the project's (e.g. functions/ at an
    # earlier commit), and how the table names it.
    compare_dir: str | None = None
    compare_label: str = ""
    # Whether the compared asset ships its bytecode, as the stack ships functions/ (else sources only).
    compare_bytecode: bool = True
    # Where cProfile writes the handler's measured warm calls, if anywhere.
    warm_profile: str | None = None


# The floor's client in both the cold and the warm runs.
STOCK_CLIENT = "stock: botocore's default configuration; only the endpoint is the bench's"

QUICK = Options(cold_runs=2, warm_calls=20, http_requests=40, http_clients=8, server_warmup_requests=20)


def run(options: Options, progress: Progress) -> tuple[dict[str, Any], list[Verdict]]:
    from localrun.dynamodb_local import running_dynamodb_local

    results: dict[str, Any] = {
        "schema": 2,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(),
        "measured_functions": _shown_path(Path(options.functions_dir)),
        "options": asdict(options),
        "event": EVENT_PATH.relative_to(REPO_ROOT).as_posix(),
        "read_event": READ_EVENT_PATH.relative_to(REPO_ROOT).as_posix(),
        "join_event": JOIN_EVENT_PATH.relative_to(REPO_ROOT).as_posix(),
    }
    with tempfile.TemporaryDirectory(prefix="video-calls-bench-") as scratch:
        work = Path(scratch)
        size = build_asset_zip(work / "asset.zip", Path(options.functions_dir))
        unpack(work / "asset.zip", work / "task")
        # The signaling function ships an asset of its own (calls/ and signaling/).
        build_asset_zip(work / "signaling.zip", Path(options.functions_dir), packages=SIGNALING_PACKAGES)
        unpack(work / "signaling.zip", work / "signaling-task")
        results["asset"] = asdict(size)
        sources = build_asset_zip(work / "sources.zip", Path(options.functions_dir), bytecode=False)
        results["asset"]["source_zip_bytes"] = sources.zip_bytes
        bytecode = {"project": size.compiled_modules > 0}
        if options.compare_dir is not None:
            results["compared_functions"] = options.compare_label
            compared = build_asset_zip(
                work / "compare.zip", Path(options.compare_dir), bytecode=options.compare_bytecode
            )
            results["compared_asset"] = asdict(compared)
            bytecode["compare"] = compared.compiled_modules > 0
            unpack(work / "compare.zip", work / "compare-task")
        (work / "home").mkdir()
        progress("starting DynamoDB Local (in memory)")
        with running_dynamodb_local() as endpoint:
            _prepare_database(endpoint, options.server_warmup_requests)
            environment = lambda_environment(endpoint, work / "task", work / "home")
            compare_environment = None
            if options.compare_dir is not None:
                compare_environment = lambda_environment(endpoint, work / "compare-task", work / "home")
            results["environment"] = reported_environment(environment)
            results["cold"] = measure_cold(
                options, environment, work, progress, compare_environment, bytecode=bytecode
            )
            results["warm"] = measure_warm(
                options.warm_calls, environment, work, progress, profile=options.warm_profile
            )
            results["http"] = measure_http(options, environment, work, progress)
            signaling_environment = lambda_environment(endpoint, work / "signaling-task", work / "home")
            results["signaling"] = measure_signaling(
                options.warm_calls, signaling_environment, work, progress
            )
    results["machine"]["load_average_1m_after"] = os.getloadavg()[0]
    verdicts = evaluate(results)
    results["budgets"] = [asdict(verdict) for verdict in verdicts]
    # The signaling function's own, listed apart: another function, with an asset of its own.
    signaling_verdicts = evaluate(results, SIGNALING_BUDGETS)
    results["signaling_budgets"] = [asdict(verdict) for verdict in signaling_verdicts]
    results["passed"] = all(verdict.passed for verdict in (*verdicts, *signaling_verdicts))
    return results, [*verdicts, *signaling_verdicts]


def _shown_path(path: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(REPO_ROOT).as_posix() if resolved.is_relative_to(REPO_ROOT) else str(resolved)


def _prepare_database(endpoint: str, warmup_requests: int) -> None:
    """Tables and demo data as `make run` has them, then enough traffic to warm the server's JIT."""
    import boto3
    from callsctl.store import AdminStore
    from localrun.database import prepare_database
    from localrun.demo import DEMO_APP_ID

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - DynamoDB Local takes any credentials
    )
    prepare_database(AdminStore(client, TABLE_NAMES))
    for number in range(warmup_requests):
        client.query(
            TableName=TABLE_NAMES.apps,
            KeyConditionExpression="appId = :app",
            ExpressionAttributeValues={":app": {"S": DEMO_APP_ID}},
        )
        client.put_item(
            TableName=TABLE_NAMES.calls,
            Item={"callId": {"S": f"warmup-{number}"}, "appId": {"S": DEMO_APP_ID}},
        )
        client.get_item(
            TableName=TABLE_NAMES.calls, Key={"callId": {"S": f"warmup-{number}"}}, ConsistentRead=True
        )


# Cold


@dataclass(frozen=True)
class ColdRun:
    wall_ms: float
    cpu_ms: float
    peak_rss_mb: float
    requests: int
    phases_ms: dict[str, float]
    report: dict[str, Any]


def spawn_cold(
    module: str, argument: Path, environment: dict[str, str], work: Path, *, finalize: bool = False
) -> ColdRun:
    """Run one fresh process to its exit; wall time from just before the spawn to the reaped exit."""
    report_path = work / "report.json"
    report_path.unlink(missing_ok=True)
    with open(work / "stderr.txt", "wb") as stderr:
        began = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, *PYTHON_FLAGS, "-m", module, str(argument), str(report_path)]
            + (["--finalize"] if finalize else []),
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.monotonic()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not report_path.exists():
        detail = (work / "stderr.txt").read_text(errors="replace")[-3000:]
        raise BenchError(f"{module} exited with {process.returncode}:\n{detail}")
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    stamps = report["stamps"]
    return ColdRun(
        wall_ms=(ended - began) * 1000,
        cpu_ms=(usage.ru_utime + usage.ru_stime) * 1000,
        peak_rss_mb=report["peak_rss_kib"] / 1024,
        requests=sum(report["requests"].values()),
        phases_ms={
            "startup": (stamps["begin"] - began) * 1000,
            "imports": (stamps["imported"] - stamps["begin"]) * 1000,
            "client": (stamps["client_ready"] - stamps["imported"]) * 1000,
            "event": (stamps["served"] - stamps["client_ready"]) * 1000,
            "exit": (ended - stamps["served"]) * 1000,
        },
        report=report,
    )


def _cold_side(runs: list[ColdRun]) -> dict[str, Any]:
    return {
        "wall_ms": summarize([run.wall_ms for run in runs]),
        "cpu_ms": summarize([run.cpu_ms for run in runs]),
        "peak_rss_mb": summarize([run.peak_rss_mb for run in runs]),
        "requests": {
            "min": min(run.requests for run in runs),
            "max": max(run.requests for run in runs),
            "by_operation": runs[-1].report["requests"],
        },
        "phases_ms": {phase: median([run.phases_ms[phase] for run in runs]) for phase in runs[0].phases_ms},
        "samples": {
            "wall_ms": [round(run.wall_ms, 3) for run in runs],
            "cpu_ms": [round(run.cpu_ms, 3) for run in runs],
            "peak_rss_mb": [round(run.peak_rss_mb, 3) for run in runs],
        },
    }


def _cold_ratios(side: dict[str, Any], floor: dict[str, Any]) -> dict[str, float]:
    return {
        "wall": ratio(side["wall_ms"]["p50"], floor["wall_ms"]["p50"]),
        "cpu": ratio(side["cpu_ms"]["p50"], floor["cpu_ms"]["p50"]),
        "peak_rss": ratio(side["peak_rss_mb"]["p50"], floor["peak_rss_mb"]["p50"]),
    }


def measure_cold(
    options: Options,
    environment: dict[str, str],
    work: Path,
    progress: Progress,
    compare_environment: dict[str, str] | None = None,
    bytecode: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """Project and floor (and the compared asset, if any) take turns going first, round after
    round, so that all share the noise.

    A first round of each is thrown away: it only fills the page cache and proves the setup:
    the handler came from the unpacked asset and, where the asset ships bytecode (`bytecode`,
    by side), every module of it that the create imported had its bytecode there to load.
    """
    event_path = work / "event.json"
    event_path.write_bytes(EVENT_PATH.read_bytes())
    template_path = work / "floor-template.json"
    runs, finalize = options.cold_runs, options.finalize

    def serving(side_environment: dict[str, str]) -> Callable[[], ColdRun]:
        def project() -> ColdRun:
            run = spawn_cold(
                "bench.children.cold_project", event_path, side_environment, work, finalize=finalize
            )
            if run.report["status"] != 201:
                raise BenchError(f"the benchmark event answered {run.report['status']}, not 201")
            return run

        return project

    def floor() -> ColdRun:
        return spawn_cold("bench.children.cold_floor", template_path, environment, work, finalize=finalize)

    served_from = {"project": environment}
    if compare_environment is not None:
        served_from["compare"] = compare_environment
    # The project first: the floor's template is its requests.
    sides = {name: serving(served) for name, served in served_from.items()}
    sides["floor"] = floor
    firsts: dict[str, ColdRun] = {}
    for name, side in sides.items():
        if name == "floor":
            template = {"params": firsts["project"].report["params"]}
            template_path.write_text(json.dumps(template), encoding="utf-8")
        firsts[name] = side()
    for name, served in served_from.items():
        module_path = firsts[name].report["module_path"]
        if not Path(module_path).is_relative_to(served["LAMBDA_TASK_ROOT"]):
            raise BenchError(f"the handler came from {module_path}, not the unpacked asset")
        report = firsts[name].report
        without = sorted(set(report["calls_modules"]) - set(report["bytecode_modules"]))
        if (bytecode or {}).get(name, False) and without:
            raise BenchError(f"the {name} asset ships bytecode, but not for {', '.join(without)}")

    names = list(sides)
    samples: dict[str, list[ColdRun]] = {name: [] for name in names}
    for number in range(runs):
        turn = number % len(names)
        for name in names[turn:] + names[:turn]:
            samples[name].append(sides[name]())
        progress(
            f"cold {number + 1}/{runs}: "
            + ", ".join(f"{name} {samples[name][-1].wall_ms:.0f} ms" for name in names)
        )
    project_side, floor_side = _cold_side(samples["project"]), _cold_side(samples["floor"])
    paired = [p.wall_ms / f.wall_ms for p, f in zip(samples["project"], samples["floor"], strict=True)]
    results: dict[str, Any] = {
        "project": project_side,
        "floor": floor_side,
        "ratios": {**_cold_ratios(project_side, floor_side), "wall_paired_median": median(paired)},
        "noise": {
            "wall_spread_project": spread(project_side["wall_ms"]),
            "wall_spread_floor": spread(floor_side["wall_ms"]),
        },
        "project_client_config": firsts["project"].report["client_config"],
        "project_modules": firsts["project"].report["calls_modules"],
        "project_bytecode_modules": len(firsts["project"].report["bytecode_modules"]),
        "floor_client": STOCK_CLIENT,
        "exit": "interpreter finalized" if finalize else "os._exit after the work (no teardown)",
    }
    if "compare" in samples:
        compare_side = _cold_side(samples["compare"])
        results["compare"] = {**compare_side, "ratios": _cold_ratios(compare_side, floor_side)}
    return results


# Warm


def _milliseconds(samples_ns: list[int]) -> list[float]:
    return [sample / 1e6 for sample in samples_ns]


def _per_call(counts: list[int]) -> dict[str, float]:
    return {"min": min(counts), "max": max(counts), "mean": sum(counts) / len(counts)}


def _warm_series(series: dict[str, Any], expected_status: str) -> dict[str, Any]:
    if set(series["statuses"]) != {expected_status}:
        raise BenchError(f"warm events answered {series['statuses']}, not only {expected_status}")
    project = summarize(_milliseconds(series["project_ns"]))
    floor = summarize(_milliseconds(series["floor_ns"]))
    return {
        "project": {"latency_ms": project, "requests_per_call": _per_call(series["project_requests"])},
        "floor": {"latency_ms": floor, "requests_per_call": _per_call(series["floor_requests"])},
        "ratios": {name: ratio(project[name], floor[name]) for name in ("p50", "p95", "p99")},
        "first_call_requests": series["first_call_requests"],
        "duration_s": series["duration_s"],
    }


def _join_counts(counts: dict[str, list[int]]) -> dict[str, Any]:
    """DynamoDB requests of joins, by role and over both."""
    every = [count for role_counts in counts.values() for count in role_counts]
    by_role = {role: _per_call(role_counts) for role, role_counts in counts.items()}
    return {"min": min(every), "max": max(every), "joins": len(every), "by_role": by_role}


def measure_warm(
    calls: int, environment: dict[str, str], work: Path, progress: Progress, profile: str | None = None
) -> dict[str, Any]:
    progress(
        f"warm: {calls} creates against bare PutItems, then {calls} reads and {calls} joins "
        "against bare GetItems"
    )
    report_path = work / "warm.json"
    (work / "read-event.json").write_bytes(READ_EVENT_PATH.read_bytes())
    (work / "join-event.json").write_bytes(JOIN_EVENT_PATH.read_bytes())
    arguments: tuple[Any, ...] = (
        work / "event.json",
        work / "read-event.json",
        work / "join-event.json",
        calls,
        report_path,
    )
    if profile is not None:
        arguments += (profile,)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, *PYTHON_FLAGS, "-m", "bench.children.warm", *map(str, arguments)],
        cwd=REPO_ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        timeout=900,
    )
    if completed.returncode != 0:
        raise BenchError(f"the warm run failed:\n{completed.stderr.decode(errors='replace')[-3000:]}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return {
        "calls": calls,
        "create": _warm_series(report["create"], "201"),
        "read": _warm_series(report["read"], "200"),
        "join": {
            **_warm_series(report["join"], "200"),
            "first_join_requests": _join_counts(report["join"]["joins"]["first"]),
            "repeat_join_requests": _join_counts(report["join"]["joins"]["again"]),
        },
        "floor_client": STOCK_CLIENT,
        "cache_ttl_seconds": report["cache_ttl_seconds"],
        "peak_rss_mb": report["peak_rss_kib"] / 1024,
    }


# The signaling function


def _signaling_series(series: dict[str, Any]) -> dict[str, Any]:
    if set(series["statuses"]) != {"200"}:
        raise BenchError(f"signaling events answered {series['statuses']}, not only 200")
    figures: dict[str, Any] = {"duration_s": series["duration_s"]}
    for side in ("project", "floor"):
        figures[side] = {
            "latency_ms": summarize(_milliseconds(series[f"{side}_ns"])),
            "requests_per_call": _per_call(series[f"{side}_requests"]),
            "posts_per_call": _per_call(series[f"{side}_posts"]),
        }
    figures["ratios"] = {
        name: ratio(figures["project"]["latency_ms"][name], figures["floor"]["latency_ms"][name])
        for name in ("p50", "p95", "p99")
    }
    return figures


def measure_signaling(
    calls: int, environment: dict[str, str], work: Path, progress: Progress
) -> dict[str, Any]:
    """The signaling function warm, in one process: a relay against a bare Query and post, a
    connection's handshake against its four bare requests. Its management API is a local endpoint."""
    from bench.management_endpoint import running_management_endpoint

    progress(f"signaling: {calls} relays against a bare Query and post, {calls} connects against 4 requests")
    report_path = work / "signaling.json"
    with running_management_endpoint() as callback_url:
        completed = subprocess.run(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                *PYTHON_FLAGS,
                "-m",
                "bench.children.signaling",
                str(work / "event.json"),
                str(SIGNALING_EVENTS_DIR),
                str(calls),
                str(report_path),
            ],
            cwd=REPO_ROOT,
            env={
                **environment,
                "CONNECTIONS_TABLE_NAME": TABLE_NAMES.connections,
                "SIGNALING_CALLBACK_URL": callback_url,
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
            timeout=900,
        )
    if completed.returncode != 0:
        raise BenchError(f"the signaling run failed:\n{completed.stderr.decode(errors='replace')[-3000:]}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return {
        "calls": calls,
        "relay": _signaling_series(report["relay"]),
        "connect": _signaling_series(report["connect"]),
        "floor_client": STOCK_CLIENT,
        "peak_rss_mb": report["peak_rss_kib"] / 1024,
    }


# Through the local HTTP server


@contextmanager
def local_server(environment: dict[str, str], work: Path) -> Iterator[int]:
    """`python -m localrun` (what `make run` starts) on the benchmark's DynamoDB Local.

    Started with site, unlike the measured processes: localrun comes from the editable install.
    """
    from localrun.dynamodb_local import free_port

    port = free_port()
    with open(work / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localrun"],
            cwd=REPO_ROOT,
            # Its run file in the bench's folder, never beside a developer's `make run`.
            env={**environment, "PORT": str(port), "LOCAL_RUN_DIR": str(work)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            try:
                wait_for_local_api(port, process, work / "server.log")
            except ServiceDidNotStart as error:
                raise BenchError(str(error)) from error
            yield port
        finally:
            stop(process)


def measure_http(
    options: Options, environment: dict[str, str], work: Path, progress: Progress
) -> dict[str, Any]:
    event = json.loads(EVENT_PATH.read_text(encoding="utf-8"))
    headers = {
        "Content-Type": "application/json",
        "X-App-Id": event["headers"]["X-App-Id"],
        "X-Widget-Key": event["headers"]["X-Widget-Key"],
    }
    progress(f"HTTP: {options.http_clients} clients, {options.http_requests} requests")
    with local_server(environment, work) as port:
        load = run_load(
            port,
            clients=options.http_clients,
            requests=options.http_requests,
            path=event["path"],
            headers=headers,
            body=event["body"].encode("utf-8"),
        )
    return {
        "clients": load.clients,
        "requests": load.requests,
        "completed": len(load.latencies_ns),
        "duration_s": load.duration_s,
        "throughput_rps": load.throughput_rps,
        "latency_ms": summarize(_milliseconds(load.latencies_ns)) if load.latencies_ns else None,
        "errors": load.errors,
        "statuses": {str(status): count for status, count in sorted(load.statuses.items())},
        "failures": load.failures[:10],
    }
