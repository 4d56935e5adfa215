"""The local executor: a process pool (``spawn``: fresh interpreters, like Ray workers)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class LocalExecutor:
    """``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes. At most
    ``2 x workers`` tasks are in flight, so an interrupted run has not queued work it never
    started and memory stays flat for large manifests."""

    name = "local"

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        if self._pool is None:
            raise RuntimeError("LocalExecutor used outside its with-block")
        pending: dict[Future[Any], int] = {}
        nxt = 0
        limit = 2 * self.workers
        while nxt < len(items) or pending:
            while nxt < len(items) and len(pending) < limit:
                try:
                    pending[self._pool.submit(fn, items[nxt])] = nxt
                except BrokenProcessPool:
                    # A worker died (killed, out of memory): its tasks were reported as
                    # failed below; start a fresh pool for the rest.
                    self.__exit__()
                    self.__enter__()
                    continue
                nxt += 1
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    yield i, fut.result()
                except Exception as err:  # the worker died or the result could not travel
                    yield i, err
