"""Run evaluation tasks on Ray: a local instance (loopback only) or a cluster by address.

The tasks are the same module-level function the local process pool runs, so results are
identical; only where they run changes. A local instance is started with
``ray.init(num_cpus=N, include_dashboard=False)`` bound to 127.0.0.1 and shut down when the
executor closes; a cluster given by ``address`` (``ray://head:10001``, or ``auto`` inside a
RayJob) is joined and left running.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from saferoad.observability import get_logger


class RayExecutor:
    """See the module docstring. ``workers`` is the CPU count of a local instance (0 = every
    core); on a cluster Ray schedules one task per CPU across the nodes."""

    name = "ray"

    def __init__(self, workers: int = 0, address: str | None = None, max_in_flight: int = 0) -> None:
        self.workers = workers or (os.cpu_count() or 1)
        self.address = address
        self.max_in_flight = max_in_flight
        self.startup_s: float | None = None
        self._started_here = False

    def __enter__(self) -> RayExecutor:
        import ray  # deferred: Ray is an optional extra, loaded only when this executor is used

        log = get_logger("ray")
        t0 = time.perf_counter()
        if ray.is_initialized():
            self._started_here = False
        elif self.address:
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            self._started_here = True
        else:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                num_cpus=self.workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _node_ip_address="127.0.0.1",
            )
            self._started_here = True
        if self.address:
            self.workers = int(ray.cluster_resources().get("CPU", self.workers))  # type: ignore[no-untyped-call]
        self.startup_s = time.perf_counter() - t0
        log.info("ray_ready", address=self.address or "local", cpus=self.workers, startup_s=round(self.startup_s, 3))
        return self

    def __exit__(self, *exc: object) -> None:
        import ray  # deferred: optional extra (see __enter__)

        if self._started_here and ray.is_initialized():
            ray.shutdown()
        self._started_here = False

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        # deferred: optional extra (see __enter__)
        import ray
        from ray.exceptions import RayError

        remote = ray.remote(num_cpus=1, max_retries=1)(fn)
        limit = self.max_in_flight or max(4 * self.workers, 8)
        pending: dict[Any, int] = {}
        nxt = 0
        while nxt < len(items) or pending:
            while nxt < len(items) and len(pending) < limit:
                pending[remote.remote(items[nxt])] = nxt
                nxt += 1
            done, _ = ray.wait(list(pending), num_returns=1, timeout=None)
            # Collect whatever else has finished too, without waiting.
            more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            for ref in {*done, *more}:
                i = pending.pop(ref)
                try:
                    yield i, ray.get(ref)
                except RayError as err:  # worker died, node lost, task error
                    yield i, err
