"""Concurrent clients against the local HTTP server, each on its own keep-alive connection."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

WARMUP_REQUESTS_PER_CLIENT = 5


@dataclass
class ClientTally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    finished: float = 0.0


@dataclass(frozen=True)
class LoadResult:
    clients: int
    requests: int
    duration_s: float
    latencies_ns: list[int]
    statuses: dict[int, int]
    failures: list[str]

    @property
    def errors(self) -> int:
        unexpected = sum(count for status, count in self.statuses.items() if status != 201)
        return unexpected + len(self.failures)

    @property
    def throughput_rps(self) -> float:
        return len(self.latencies_ns) / self.duration_s if self.duration_s else 0.0


def run_load(
    port: int,
    *,
    clients: int,
    requests: int,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> LoadResult:
    """`requests` POSTs shared out among `clients` threads that start together; 201 is the only success."""
    shares = [requests // clients + (1 if index < requests % clients else 0) for index in range(clients)]
    tallies = [ClientTally() for _ in range(clients)]
    start = threading.Barrier(clients + 1, timeout=120)

    def client(share: int, tally: ClientTally) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for _ in range(WARMUP_REQUESTS_PER_CLIENT):
                _post(connection, path, headers, body)
        except (OSError, http.client.HTTPException) as error:
            tally.failures.append(f"warm-up: {type(error).__name__}: {error}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        for _ in range(share):
            began = time.perf_counter_ns()
            try:
                status = _post(connection, path, headers, body)
            except (OSError, http.client.HTTPException) as error:
                tally.failures.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            tally.latencies_ns.append(time.perf_counter_ns() - began)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
        tally.finished = time.monotonic()
        connection.close()

    threads = [
        threading.Thread(target=client, args=(share, tally), daemon=True)
        for share, tally in zip(shares, tallies, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    statuses: dict[int, int] = {}
    for tally in tallies:
        for status, count in tally.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return LoadResult(
        clients=clients,
        requests=requests,
        duration_s=max(tally.finished for tally in tallies) - began,
        latencies_ns=[latency for tally in tallies for latency in tally.latencies_ns],
        statuses=statuses,
        failures=[failure for tally in tallies for failure in tally.failures],
    )


def _post(connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str], body: bytes) -> int:
    connection.request("POST", path, body=body, headers=dict(headers))
    response = connection.getresponse()
    response.read()
    return response.status
