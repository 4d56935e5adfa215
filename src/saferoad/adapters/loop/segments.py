"""Loop recording of the sensor streams: one compressed NumPy file per ``segment_s`` of sensor
time (IMU, GPS, CAN samples as received), written durably (temporary file, fsync, rename,
folder fsync), named by their absolute start and end (ms since the epoch, UTC, where the
drive's start is known) so that a restart finds them and retention orders them.

Retention (``saferoad.domain.retention``) runs after each segment closes: the oldest segments
not locked by an event still waiting for upload are deleted until the rest fit the budget.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from saferoad.adapters.spool.sqlite import write_durably
from saferoad.domain.retention import RetentionPlan, Segment, plan_retention
from saferoad.domain.types import GpsSeries, ImuSeries, SpeedSeries

NAME = re.compile(r"^(?:seg_(\d+)_(\d+)\.npz|vid_(\d+)_(\d+)_r\d+\.ts)$")
"""The sensor segments this store writes and the road camera's video segments
(``adapters/video/loop_video``) beside them: one retention for both."""


class LoopStore:
    def __init__(self, folder: Path, segment_s: float, budget_bytes: int, utc0: float = 0.0) -> None:
        self.folder = folder
        self.segment_s = segment_s
        self.budget_bytes = budget_bytes
        self.utc0 = utc0
        """Absolute time (epoch s) of sensor time 0."""
        folder.mkdir(parents=True, exist_ok=True)
        self._seg_start: float | None = None
        self._parts: dict[str, list[np.ndarray]] = {}
        self.written = 0
        self.deleted = 0
        self.max_over_budget = 0
        self.last_plan: RetentionPlan | None = None

    def segments(self) -> list[Segment]:
        out = []
        for p in self.folder.iterdir():
            m = NAME.match(p.name)
            if m:
                # sensor segments in ms, video segments in µs since the epoch
                a, b, unit = (m.group(1), m.group(2), 1e3) if m.group(1) else (m.group(3), m.group(4), 1e6)
                try:
                    size = p.stat().st_size
                except FileNotFoundError:
                    continue  # (the video loop renames as it goes)
                out.append(Segment(p.name, int(a) / unit, int(b) / unit, size))
        return sorted(out, key=lambda s: (s.start_s, s.name))

    def push(self, t_end: float, imu: ImuSeries | None, gps: GpsSeries | None, can: SpeedSeries | None) -> bool:
        """Add the samples received up to sensor time ``t_end``; True when a segment closed."""
        if self._seg_start is None:
            firsts = [float(s.t_s[0]) for s in (imu, gps, can) if s is not None and len(s)]
            if not firsts:
                return False
            self._seg_start = min(firsts)
        if imu is not None and len(imu):
            self._add("imu", np.column_stack([imu.t_s, imu.acc] + ([imu.gyro] if imu.gyro is not None else [])))
        if gps is not None and len(gps):
            self._add("gps", np.column_stack([gps.t_s, gps.lat, gps.lon, gps.speed_mps, gps.course_deg, gps.alt_m]))
        if can is not None and len(can):
            self._add("can", np.column_stack([can.t_s, can.speed_mps]))
        if t_end - self._seg_start >= self.segment_s:
            self.close_segment(t_end)
            return True
        return False

    def _add(self, key: str, rows: np.ndarray) -> None:
        self._parts.setdefault(key, []).append(rows)

    def close_segment(self, t_end: float) -> None:
        if self._seg_start is None or not self._parts:
            return
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.concatenate(v) for k, v in self._parts.items()})  # type: ignore[arg-type]
        a = round((self.utc0 + self._seg_start) * 1e3)
        b = round((self.utc0 + t_end) * 1e3)
        write_durably(self.folder / f"seg_{a:013d}_{b:013d}.npz", buf.getvalue())
        self.written += 1
        self._parts = {}
        self._seg_start = t_end

    def retain(self, keep_windows: list[tuple[float, float]]) -> RetentionPlan:
        """Apply retention; ``keep_windows`` in absolute time (epoch s)."""
        plan = plan_retention(self.segments(), keep_windows, self.budget_bytes)
        for name in plan.delete:
            (self.folder / name).unlink(missing_ok=True)
        self.deleted += len(plan.delete)
        self.max_over_budget = max(self.max_over_budget, plan.over_budget_bytes)
        self.last_plan = plan
        return plan
