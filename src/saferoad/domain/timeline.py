"""One timeline: sensor streams aligned by timestamp, with clock offsets and honest gaps.

Every stream (ego speed, GPS position, CAN speed, IMU ...) is a sorted series of samples on
its own clock. ``t + offset`` puts a sample on the recording's clock. A value at a query
time is interpolated linearly between the two samples that bracket it, and only when those
two samples are at most ``max_gap_s`` apart: across a longer gap, or outside the stream's
extent, the value is *invalid* and the rules that use it decide nothing there.

Two ways to get the same numbers:

* :func:`align` — batch: whole arrays at once (vectorised), as the cloud runs.
* :class:`OnlineAligner` — streaming: samples pushed one by one as they arrive, queries
  answered as soon as the bracketing sample is in, bounded memory, as the vehicle runs.

Both compute ``v0 + (v1 - v0) * ((t - t0) / (t1 - t0))`` with the same operands, element
by element, so IEEE arithmetic makes them bit-identical (tested).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from saferoad.domain.types import FloatArray

BoolArray = np.ndarray


@dataclass(frozen=True, slots=True)
class Stream:
    """A named sensor stream: ``t_s`` (N,) increasing, ``values`` (N, K)."""

    name: str
    t_s: FloatArray
    values: FloatArray
    offset_s: float = 0.0
    max_gap_s: float = 2.5

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s)
        v = np.asarray(self.values)
        if t.ndim != 1:
            raise ValueError(f"stream {self.name}: t_s must be 1-D, got shape {t.shape}")
        if v.ndim != 2 or v.shape[0] != t.shape[0]:
            raise ValueError(
                f"stream {self.name}: values shape {v.shape} does not match {t.shape[0]} timestamps"
            )
        if t.shape[0] > 1 and not bool(np.all(np.diff(t) > 0)):
            raise ValueError(f"stream {self.name}: timestamps must be strictly increasing")
        if not np.isfinite(self.offset_s):
            raise ValueError(f"stream {self.name}: clock offset must be finite")

    @classmethod
    def scalar(
        cls, name: str, t_s: FloatArray, values: FloatArray, offset_s: float = 0.0,
        max_gap_s: float = 2.5,
    ) -> Stream:
        """A one-channel stream. Samples whose value is NaN are dropped (a missing reading is
        a gap, not a number to interpolate)."""
        t = np.asarray(t_s, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        keep = np.isfinite(t) & np.isfinite(v)
        return cls(name, t[keep], v[keep].reshape(-1, 1), offset_s, max_gap_s)

    @property
    def clock_t_s(self) -> FloatArray:
        """Timestamps on the recording's clock."""
        out: FloatArray = np.asarray(self.t_s, dtype=np.float64) + self.offset_s
        return out


def lerp(t0: float, v0: float, t1: float, v1: float, t: float) -> float:
    """The interpolation formula both paths share (scalar form)."""
    return v0 + (v1 - v0) * ((t - t0) / (t1 - t0))


def align(stream: Stream, t_query: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Values of ``stream`` at ``t_query`` (recording clock) and a validity mask.

    Invalid (NaN, False) where ``t_query`` lies outside the stream or inside a gap longer
    than ``stream.max_gap_s``. An exact hit on a sample returns that sample.
    """
    ts = stream.clock_t_s
    vs = np.asarray(stream.values, dtype=np.float64)
    tq = np.asarray(t_query, dtype=np.float64)
    k = vs.shape[1]
    out = np.full((tq.shape[0], k), np.nan)
    valid = np.zeros(tq.shape[0], dtype=bool)
    n = ts.shape[0]
    if n == 0 or tq.shape[0] == 0:
        return out, valid
    i = np.searchsorted(ts, tq, side="right") - 1  # last sample with ts <= t
    inside = i >= 0
    exact = inside & (ts[np.clip(i, 0, n - 1)] == tq)
    out[exact] = vs[i[exact]]
    valid[exact] = True
    pair = inside & ~exact & (i < n - 1)
    i0 = i[pair]
    t0, t1 = ts[i0], ts[i0 + 1]
    ok = (t1 - t0) <= stream.max_gap_s
    idx = np.flatnonzero(pair)[ok]
    i0 = i0[ok]
    t0, t1 = t0[ok], t1[ok]
    v0, v1 = vs[i0], vs[i0 + 1]
    tt = tq[idx][:, None]
    out[idx] = v0 + (v1 - v0) * ((tt - t0[:, None]) / (t1 - t0)[:, None])
    valid[idx] = True
    return out, valid


@dataclass
class OnlineAligner:
    """Streaming twin of :func:`align` for one stream, with bounded memory.

    ``push`` samples in time order (their own clock; the offset is added here), ``query``
    a time: the answer is ``None`` while it cannot be decided yet (no sample at or after the
    query has arrived), else ``(values, valid)`` identical to :func:`align`. Queries must
    come in non-decreasing time order; samples older than the last query's bracket are
    dropped, so at most a handful are held.
    """

    name: str
    k: int = 1
    offset_s: float = 0.0
    max_gap_s: float = 2.5
    _buf: deque[tuple[float, tuple[float, ...]]] = field(default_factory=deque)
    _last_t: float = -np.inf
    _closed: bool = False

    def push(self, t_s: float, values: tuple[float, ...]) -> None:
        if len(values) != self.k:
            raise ValueError(f"stream {self.name}: expected {self.k} values, got {len(values)}")
        if any(not np.isfinite(v) for v in values) or not np.isfinite(t_s):
            return  # a missing reading is a gap (as Stream.scalar drops it)
        t = float(np.float64(t_s) + np.float64(self.offset_s))
        if t <= self._last_t:
            raise ValueError(f"stream {self.name}: timestamps must be strictly increasing")
        self._last_t = t
        self._buf.append((t, tuple(float(v) for v in values)))

    def close(self) -> None:
        """No more samples will come: pending queries past the end become answerable."""
        self._closed = True

    @property
    def latest_t(self) -> float:
        return self._last_t

    def ready(self, t: float) -> bool:
        return self._closed or self._last_t >= t

    def query(self, t: float) -> tuple[tuple[float, ...], bool] | None:
        if not self.ready(t):
            return None
        nan = (float("nan"),) * self.k
        buf = self._buf
        # drop samples that can no longer bracket this or any later query
        while len(buf) >= 2 and buf[1][0] <= t:
            buf.popleft()
        if not buf or buf[0][0] > t:
            return nan, False
        t0, v0 = buf[0]
        if t0 == t:
            return v0, True
        if len(buf) < 2:
            return nan, False
        t1, v1 = buf[1]
        if (t1 - t0) > self.max_gap_s:
            return nan, False
        return tuple(lerp(t0, a, t1, b, t) for a, b in zip(v0, v1, strict=True)), True

    def __len__(self) -> int:
        return len(self._buf)


def regular_ticks(t_start: float, t_end: float, hz: float) -> FloatArray:
    """A regular grid ``t_start, t_start + 1/hz, ...`` up to ``t_end`` inclusive.

    Computed as ``t_start + i / hz`` so a streaming producer reproduces it exactly.
    """
    if not (np.isfinite(t_start) and np.isfinite(t_end)) or t_end < t_start:
        return np.zeros(0)
    n = int(np.floor((t_end - t_start) * hz + 1e-9)) + 1
    out: FloatArray = t_start + np.arange(n, dtype=np.float64) / hz
    return out


def tick_at(t_start: float, i: int, hz: float) -> float:
    """The ``i``-th tick of :func:`regular_ticks` (same arithmetic)."""
    return float(np.float64(t_start) + np.float64(i) / np.float64(hz))


def frame_gaps(t_s: FloatArray, max_gap_s: float) -> BoolArray:
    """True at each frame that follows a gap longer than ``max_gap_s`` in the video."""
    t = np.asarray(t_s, dtype=np.float64)
    out = np.zeros(t.shape[0], dtype=bool)
    if t.shape[0] > 1:
        out[1:] = np.diff(t) > max_gap_s
    return out
