"""Dynamic batching: requests from concurrent callers joined into one model run.

The first waiting request opens a batch; others with the same input signature (names,
datatypes and every dimension but the first) join until the batch holds ``max_batch_size``
rows or ``max_delay_s`` has passed since it opened — the same two knobs as Triton's dynamic
batcher (``max_batch_size``, ``max_queue_delay_microseconds``). The model runs once on the
inputs concatenated along axis 0 and each caller gets its own rows back. Requests with
another signature wait for the next batch, in arrival order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from saferoad.adapters.grpc.models import Arrays, ServedModel
from saferoad.observability import get_logger

_log = get_logger("grpc.batching")

Signature = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass
class _Item:
    inputs: Arrays
    rows: int
    signature: Signature
    future: Future[Arrays] = field(default_factory=Future)


def _signature(inputs: Arrays) -> tuple[Signature, int]:
    rows = {int(a.shape[0]) if a.ndim else -1 for a in inputs.values()}
    if len(rows) != 1 or -1 in rows:
        raise ValueError(
            "batched model: every input needs the same first (batch) dimension, got "
            + ", ".join(f"{k}{list(a.shape)}" for k, a in inputs.items())
        )
    sig = tuple(sorted((k, a.dtype.str, tuple(a.shape[1:])) for k, a in inputs.items()))
    return sig, rows.pop()


class BatcherClosed(RuntimeError):
    """The batcher is shutting down and takes no new requests (the server answers UNAVAILABLE)."""


class DynamicBatcher:
    """Runs ``model.predict`` on batches gathered from :meth:`submit` callers, in one thread."""

    def __init__(
        self,
        model: ServedModel,
        max_batch_size: int,
        max_delay_s: float,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must be >= 0")
        self.model = model
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_s
        self._on_batch = on_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._held: list[_Item] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"batcher-{model.name}", daemon=True)
        self._thread.start()

    def submit(self, inputs: Arrays) -> Future[Arrays]:
        """Queue one request; the future holds its outputs (or the model's exception)."""
        if self._closed:
            raise BatcherClosed(f"model {self.model.name!r} is shutting down")
        sig, rows = _signature(inputs)
        item = _Item(inputs, rows, sig)
        self._queue.put(item)
        return item.future

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish everything already queued, then stop the thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        stop = False  # the close() sentinel was seen: run what is left, then return
        while True:
            if self._held:
                first: _Item | None = self._held.pop(0)
            elif stop:
                try:
                    first = self._queue.get_nowait()
                except queue.Empty:
                    return
            else:
                first = self._queue.get()
            if first is None:
                stop = True
                continue
            batch, rows = [first], first.rows
            deadline = time.perf_counter() + self.max_delay_s
            skipped: list[_Item] = []
            while rows < self.max_batch_size:
                remaining = deadline - time.perf_counter()
                try:
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if nxt.signature == first.signature and rows + nxt.rows <= self.max_batch_size:
                    batch.append(nxt)
                    rows += nxt.rows
                else:
                    skipped.append(nxt)
            self._held = skipped + self._held
            self._execute(batch, rows)

    def _execute(self, batch: list[_Item], rows: int) -> None:
        live = [it for it in batch if it.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            if len(live) == 1:
                outputs = self.model.predict(live[0].inputs)
            else:
                names = live[0].inputs.keys()
                joined = {n: np.concatenate([it.inputs[n] for it in live], axis=0) for n in names}
                outputs = self.model.predict(joined)
            total = sum(it.rows for it in live)
            bad = {k: v.shape for k, v in outputs.items() if v.ndim == 0 or v.shape[0] != total}
            if bad:
                raise ValueError(
                    f"model {self.model.name!r} returned {bad} for a batch of {total} rows: "
                    "a batched model must keep the first dimension"
                )
        except BaseException as exc:
            for it in live:
                it.future.set_exception(exc)
            return
        if self._on_batch is not None:
            self._on_batch(len(live), rows)
        start = 0
        for it in live:
            part: dict[str, Any] = {k: v[start : start + it.rows] for k, v in outputs.items()}
            start += it.rows
            it.future.set_result(part)
        _log.debug("batch", model=self.model.name, requests=len(live), rows=rows)
