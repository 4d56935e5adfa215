"""Ports of the live drive recorder: a clock, in-cab alert sinks, the on-device spool and the
fleet's ingest API (contract: docs/edge.md, "Device ingest API v1")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from saferoad.domain.alerts import Alert
from saferoad.domain.retention import RetentionPlan
from saferoad.domain.types import Event, GpsSeries, ImuSeries, SpeedSeries


class Clock(Protocol):
    """Seconds on a monotonic scale; ``sleep`` may be simulated (tests, replays)."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@runtime_checkable
class AlertSink(Protocol):
    """Where in-cab alerts go (a callback, a loopback socket, MQTT). Must never block the
    recorder for long: a sink that cannot deliver drops and counts."""

    def alert(self, alert: Alert) -> None: ...

    def status(self, status: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestReply:
    """One answer of the ingest API. ``status`` 0: no answer (connection refused, timeout)."""

    status: int
    detail: str = ""
    retry_after_s: float | None = None
    offset: int | None = None
    """``Upload-Offset`` of a clip (HEAD, PATCH, 409)."""

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, 5xx or 429. Every other 4xx is final."""
        return self.status == 0 or self.status == 429 or self.status >= 500

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class IngestApi(Protocol):
    """Device ingest API v1, as the uploader calls it."""

    def put_trip(self, trip_id: str, body: dict[str, Any]) -> IngestReply: ...

    def put_trip_summary(self, trip_id: str, summary: dict[str, Any]) -> IngestReply:
        """Complete a trip opened (``put_trip`` without ``summary``) at its drive's start."""
        ...

    def put_event(self, trip_id: str, event_id: str, body: dict[str, Any]) -> IngestReply: ...

    def clip_offset(self, trip_id: str, event_id: str) -> IngestReply: ...

    def patch_clip(
        self, trip_id: str, event_id: str, offset: int, length: int, sha256: str, chunk: bytes
    ) -> IngestReply: ...


class EventSpool(Protocol):
    """The on-device spool as the recorder writes it: an event counts as confirmed once
    ``add_event`` has returned (written and fsynced)."""

    def add_event(self, trip_id: str, event_id: str, event: Event, event_utc_s: float | None) -> bool:
        """Store the event (False: that id was already stored)."""
        ...

    def add_clip(self, event_id: str, clip: bytes) -> bool:
        """Store a stored event's clip (False: it already has one)."""
        ...

    def open_trip(self, trip_id: str, body: dict[str, Any]) -> bool:
        """Open the trip at its drive's start (no summary): its events can go up at once."""
        ...

    def add_trip(self, trip_id: str, body: dict[str, Any]) -> bool:
        """The whole trip at its drive's end (completes an opened one with its summary)."""
        ...

    def pending_windows(self, before_s: float, after_s: float) -> list[tuple[float, float]]:
        """Absolute windows of events still waiting for upload (loop recording keeps them)."""
        ...


@dataclass(frozen=True, slots=True)
class UploadJob:
    """The next thing to upload: a trip, an event (metadata) or a clip."""

    kind: str
    """``trip``, ``event``, ``summary`` (completing a trip opened during its drive) or ``clip``."""
    trip_id: str
    event_id: str | None
    body: dict[str, Any] | None
    clip: Path | None = None
    size: int = 0
    sha256: str = ""


class UploadQueue(Protocol):
    """The spool as the uploader reads it: jobs in upload order, and their outcomes."""

    def next_job(self) -> UploadJob | None: ...

    def mark(self, job: UploadJob, state: str, error: str | None = None) -> None:
        """``sent``, ``failed`` (final, ``error`` says why) or ``queued`` (try again)."""
        ...

    def close(self) -> None: ...


class LoopRecorder(Protocol):
    """Loop recording of the sensor streams in segments under a byte budget
    (``edge.loop_dir``; ``adapters/loop/segments.LoopStore``)."""

    written: int
    deleted: int
    max_over_budget: int
    last_plan: RetentionPlan | None

    def push(self, t_end: float, imu: ImuSeries | None, gps: GpsSeries | None, can: SpeedSeries | None) -> bool:
        """Samples up to ``t_end`` (sensor time); True when a segment was closed (time to
        apply retention)."""
        ...

    def close_segment(self, t_end: float) -> None: ...

    def retain(self, keep_windows: list[tuple[float, float]]) -> RetentionPlan:
        """Delete the oldest segments over the budget, keeping those that overlap
        ``keep_windows`` (absolute; events still waiting for upload)."""
        ...

    def figures(self) -> dict[str, int]:
        """What ``edge.json`` reports under ``loop`` (segments and bytes, sensor and video)."""
        ...


class SpeedLimits(Protocol):
    """The speed limits in force (``road_events.speed_limit_kmh`` and/or zones;
    ``adapters/geo.SpeedLimits``)."""

    @property
    def zones(self) -> Sequence[object]:
        """The zones (empty: one limit everywhere, no GPS needed)."""
        ...

    def limit_at(self, lat: float, lon: float) -> tuple[float, str | None]:
        """The limit in m/s (NaN: none) and the zone's name where it holds."""
        ...


class SpeedLimitsLoader(Protocol):
    """The limits of a speed-zone GeoJSON file (``path``; ``limit_kmh`` outside its zones),
    or one limit everywhere (``path`` None) (``adapters/geo``); a ``ValueError`` naming the
    file and the feature for a bad zone."""

    def __call__(self, path: Path | None, limit_kmh: float | None) -> SpeedLimits: ...
