"""A bounded load test: several concurrent clients, a fixed number of requests each.

Used by ``benchmarks/bench_grpc.py`` (which prints the figures) and by a small test that
checks there are no errors. Each client has its own :class:`KServeClient` (its own channel),
as separate processes or vehicles would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from saferoad.adapters.grpc.client import ClientOptions, KServeClient
from saferoad.adapters.grpc.models import Arrays


@dataclass
class LoadResult:
    clients: int
    requests_per_client: int
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies_s) * 1e3, q)) if self.latencies_s else float("nan")

    @property
    def throughput_rps(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else float("nan")

    def summary(self) -> str:
        return (
            f"{self.clients} clients x {self.requests_per_client} requests: {self.ok} ok, "
            f"{len(self.errors)} errors, p50 {self.percentile_ms(50):.2f} ms, "
            f"p99 {self.percentile_ms(99):.2f} ms, {self.throughput_rps:.1f} req/s"
        )


def run_load(
    url: str,
    make_inputs: Callable[[int, int], Arrays],
    clients: int,
    requests_per_client: int,
    options: ClientOptions | None = None,
) -> LoadResult:
    """``clients`` threads each send ``requests_per_client`` inferences (inputs from
    ``make_inputs(client, request)``); every latency and error is recorded."""
    result = LoadResult(clients, requests_per_client)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        c = KServeClient(url, options)
        try:
            c.server_live()  # connect before the clock starts
            start_gate.wait()
            for j in range(requests_per_client):
                x = make_inputs(k, j)
                t0 = time.perf_counter()
                try:
                    c.infer(x)
                except Exception as err:
                    with lock:
                        result.errors.append(f"client {k} request {j}: {err}")
                    continue
                dt = time.perf_counter() - t0
                with lock:
                    result.latencies_s.append(dt)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.wall_s = time.perf_counter() - t0
    return result
