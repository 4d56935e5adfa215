"""``saferoad.Pipeline``: the streaming rules as a push-based object (docs/api.md).

Samples go in as they are measured (arrays or chunks, each stream in time order); each push
returns the events that became final, :meth:`Pipeline.close` the rest. It runs the recorder's
own streaming classes - :class:`~saferoad.domain.motion.streaming.StreamingMotion` for harsh
driving and the ego speed, :class:`~saferoad.application.edge.SpeedingStream` for the speed
limit - as the live recorder (``application/edge_live.py``) drives them, without its threads,
feeds, spool or alerts: no rule logic of its own. Sensor rules only for now: no camera frames
(road and lane rules) and no cabin samples.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from saferoad._api import resolve_config
from saferoad.application.context import AnalysisContext
from saferoad.application.edge import Odometer, SpeedingStream, _with_clip_window
from saferoad.application.stages.motion import params_from_config
from saferoad.application.stages.road import speed_limits
from saferoad.config import SaferoadConfig
from saferoad.domain.motion.streaming import StreamingMotion, StreamParams
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import Event, GpsSeries, ImuSeries, SpeedSeries
from saferoad.entrypoints import wiring

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _ImuAxes:
    frame: str = "device"
    gravity_removed: bool = False
    highpass_tau_s: float | None = None


def _times(stream: str, t_s: ArrayLike, last: float) -> FloatArray:
    """``t_s`` as a 1-D float array: finite, strictly increasing, after ``last``."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise ValueError(f"push_{stream}: t_s must be 1-D, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError(f"push_{stream}: t_s holds a NaN or infinite time")
    if len(t) > 1 and not (np.diff(t) > 0).all():
        k = int(np.argmax(np.diff(t) <= 0)) + 1
        raise ValueError(f"push_{stream}: t_s is not increasing at index {k} ({t[k]:.3f} s after {t[k - 1]:.3f} s)")
    if len(t) and t[0] <= last:
        raise ValueError(
            f"push_{stream}: t_s[0] = {t[0]:.3f} s is not after the previous {stream} sample ({last:.3f} s): "
            "each stream must be pushed in time order"
        )
    return t


def _column(stream: str, name: str, values: ArrayLike | None, n: int, width: int | None = None) -> FloatArray:
    """``values`` as ``(n,)`` (or ``(n, width)``) floats; None: NaN (a field the source lacks)."""
    shape = (n,) if width is None else (n, width)
    if values is None:
        return np.full(shape, np.nan)
    a = np.asarray(values, dtype=np.float64)
    if width is None and a.ndim == 0:
        a = a.reshape(1)
    if width is not None and a.ndim == 1 and n == 1:
        a = a.reshape(1, -1)
    if a.shape != shape:
        raise ValueError(f"push_{stream}: {name} has shape {a.shape}, expected {shape} (one row per time in t_s)")
    return a


class Pipeline:
    """The streaming sensor rules, pushed sample by sample (or chunk by chunk).

    ``config``: a loaded config or a TOML path (defaults when None); ``overrides`` a nested
    dict applied on top. Push each stream in time order (streams may interleave freely); every
    ``push_*`` returns the events that became final, :meth:`close` the rest at the end of the
    drive. An event is final once it ended ``edge.motion_guard_s`` before the newest sample
    (see docs/edge.md), so events come that much after they happen. The events are
    analyze's: same types, directions, severities, evidence; times within one resampled IMU
    sample (the streaming engine's stated equality, docs/edge.md).

    The IMU axes: ``imu_frame`` (``device``, ``earth`` or ``vehicle``), ``gravity_removed``,
    ``highpass_tau_s`` - or :meth:`like` to take them from an opened recording.
    """

    def __init__(
        self,
        config: SaferoadConfig | str | os.PathLike[str] | None = None,
        *,
        overrides: dict[str, Any] | None = None,
        imu_frame: str = "device",
        gravity_removed: bool = False,
        highpass_tau_s: float | None = None,
        meta: RecordingMeta | None = None,
    ) -> None:
        """``meta``: the installation (ids, IMU mounting rotation), as a recording's
        ``meta.toml`` gives it; the config's ``motion.mounting`` takes precedence."""
        cfg = resolve_config(config, overrides)
        if imu_frame not in ("device", "earth", "vehicle"):
            raise ValueError(f"imu_frame: {imu_frame!r} is not one of device, earth, vehicle")
        self.config = cfg
        self._axes = _ImuAxes(imu_frame, gravity_removed, highpass_tau_s)
        meta = meta or RecordingMeta()
        # no recording folder behind the stream: the speed limit is the config's (limit and/or
        # zones), never a recording's own speed_zones.geojson
        live = Recording(Path(f"live:{meta.device_id}"), "live", meta)
        e = cfg.edge
        self._motion = StreamingMotion(
            params_from_config(cfg.motion, live),
            StreamParams(e.motion_window_s, e.motion_hop_s, e.motion_guard_s, e.motion_early_alert_s),
        )
        self._ports = wiring.analysis_ports()
        self._speeding = self._speeding_for(live)
        self._odo = Odometer()
        self._last = {"imu": -math.inf, "gps": -math.inf, "speed": -math.inf}
        self._closed = False
        self._gyro: bool | None = None

    @classmethod
    def like(
        cls,
        recording: Recording,
        config: SaferoadConfig | str | os.PathLike[str] | None = None,
        *,
        overrides: dict[str, Any] | None = None,
    ) -> Pipeline:
        """A pipeline for samples of ``recording`` replayed (its samples are not read: push
        them): its IMU axes, its mounting and, where the config sets no speed limit, its own
        ``speed_zones.geojson`` (a simulated drive's), as analyze takes them."""
        imu = recording.imu
        pipe = cls(
            config,
            overrides=overrides,
            imu_frame="device" if imu is None else imu.frame,
            gravity_removed=False if imu is None else imu.gravity_removed,
            highpass_tau_s=None if imu is None else imu.horizontal_highpass_tau_s,
            meta=recording.meta,
        )
        # without a limit in the config, the recording's own speed_zones.geojson, as analyze finds it
        pipe._speeding = pipe._speeding_for(recording)
        return pipe

    # -- input ----------------------------------------------------------------------------

    def push_imu(self, t_s: ArrayLike, acc: ArrayLike, gyro: ArrayLike | None = None) -> list[Event]:
        """IMU samples: ``t_s`` (n,) seconds, ``acc`` (n, 3) m/s² (with gravity unless the
        pipeline was told ``gravity_removed``), ``gyro`` (n, 3) rad/s or None. Once a stream
        has pushed a gyro it must keep doing so (and vice versa)."""
        t = self._check("imu", t_s)
        a = _column("imu", "acc", acc, len(t), 3)
        g = None if gyro is None else _column("imu", "gyro", gyro, len(t), 3)
        if len(t) == 0:
            return []
        if self._gyro is not None and self._gyro != (g is not None):
            had = "with" if self._gyro else "without"
            raise ValueError(f"push_imu: gyro is {'None' if g is None else 'given'}, but the earlier IMU samples came {had} one")
        self._gyro = g is not None
        ax = self._axes
        series = ImuSeries(t, a, g, ax.frame, ax.gravity_removed, ax.highpass_tau_s)
        return self._step(imu=series)

    def push_gps(
        self,
        t_s: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        speed_mps: ArrayLike | None = None,
        course_deg: ArrayLike | None = None,
        alt_m: ArrayLike | None = None,
    ) -> list[Event]:
        """GNSS fixes: ``t_s``, ``lat``, ``lon`` (degrees), optionally ``speed_mps``,
        ``course_deg``, ``alt_m`` (NaN where a fix lacks one), each (n,)."""
        t = self._check("gps", t_s)
        n = len(t)
        cols = [_column("gps", k, v, n) for k, v in (("lat", lat), ("lon", lon))]
        cols += [_column("gps", k, v, n) for k, v in (("speed_mps", speed_mps), ("course_deg", course_deg), ("alt_m", alt_m))]
        if n == 0:
            return []
        return self._step(gps=GpsSeries(t, *cols))

    def push_speed(self, t_s: ArrayLike, speed_mps: ArrayLike, source: str = "can") -> list[Event]:
        """Vehicle speed samples (the CAN bus's wheel speed): ``t_s``, ``speed_mps`` (n,)."""
        t = self._check("speed", t_s)
        v = _column("speed", "speed_mps", speed_mps, len(t))
        if len(t) == 0:
            return []
        return self._step(can=SpeedSeries(t, v, source))

    def close(self) -> list[Event]:
        """The end of the drive: every event still open is final; the pipeline takes no more."""
        if self._closed:
            return []
        self._closed = True
        out = self._motion.finish()
        final_speed = self._motion.take_final_speed()
        self._odo.add(final_speed)
        if self._speeding is not None:
            sp = self._speeding
            out += _with_clip_window(sp.speed(final_speed) + sp.finish(), self.config.road_events)
        return out

    # -- state ----------------------------------------------------------------------------

    @property
    def distance_km(self) -> float | None:
        """Distance so far, from the final ego speed (analyze's ``distance_km`` once closed)."""
        return self._odo.km if self._odo.samples > 1 else None

    @property
    def manoeuvres(self) -> dict[str, dict[str, int]]:
        """Graded manoeuvres final so far, per kind and band (``summary.json`` → ``manoeuvres``)."""
        return self._motion.manoeuvre_counts.to_dict()

    # -- internals ------------------------------------------------------------------------

    def _speeding_for(self, recording: Recording) -> SpeedingStream | None:
        """The speed-limit rule where analyze would find a limit for ``recording``; the fixes
        are pushed (``live_gps``), never read from it."""
        limits = speed_limits(AnalysisContext(recording, self.config, ports=self._ports))
        if limits is None:
            return None
        return SpeedingStream(recording, self.config, limits, self._ports, live_gps=True)

    def _check(self, stream: str, t_s: ArrayLike) -> FloatArray:
        if self._closed:
            raise ValueError(f"push_{stream}: the pipeline is closed")
        return _times(stream, t_s, self._last[stream])

    def _step(self, imu: ImuSeries | None = None, gps: GpsSeries | None = None, can: SpeedSeries | None = None) -> list[Event]:
        for name, s in (("imu", imu), ("gps", gps), ("speed", can)):
            if s is not None:
                self._last[name] = float(s.t_s[-1])
        out = self._motion.push(imu, gps, can)
        if self._speeding is not None:
            self._speeding.add_gps(gps)
        final_speed = self._motion.take_final_speed()
        self._odo.add(final_speed)
        if self._speeding is not None:
            out += _with_clip_window(self._speeding.speed(final_speed), self.config.road_events)
        return out
