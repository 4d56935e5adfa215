"""The streaming form of the inertial engine: bounded state, a stated latency, batch kernels.

The batch engine (:func:`saferoad.domain.motion.engine.run_engine`) filters forward and
backward, groups pulses up to ``merge_gap_s`` apart and pairs a push with its release pulse up
to ``rebound_s`` later: it needs a little of the future. :class:`StreamingMotion` keeps the last
``window_s`` of samples, re-runs the *same* engine on that window every ``hop_s`` of sensor
time, and emits an event once it is **final**: once it ended at least ``guard_s`` before the
newest sample, so that nothing arriving later can change it. Each event is emitted once.

* **State** is bounded: at most ``window_s`` of IMU, GPS and CAN samples plus the events
  emitted within the window (for de-duplication).
* **Latency** (from the sample that completes an event to its emission) is at most
  ``guard_s + hop_s`` of sensor time (:attr:`StreamParams.latency_s`).
* **Equal to batch**: each window is cut on the batch engine's own resampling grid (its first
  sample is interpolated at a grid point, as the batch resampler would), so the window sees the
  very values batch sees; ``guard_s`` keeps the filter's edge transients and the pulse grouping
  away from a decision. A test runs both on every shared recording and simulator scenario:
  same types, times within one resampled sample.

The guard's default (10 s) is the longest look-ahead of a rule: ``rebound_s`` (4 s) +
``merge_gap_s`` (1.5 s) + the 1.5 s heading-change margin of heading-free mode, plus the settling
of the zero-phase 2 Hz low-pass (a few periods), rounded up.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from saferoad.domain.motion.engine import EngineParams, MotionResult, run_engine
from saferoad.domain.motion.manoeuvres import Manoeuvre, ManoeuvreCounts
from saferoad.domain.motion.stream_params import StreamParams as StreamParams  # re-exported
from saferoad.domain.types import Event, GpsSeries, ImuSeries, SpeedSeries


def _concat_imu(chunks: deque[ImuSeries]) -> ImuSeries:
    first = chunks[0]
    gyro = None if first.gyro is None else np.concatenate([c.gyro for c in chunks if c.gyro is not None])
    return replace(
        first,
        t_s=np.concatenate([c.t_s for c in chunks]),
        acc=np.concatenate([c.acc for c in chunks]),
        gyro=gyro,
    )


def _concat_gps(chunks: deque[GpsSeries]) -> GpsSeries:
    return GpsSeries(
        *(np.concatenate([getattr(c, f) for c in chunks]) for f in ("t_s", "lat", "lon", "speed_mps", "course_deg", "alt_m"))
    )


def _concat_speed(chunks: Sequence[SpeedSeries]) -> SpeedSeries:
    return SpeedSeries(
        np.concatenate([c.t_s for c in chunks]),
        np.concatenate([c.speed_mps for c in chunks]),
        chunks[0].source,
    )


def cut_imu(imu: ImuSeries, t0: float, t1: float) -> ImuSeries | None:
    """The samples within ``[t0, t1]``, starting with one interpolated at ``t0`` when a sample
    lies before it (so a grid laid from ``t0`` sees the values batch resampling gives there)."""
    t = imu.t_s
    i = int(np.searchsorted(t, t0, side="left"))
    j = int(np.searchsorted(t, t1, side="right"))
    if j - i < 1:
        return None
    t_s, acc = t[i:j], imu.acc[i:j]
    gyro = None if imu.gyro is None else imu.gyro[i:j]
    if i > 0 and t[i] > t0:
        w = (t0 - t[i - 1]) / (t[i] - t[i - 1])
        t_s = np.concatenate(([t0], t_s))
        acc = np.vstack([imu.acc[i - 1] + w * (imu.acc[i] - imu.acc[i - 1]), acc])
        if gyro is not None and imu.gyro is not None:
            gyro = np.vstack([imu.gyro[i - 1] + w * (imu.gyro[i] - imu.gyro[i - 1]), gyro])
    return replace(imu, t_s=t_s, acc=acc, gyro=gyro)


def _cut_gps(gps: GpsSeries, t0: float, t1: float) -> GpsSeries | None:
    # one fix before t0 so that interpolation covers the window's first grid points
    i = max(0, int(np.searchsorted(gps.t_s, t0, side="left")) - 1)
    j = int(np.searchsorted(gps.t_s, t1, side="right"))
    if j - i < 1:
        return None
    return GpsSeries(*(getattr(gps, f)[i:j] for f in ("t_s", "lat", "lon", "speed_mps", "course_deg", "alt_m")))


def _cut_speed(s: SpeedSeries, t0: float, t1: float) -> SpeedSeries | None:
    i = max(0, int(np.searchsorted(s.t_s, t0, side="left")) - 1)
    j = int(np.searchsorted(s.t_s, t1, side="right"))
    return SpeedSeries(s.t_s[i:j], s.speed_mps[i:j], s.source) if j - i >= 1 else None


def _overlaps(a: Event, b: Event) -> bool:
    return a.type == b.type and a.start_s <= b.end_s and b.start_s <= a.end_s


class StreamingMotion:
    """Feed sensor chunks in time order with :meth:`push`; each call returns the events that
    became final. :meth:`finish` returns the rest at the end of the stream."""

    def __init__(self, params: EngineParams, stream: StreamParams | None = None) -> None:
        self.params = params
        self.stream = stream or StreamParams()
        self._imu: deque[ImuSeries] = deque()
        self._gps: deque[GpsSeries] = deque()
        self._can: deque[SpeedSeries] = deque()
        self._origin: float | None = None
        """First IMU sample time (the batch grid's origin), else first GPS/CAN time."""
        self._first: float | None = None
        self._newest = -math.inf
        self._next_run: float | None = None
        self._emitted: deque[Event] = deque()
        self._provisional: deque[Event] = deque()
        self._manoeuvres: deque[Manoeuvre] = deque()
        """Final manoeuvres of the window (for de-duplication)."""
        self._counts: dict[str, dict[str, int]] = {}
        """Final manoeuvres per kind and band (counts only: bounded however long the drive)."""
        self._new_provisional: list[Event] = []
        self._speed_until = -math.inf
        self._final_speed: list[SpeedSeries] = []
        self.runs = 0
        """Windows analysed so far."""
        self._held = 0
        """Samples in the buffers (kept as they change: summing the chunks at every step cost
        the recorder 18 % of its CPU)."""
        self.last: MotionResult | None = None
        """The newest window's result (its speed is the freshest ego speed)."""

    # -- input ------------------------------------------------------------------------------

    def push(
        self,
        imu: ImuSeries | None = None,
        gps: GpsSeries | None = None,
        can: SpeedSeries | None = None,
    ) -> list[Event]:
        """Add samples (each chunk in time order, after everything pushed before); analyse the
        window when a hop of sensor time has passed; return the events now final."""
        for chunk, buf in ((imu, self._imu), (gps, self._gps), (can, self._can)):
            if chunk is None or len(chunk) == 0:
                continue
            t0, t1 = float(chunk.t_s[0]), float(chunk.t_s[-1])
            if buf and t0 <= float(buf[-1].t_s[-1]):
                raise ValueError(f"streaming motion: samples at {t0:.3f} s are not after the previous ones")
            buf.append(chunk)  # type: ignore[arg-type]
            self._held += len(chunk)
            self._newest = max(self._newest, t1)
            self._first = t0 if self._first is None else min(self._first, t0)
        if self._origin is None and self._imu:
            self._origin = float(self._imu[0].t_s[0])
        if self._first is None:
            return []
        if self._next_run is None:
            self._next_run = self._first + self.stream.hop_s
        out: list[Event] = []
        if self._newest >= self._next_run:
            # analyse the window ending at the newest sample
            self._next_run = self._newest + self.stream.hop_s
            out += self._analyse(self._newest, last=False)
        return out

    def finish(self) -> list[Event]:
        """The end of the stream: every event left is final."""
        if self._first is None:
            return []
        return self._analyse(self._newest, last=True)

    # -- state ------------------------------------------------------------------------------

    @property
    def buffered_samples(self) -> int:
        """Samples held (IMU + GPS + CAN): bounded by ``window_s`` of each stream."""
        return self._held

    @property
    def manoeuvre_counts(self) -> ManoeuvreCounts:
        """The graded manoeuvres final so far, per kind and band (``summary.json`` →
        ``manoeuvres``)."""
        return ManoeuvreCounts.from_dict(self._counts)

    def take_provisional(self) -> list[Event]:
        """Events seen since the last call that ended ``early_s`` before the newest sample but
        are not final yet (their type or times may still change, or they may vanish): for an
        early alert. The final event, when it comes, overlaps its provisional one."""
        out, self._new_provisional = self._new_provisional, []
        return out

    def take_final_speed(self) -> SpeedSeries | None:
        """The ego speed samples that became final since the last call (those at least
        ``guard_s`` before the newest sample, all of them at the end of the stream), in time
        order: what batch's ego speed holds there. Rules that need the speed at a time (the
        road camera's) wait for it here."""
        if not self._final_speed:
            return None
        chunks, self._final_speed = self._final_speed, []
        return _concat_speed(chunks)

    def speed_at(self, t: float) -> float | None:
        """The freshest ego speed at ``t`` (m/s): the newest window's, held after its end."""
        sp = None if self.last is None else self.last.speed
        if sp is None or len(sp) == 0:
            return None
        ok = np.isfinite(sp.speed_mps)
        if not ok.any():
            return None
        return float(np.interp(t, sp.t_s[ok], sp.speed_mps[ok]))

    # -- internals --------------------------------------------------------------------------

    def _window_start(self, now: float) -> float:
        assert self._first is not None
        start = now - self.stream.window_s
        origin = self._origin
        if origin is None or start <= origin:
            return self._first if origin is None else min(self._first, origin)
        hz = self.params.resample_hz
        return origin + math.ceil((start - origin) * hz) / hz

    def _trim(self, t0: float) -> None:
        for buf in (self._imu, self._gps, self._can):
            # keep one chunk reaching before t0 (interpolation at the window's edge)
            while len(buf) > 1 and float(buf[1].t_s[0]) <= t0:
                self._held -= len(buf.popleft())
        while self._emitted and self._emitted[0].end_s < t0 - self.stream.window_s:
            self._emitted.popleft()
        while self._provisional and self._provisional[0].end_s < t0 - self.stream.window_s:
            self._provisional.popleft()
        while self._manoeuvres and self._manoeuvres[0].end_s < t0 - self.stream.window_s:
            self._manoeuvres.popleft()

    def _analyse(self, now: float, *, last: bool) -> list[Event]:
        w0 = self._window_start(now)
        self._trim(w0)
        imu = cut_imu(_concat_imu(self._imu), w0, now) if self._imu else None
        gps = _cut_gps(_concat_gps(self._gps), w0, now) if self._gps else None
        can = _cut_speed(_concat_speed(self._can), w0, now) if self._can else None
        if imu is not None and len(imu) < 2:
            imu = None
        if imu is None and gps is None and can is None:
            return []
        res = run_engine(imu, gps, can, self.params)
        self.runs += 1
        self.last = res
        self._collect_speed(res, math.inf if last else now - self.stream.guard_s)
        at_start = self._first is not None and w0 <= self._first
        g = self.stream.guard_s
        out: list[Event] = []
        for m in res.manoeuvres:
            if (last or m.end_s <= now - g) and (at_start or m.start_s >= w0 + g) and not any(
                o.kind == m.kind and o.start_s <= m.end_s and m.start_s <= o.end_s for o in self._manoeuvres
            ):
                self._manoeuvres.append(m)
                per = self._counts.setdefault(m.kind.value, {})
                per[m.band.value] = per.get(m.band.value, 0) + 1
        early = self.stream.early_s
        for ev in res.events:
            if not last and ev.end_s > now - g:
                if (
                    early is not None
                    and ev.end_s <= now - early
                    and (at_start or ev.start_s >= w0 + g)
                    and not any(_overlaps(ev, e) for e in self._emitted)
                    and not any(_overlaps(ev, e) for e in self._provisional)
                ):
                    self._provisional.append(ev)
                    self._new_provisional.append(ev)
                continue  # may still change
            if not at_start and ev.start_s < w0 + g:
                continue  # its beginning lies in the window's edge: decided in an earlier window
            if any(_overlaps(ev, e) for e in self._emitted):
                continue
            self._emitted.append(ev)
            out.append(ev)
        return out


    def _collect_speed(self, res: MotionResult, until: float) -> None:
        sp = res.speed
        if sp is None or len(sp) == 0:
            return
        sel = (sp.t_s > self._speed_until) & (sp.t_s <= until)
        if sel.any():
            self._final_speed.append(SpeedSeries(sp.t_s[sel], sp.speed_mps[sel], sp.source))
            self._speed_until = float(sp.t_s[sel][-1])


def ticks(t_first: float, t_last: float, step_s: float) -> Iterator[tuple[float, float]]:
    """``[a, b)`` steps of ``step_s`` sensor time from ``t_first`` until one starts after
    ``t_last`` (each bound computed from ``t_first``, so no rounding accumulates)."""
    k = 0
    while True:
        a = t_first + k * step_s
        if a > t_last:
            return
        yield a, t_first + (k + 1) * step_s
        k += 1


def _span(t: np.ndarray, a: float, b: float) -> tuple[int, int]:
    return int(np.searchsorted(t, a, side="left")), int(np.searchsorted(t, b, side="left"))


def chunk_imu(imu: ImuSeries | None, a: float, b: float) -> ImuSeries | None:
    """The samples in ``[a, b)`` (None: none)."""
    if imu is None:
        return None
    i, j = _span(imu.t_s, a, b)
    if j <= i:
        return None
    return replace(imu, t_s=imu.t_s[i:j], acc=imu.acc[i:j], gyro=None if imu.gyro is None else imu.gyro[i:j])


def chunk_gps(gps: GpsSeries | None, a: float, b: float) -> GpsSeries | None:
    """The fixes in ``[a, b)`` (None: none)."""
    if gps is None:
        return None
    i, j = _span(gps.t_s, a, b)
    if j <= i:
        return None
    return GpsSeries(*(getattr(gps, f)[i:j] for f in ("t_s", "lat", "lon", "speed_mps", "course_deg", "alt_m")))


def chunk_speed(s: SpeedSeries | None, a: float, b: float) -> SpeedSeries | None:
    """The speed samples in ``[a, b)`` (None: none)."""
    if s is None:
        return None
    i, j = _span(s.t_s, a, b)
    return SpeedSeries(s.t_s[i:j], s.speed_mps[i:j], s.source) if j > i else None
