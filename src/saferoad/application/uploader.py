"""The uploader: everything in the spool to the fleet's ingest API, exactly once, in order.

* **Order**: trips first (an event of an unknown trip is answered 404), then event metadata
  by priority (collision-class first, ``EventSpec.priority``) and time, then clips in the same
  order (metadata is small and what a fleet manager needs first).
* **Idempotent**: every request names ids the device chose (trip and event UUIDs); the API
  answers 200 to a repeat of something it holds, so a request whose answer was lost is simply
  sent again.
* **Resumable clips**: ``HEAD`` gives the bytes the server holds, ``PATCH`` sends the rest in
  ``edge.clip_chunk_bytes`` pieces; a 409 re-synchronises on the server's offset.
* **Transient vs final** (openpilot's uploader draws the same line): no answer, 5xx and 429
  are retried after an exponential backoff with full jitter (a delay drawn uniformly below
  ``min(backoff_max_s, backoff_base_s x 2^n)`` for the n-th failure in a row; AWS
  Architecture Blog, "Exponential Backoff and Jitter"), or after ``Retry-After`` when the
  server says; every other 4xx is final and the entry is marked ``failed`` with the reason.
  401/403 (the device's token) stop the uploader without marking anything: no entry is at fault.
* The backoff is for the whole queue, not per entry: while the server is unreachable nothing
  overtakes the head of the queue, so when it comes back everything still arrives in order.
* **During the drive** (:class:`BackgroundUploader`): the recorder opens its trip in the spool
  at the start (no summary), so the trip and each event go up as soon as they are spooled;
  the trip's summary (duration, distance) completes it at the end (``PUT .../summary``).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from saferoad.application.edge import WallClock
from saferoad.config import SaferoadConfig
from saferoad.observability import get_logger
from saferoad.ports.edge import Clock, IngestApi, IngestReply, UploadJob, UploadQueue

log = get_logger("uploader")


@dataclass
class UploadResult:
    sent: dict[str, int] = field(default_factory=lambda: {"trip": 0, "event": 0, "clip": 0})
    failed: int = 0
    transient_errors: int = 0
    backoff_s: float = 0.0
    """Time spent waiting between retries (on the uploader's clock)."""
    stopped: str | None = None
    """Why the uploader stopped before the queue was empty (auth, time limit)."""
    order: list[tuple[str, str]] = field(default_factory=list)
    """(kind, id) of what was sent, in order."""

    def add(self, other: UploadResult) -> None:
        """Count ``other`` (a later run) in."""
        for kind, n in other.sent.items():
            self.sent[kind] = self.sent.get(kind, 0) + n
        self.failed += other.failed
        self.transient_errors += other.transient_errors
        self.backoff_s += other.backoff_s
        self.stopped = other.stopped
        self.order += other.order

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": dict(self.sent),
            "failed": self.failed,
            "transient_errors": self.transient_errors,
            "backoff_s": round(self.backoff_s, 3),
            "stopped": self.stopped,
        }


STOPPED = "stopped"
"""``UploadResult.stopped`` when asked to stop (the drive ended)."""


class _Transient(Exception):
    def __init__(self, reply: IngestReply) -> None:
        super().__init__(reply.detail)
        self.reply = reply


class _Final(Exception):
    pass


class _Auth(Exception):
    pass


class Uploader:
    def __init__(
        self,
        queue: UploadQueue,
        api: IngestApi,
        clock: Clock,
        *,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 300.0,
        chunk_bytes: int = 1 << 20,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.api = api
        self.clock = clock
        self.base_s = backoff_base_s
        self.max_s = backoff_max_s
        self.chunk_bytes = chunk_bytes
        self.rng = rng or random.Random()
        self.failures_in_a_row = 0

    def backoff(self, reply: IngestReply) -> float:
        """The wait before the next try after the n-th transient failure in a row."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** (self.failures_in_a_row - 1))
        delay = self.rng.uniform(0.0, ceiling)
        if reply.retry_after_s is not None:
            delay = max(delay, min(reply.retry_after_s, self.max_s))
        return delay

    def run(self, max_s: float | None = None, should_stop: Callable[[], bool] | None = None) -> UploadResult:
        """Upload until the queue is empty (or holds only final failures), the token is refused,
        ``max_s`` has passed on the clock, or ``should_stop()`` says so (checked before each
        request)."""
        res = UploadResult()
        t0 = self.clock.now()
        while True:
            if max_s is not None and self.clock.now() - t0 >= max_s:
                res.stopped = f"time limit {max_s} s"
                return res
            if should_stop is not None and should_stop():
                res.stopped = STOPPED
                return res
            job = self.queue.next_job()
            if job is None:
                return res
            try:
                self._send(job)
            except _Transient as err:
                self.failures_in_a_row += 1
                res.transient_errors += 1
                self.queue.mark(job, "queued", f"transient: {_why(err.reply)}")
                wait = self.backoff(err.reply)
                if max_s is not None:
                    wait = min(wait, max(0.0, t0 + max_s - self.clock.now()))
                res.backoff_s += wait
                log.info("upload_retry", kind=job.kind, id=job.event_id or job.trip_id, why=_why(err.reply), wait_s=round(wait, 3))
                self.clock.sleep(wait)
                continue
            except _Auth as err:
                res.stopped = str(err)
                log.warning("upload_refused", why=str(err))
                return res
            except _Final as err:
                self.failures_in_a_row = 0
                res.failed += 1
                self.queue.mark(job, "failed", str(err))
                log.warning("upload_failed", kind=job.kind, id=job.event_id or job.trip_id, why=str(err))
                continue
            self.failures_in_a_row = 0
            self.queue.mark(job, "sent")
            res.sent[job.kind] = res.sent.get(job.kind, 0) + 1
            res.order.append((job.kind, job.event_id or job.trip_id))

    # -- one job ----------------------------------------------------------------------------

    def _check(self, reply: IngestReply, what: str) -> IngestReply:
        if reply.ok:
            return reply
        if reply.transient:
            raise _Transient(reply)
        if reply.status in (401, 403):
            raise _Auth(f"{what}: {reply.status} {reply.detail} (the device token)")
        raise _Final(f"{what}: {reply.status} {reply.detail}")

    def _send(self, job: UploadJob) -> None:
        if job.kind == "trip":
            assert job.body is not None
            self._check(self.api.put_trip(job.trip_id, job.body), f"trip {job.trip_id}")
        elif job.kind == "summary":
            assert job.body is not None
            self._check(self.api.put_trip_summary(job.trip_id, job.body), f"summary of trip {job.trip_id}")
        elif job.kind == "event":
            assert job.body is not None and job.event_id is not None
            self._check(self.api.put_event(job.trip_id, job.event_id, job.body), f"event {job.event_id}")
        else:
            self._send_clip(job)

    def _send_clip(self, job: UploadJob) -> None:
        assert job.event_id is not None and job.clip is not None
        what = f"clip of {job.event_id}"
        head = self.api.clip_offset(job.trip_id, job.event_id)
        offset = 0  # 404: no upload started
        if head.status != 404:
            offset = self._check(head, what).offset or 0
        try:
            fh = job.clip.open("rb")
        except OSError as err:
            raise _Final(f"{what}: {err}") from None
        with fh:
            while True:
                fh.seek(offset)
                chunk = fh.read(self.chunk_bytes) if offset < job.size else b""
                reply = self.api.patch_clip(job.trip_id, job.event_id, offset, job.size, job.sha256, chunk)
                if reply.status == 409 and reply.offset is not None:
                    offset = reply.offset  # the server holds another prefix: resume there
                    continue
                self._check(reply, what)
                if reply.status in (200, 201):
                    return
                offset = reply.offset if reply.offset is not None else offset + len(chunk)


def _why(reply: IngestReply) -> str:
    return f"{reply.status} {reply.detail}".strip() if reply.status else reply.detail


class _StoppableClock:
    """Wall time whose ``sleep`` (a backoff wait) ends at once when the uploader is stopped."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stop.wait(seconds)


class BackgroundUploader:
    """The uploader on its own thread while the recorder drives: whatever the recorder has
    spooled (the opened trip, each confirmed event, its clip) goes up at once; when the queue
    is empty it looks again every ``poll_s`` (wall) seconds. ``stop()`` ends it promptly - a
    backoff wait is cut short, a request in flight is finished - and what is left stays queued
    for the upload after the drive. The queue is opened on the thread (``open_queue``: a SQLite
    connection belongs to the thread that made it) and closed there."""

    def __init__(
        self,
        open_queue: Callable[[], UploadQueue],
        api: IngestApi,
        *,
        poll_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 300.0,
        chunk_bytes: int = 1 << 20,
        rng: random.Random | None = None,
    ) -> None:
        self.open_queue = open_queue
        self.api = api
        self.poll_s = poll_s
        self.kw: dict[str, Any] = {
            "backoff_base_s": backoff_base_s, "backoff_max_s": backoff_max_s, "chunk_bytes": chunk_bytes, "rng": rng,
        }  # fmt: skip
        self.result = UploadResult()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)

    def start(self) -> BackgroundUploader:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> UploadResult:
        """Stop and wait for the thread (at most ``timeout_s``); what was sent so far."""
        self._stop.set()
        self._thread.join(timeout_s)
        with self._lock:
            return self.result

    def sent(self) -> dict[str, int]:
        """What went up so far, per kind (safe to call while it runs)."""
        with self._lock:
            return dict(self.result.sent)

    def _run(self) -> None:
        try:
            queue = self.open_queue()
        except Exception as err:  # the drive goes on; what it spools is uploaded after it
            self.error = err
            log.warning("upload_during_drive_failed", error=f"{type(err).__name__}: {err}")
            return
        try:
            up = Uploader(queue, self.api, _StoppableClock(self._stop), **self.kw)
            while not self._stop.is_set():
                res = up.run(should_stop=self._stop.is_set)
                with self._lock:
                    self.result.add(res)
                if res.stopped not in (None, STOPPED):  # the token refused: nothing to retry
                    log.warning("upload_during_drive_stopped", why=res.stopped)
                    return
                self._stop.wait(self.poll_s)
        except Exception as err:  # a failing uploader must never stop the recorder
            self.error = err
            log.warning("upload_during_drive_failed", error=f"{type(err).__name__}: {err}")
        finally:
            queue.close()


def ingest_target(config: SaferoadConfig) -> tuple[str, str]:
    """The ingest API's URL and the device token (from the environment variable
    ``edge.device_token_env``), or a ValueError saying which is missing."""
    ecfg = config.edge
    if ecfg.ingest_url is None:
        raise ValueError("edge --upload: set edge.ingest_url (the fleet's ingest API)")
    token = os.environ.get(ecfg.device_token_env)
    if not token:
        raise ValueError(f"edge --upload: the device token is not set (environment variable {ecfg.device_token_env})")
    return ecfg.ingest_url, token


def upload_from_config(
    config: SaferoadConfig,
    queue: UploadQueue,
    api: IngestApi,
    clock: Clock | None = None,
    max_s: float | None = None,
) -> UploadResult:
    """The uploader as ``saferoad edge --upload`` runs it (``api``: the ingest client the
    composition root builds, ``wiring.ingest_client``), with ``config.edge``'s backoff and clip
    chunks, for at most ``max_s`` seconds when given (a device's periodic job must not hang
    while the server is away)."""
    ecfg = config.edge
    up = Uploader(
        queue,
        api,
        clock or WallClock(),
        backoff_base_s=ecfg.backoff_base_s,
        backoff_max_s=ecfg.backoff_max_s,
        chunk_bytes=ecfg.clip_chunk_bytes,
    )
    return up.run(max_s)
