"""`make bench` / `python -m bench`: measure, print the table, write bench/results.json.

Exits 1 when a budget fails (0 with --report-only), 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.asset import ASSET_ROOT
from bench.harness import QUICK, BenchError, Options, run
from bench.machine import REPO_ROOT, UnknownRevision, export_functions
from bench.report import render

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results.json"
# Above these, other work on the machine probably moved the figures (the spread is IQR / median).
NOISY_SPREAD = 0.15
NOISY_LOAD = 1.0


def parse_options(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cold-runs", type=int, default=defaults.cold_runs, help="fresh processes per side")
    parser.add_argument("--warm-calls", type=int, default=defaults.warm_calls, help="events in the warm run")
    parser.add_argument("--http-requests", type=int, default=defaults.http_requests)
    parser.add_argument("--http-clients", type=int, default=defaults.http_clients)
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run that proves the harness works; timings mean little"
    )
    parser.add_argument("--report-only", action="store_true", help="exit 0 even when a budget fails")
    parser.add_argument(
        "--finalize",
        action="store_true",
        help="let cold processes finalize the interpreter before exiting (Lambda never does)",
    )
    parser.add_argument(
        "--functions",
        type=Path,
        default=ASSET_ROOT,
        help="the asset directory to measure (default functions/), e.g. a copy with a proposed change",
    )
    parser.add_argument(
        "--compare",
        metavar="REV_OR_DIR",
        help="also measure the cold start of functions/ at this git revision (or of this directory), "
        "interleaved with the project's and the floor's, e.g. --compare 0ec4940",
    )
    parser.add_argument(
        "--compare-without-bytecode",
        action="store_true",
        help="ship the compared asset as sources only, as the stack did before it shipped bytecode; "
        "without --compare, compare the measured functions/ itself so packed",
    )
    parser.add_argument(
        "--profile-warm",
        type=Path,
        metavar="FILE",
        help="cProfile the handler's measured warm calls into FILE (their timings then mean little)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the results")
    arguments = parser.parse_args(argv)
    choices: dict[str, Any] = {
        "finalize": arguments.finalize,
        "functions_dir": str(arguments.functions.resolve()),
        "warm_profile": str(arguments.profile_warm.resolve()) if arguments.profile_warm else None,
    }
    if arguments.quick:
        return dataclasses.replace(QUICK, **choices), arguments
    options = Options(
        cold_runs=arguments.cold_runs,
        warm_calls=arguments.warm_calls,
        http_requests=arguments.http_requests,
        http_clients=arguments.http_clients,
        **choices,
    )
    if options.cold_runs < 1 or options.warm_calls < 1 or options.http_requests < options.http_clients:
        parser.error("cold runs and warm calls must be positive, HTTP requests at least one per client")
    return options, arguments


def _with_comparison(options: Options, compare: str, scratch: Path) -> Options:
    """The asset to compare with: a directory as it is, else functions/ at a git revision."""
    if Path(compare).is_dir():
        directory, label = Path(compare).resolve(), compare
    else:
        directory, commit = export_functions(compare, scratch)
        label = f"functions/ at {commit[:12]}"
    return dataclasses.replace(options, compare_dir=str(directory), compare_label=label)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    options, arguments = parse_options(argv)
    with tempfile.TemporaryDirectory(prefix="video-calls-compare-") as scratch:
        try:
            if arguments.compare:
                options = _with_comparison(options, arguments.compare, Path(scratch))
            elif arguments.compare_without_bytecode:
                label = "functions/" if arguments.functions == ASSET_ROOT else str(arguments.functions)
                options = dataclasses.replace(options, compare_dir=options.functions_dir, compare_label=label)
            if arguments.compare_without_bytecode:
                label = f"{options.compare_label} without bytecode"
                options = dataclasses.replace(options, compare_bytecode=False, compare_label=label)
            results, verdicts = run(options, _progress)
        except (BenchError, UnknownRevision) as error:
            print(f"The benchmark could not run: {error}", file=sys.stderr)
            return 2
    machine, git = results["machine"], results["git"]
    commit = (git["commit"] or "unknown")[:12]
    if results["measured_functions"] != "functions":
        commit += f", measuring {results['measured_functions']} instead of functions/"
    elif git["functions_modified"]:
        commit += " (functions/ modified)"
    if "compared_functions" in results:
        commit += f"; compared with {results['compared_functions']}"
    print(
        f"\nVideo Calls API benchmark, {results['date']}, commit {commit}\n"
        f"{machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
        f"load average {machine['load_average_1m']:.2f} at the start, "
        f"{machine['load_average_1m_after']:.2f} at the end\n"
    )
    print(render(results, verdicts))
    spreads = results["cold"]["noise"]
    if max(spreads.values()) > NOISY_SPREAD or machine["load_average_1m"] > NOISY_LOAD:
        print(
            f"Note: a noisy run (load average {machine['load_average_1m']:.2f}, cold wall-time spread "
            f"{max(spreads.values()):.0%} of the median): other work shared the machine; run it again."
        )
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"Results written to {arguments.output}")
    if results["passed"] or arguments.report_only:
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
