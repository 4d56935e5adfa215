"""Sensor source ports: a drive on disk read into a :class:`Recording`, and live sensor feeds."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from saferoad.domain.recording import Recording
from saferoad.domain.types import GpsSeries, ImuSeries, SpeedSeries, TurnSignalSeries


@runtime_checkable
class RecordingReader(Protocol):
    """Reads one recording layout (saferoad's own, driverBehaviorDataset, comma2k19 ...)."""

    format_name: str

    def can_read(self, path: Path) -> bool: ...

    def read(self, path: Path) -> Recording: ...


@dataclass
class FeedStats:
    """What a live sensor feed received, and what it refused (counted, never fatal)."""

    lines: int = 0
    """Lines (sentences) read from the source."""
    samples: int = 0
    """Samples delivered to the recorder."""
    bad: int = 0
    """Lines refused: bad checksum, wrong field count, a field that is not a number ..."""
    late: int = 0
    """Samples dropped because they were not after the ones before (out of order, repeated)."""
    overflow: int = 0
    """Samples dropped because the recorder did not take them in time (bounded buffer)."""
    clock_resets: int = 0
    """Times the source's clock jumped (a restarted sender) and was re-aligned."""
    last_error: str | None = None
    """The newest refusal, naming the source, the line and the field."""
    last_sample_at: float | None = None
    """Monotonic time the newest sample arrived (the feed's heartbeat)."""
    gaps: int = 0
    """Silences between two samples longer than max(5 x the feed's median interval, 0.5 s):
    the recording readers' gap rule (``domain.motion.timebase.find_gaps``) - a sender that died
    and came back, a cable pulled."""
    recent_gaps: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=10))
    """(last sample before, first sample after) of the newest gaps, on the recorder's clock."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "samples": self.samples, "bad": self.bad, "late": self.late,
            "overflow": self.overflow, "clock_resets": self.clock_resets, "last_error": self.last_error,
            "gaps": self.gaps, "gaps_s": [[round(a, 3), round(b - a, 3)] for a, b in self.recent_gaps],
        }  # fmt: skip


@runtime_checkable
class SensorFeed(Protocol):
    """A live IMU and/or GPS source (a serial NMEA receiver, a UDP/CSV stream). Samples come
    with times on the recorder's clock: seconds since ``origin`` (``time.monotonic()``), the
    source's own timestamps aligned to it at its first sample, so their spacing is the
    sensor's, not the network's. ``poll`` never blocks."""

    name: str
    stats: FeedStats

    def poll(self) -> tuple[ImuSeries | None, GpsSeries | None]:
        """The samples that arrived since the last poll, in time order (None: none)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class CanFeed(SensorFeed, Protocol):
    """A live vehicle-bus feed: the vehicle speed and, where the bus carries it, the turn
    signal (``can.csv``'s columns), on the recorder's clock as :class:`SensorFeed`'s samples.
    Its ``poll`` gives no IMU or GPS; ``poll_can`` never blocks."""

    def poll_can(self) -> tuple[SpeedSeries | None, TurnSignalSeries | None]:
        """The speed samples and turn-signal samples that arrived since the last call."""
        ...
