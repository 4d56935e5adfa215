"""What the live feeds share: aligning a source's own clock to the recorder's, and a bounded,
thread-safe buffer of samples in time order."""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np

from saferoad.domain.motion.timebase import GAP_FACTOR, GAP_MIN_S
from saferoad.domain.types import GpsSeries, ImuSeries
from saferoad.ports.sensors import FeedStats

MAX_SAMPLES = 20_000
"""Samples a feed holds between two polls (the recorder polls every tick, 0.1 s): 20 s of a
1 kHz IMU. More means the recorder stalled; the oldest are dropped and counted."""

# A silence longer than max(GAP_FACTOR x the median interval, GAP_MIN_S) between two samples is
# a gap, as the recording readers count one (domain/motion/timebase.find_gaps' defaults).
GAP_INTERVALS = 64
"""The median interval is that of the last this many samples (recomputed every 16)."""

RESET_S = 5.0
"""A source clock more than this far from its arrival time (a sender restarted, a receiver's
clock set) is re-aligned at the sample and the reset counted."""


class ClockAligner:
    """Maps a source's own timestamps onto the recorder's clock (seconds since ``origin`` on
    ``time.monotonic()``): offset = arrival - own time at the first sample, kept after it, so
    samples keep the sensor's spacing rather than the transport's jitter."""

    def __init__(self, origin: float, stats: FeedStats, reset_s: float = RESET_S) -> None:
        self.origin = origin
        self.stats = stats
        self.reset_s = reset_s
        self.offset: float | None = None

    def __call__(self, own_t: float, arrival: float) -> float:
        here = arrival - self.origin
        if self.offset is None:
            self.offset = here - own_t
        elif abs(own_t + self.offset - here) > self.reset_s:
            self.offset = here - own_t
            self.stats.clock_resets += 1
        return own_t + self.offset


class SampleBuffer:
    """Rows ``(t, v1, v2 ...)`` appended by a reader thread, taken by ``take``; a row not after
    the one before is dropped (``late``), a full buffer drops its oldest (``overflow``)."""

    def __init__(self, stats: FeedStats, max_samples: int = MAX_SAMPLES) -> None:
        self.stats = stats
        self._rows: deque[tuple[float, ...]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self._last = -math.inf
        self._intervals: deque[float] = deque(maxlen=GAP_INTERVALS)
        self._gap_limit = math.inf
        self._n_intervals = 0

    def add(self, row: tuple[float, ...], arrival: float) -> bool:
        with self._lock:
            if not row[0] > self._last:
                self.stats.late += 1
                return False
            if len(self._rows) == self._rows.maxlen:
                self.stats.overflow += 1
            self._rows.append(row)
            self._gap(row[0])
            self._last = row[0]
            self.stats.samples += 1
            self.stats.last_sample_at = arrival
            return True

    def _gap(self, t: float) -> None:
        """Count a gap before the sample at ``t`` (the feed's own rate sets the limit)."""
        if not math.isfinite(self._last):
            return
        dt = t - self._last
        if dt > self._gap_limit:
            self.stats.gaps += 1
            self.stats.recent_gaps.append((self._last, t))
            return  # a gap is not the feed's rate
        self._intervals.append(dt)
        self._n_intervals += 1
        if self._n_intervals % 16 == 0:
            self._gap_limit = max(GAP_FACTOR * float(np.median(np.asarray(self._intervals))), GAP_MIN_S)

    def take(self) -> np.ndarray | None:
        with self._lock:
            if not self._rows:
                return None
            rows = np.asarray(self._rows, dtype=np.float64)
            self._rows.clear()
        return rows


def imu_series(rows: np.ndarray | None) -> ImuSeries | None:
    """``t, ax, ay, az[, gx, gy, gz]`` rows as an :class:`ImuSeries` (device axes, gravity
    included: the recorder applies the installation's ``[imu]`` layout)."""
    if rows is None:
        return None
    gyro = rows[:, 4:7].copy() if rows.shape[1] >= 7 else None
    return ImuSeries(rows[:, 0].copy(), rows[:, 1:4].copy(), gyro)


def gps_series(rows: np.ndarray | None) -> GpsSeries | None:
    """``t, lat, lon, speed_mps, course_deg, alt_m`` rows (NaN where not given)."""
    if rows is None:
        return None
    return GpsSeries(*(rows[:, i].copy() for i in range(6)))
