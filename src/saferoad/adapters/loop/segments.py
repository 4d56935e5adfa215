"""Loop recording of the sensor streams: one compressed NumPy file per ``segment_s`` of sensor
time (IMU, GPS, CAN samples as received), written durably (temporary file, fsync, rename,
folder fsync), named by their absolute start and end (ms since the epoch, UTC, where the
drive's start is known) so that a restart finds them and retention orders them.

Retention (``saferoad.domain.retention``) runs after each segment closes: the oldest segments
not locked by an event still waiting for upload are deleted until the rest fit the budget.

The road camera's video segment being written (``.recording/run_*/part_*.ts``, by the camera's
ffmpeg: ``adapters/video/loop_video``) counts against the same budget, at what it will hold when
it lands - the largest finished video segment seen, or more if it already holds more - plus what
the camera writes in ``retention_lag_s`` at the highest bitrate seen (a landed segment waits that
long at most for the next retention pass while the next one grows): the oldest segments are
deleted before the budget is reached, so the folder (finished + unfinished) stays within it.
The sensor segment being gathered is in memory and written at once (retention follows it).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from saferoad.adapters.spool.sqlite import write_durably
from saferoad.adapters.video.loop_video import RECORDING, VIDEO_NAME, video_span
from saferoad.domain.retention import RetentionPlan, Segment, plan_retention
from saferoad.domain.types import GpsSeries, ImuSeries, SpeedSeries

SENSOR_NAME = re.compile(r"^seg_(\d+)_(\d+)\.npz$")
"""The sensor segments this store writes: start and end in ms since the epoch."""
NAME = re.compile(f"{SENSOR_NAME.pattern}|{VIDEO_NAME.pattern}")
"""Those and the road camera's video segments (``adapters/video/loop_video.VIDEO_NAME``) beside
them: one retention for both."""


def segment_span(name: str) -> tuple[float, float] | None:
    """A loop segment's start and end (epoch s) from its name; None: not one."""
    if m := SENSOR_NAME.match(name):
        return int(m.group(1)) / 1e3, int(m.group(2)) / 1e3
    video = video_span(name)
    return None if video is None else video[:2]


RETENTION_LAG_S = 1.5
"""The longest a landed video segment waits for a retention pass: the camera's watchdog moves
finished segments every 0.1 s, the live recorder looks for new ones once a second."""


def is_video(name: str) -> bool:
    return name.startswith("vid_")


class LoopStore:
    def __init__(
        self,
        folder: Path,
        segment_s: float,
        budget_bytes: int,
        utc0: float = 0.0,
        retention_lag_s: float = RETENTION_LAG_S,
    ) -> None:
        self.folder = folder
        self.retention_lag_s = retention_lag_s
        self.segment_s = segment_s
        self.budget_bytes = budget_bytes
        self.utc0 = utc0
        """Absolute time (epoch s) of sensor time 0."""
        folder.mkdir(parents=True, exist_ok=True)
        self._seg_start: float | None = None
        self._parts: dict[str, list[np.ndarray]] = {}
        self.written = 0
        """Segments written, sensor and video (the video ones counted as they land)."""
        self.deleted = 0
        self.max_over_budget = 0
        """The largest real overflow at a pass: bytes on disk over the budget, all locked."""
        self.max_reserve_short = 0
        """The largest part of the reservation for the unfinished video a pass had no room for."""
        self.last_plan: RetentionPlan | None = None
        self.sensor_bytes_written = 0
        self.video_written = 0
        self.video_bytes_written = 0
        self.deleted_video = 0
        self.deleted_bytes = {"sensor": 0, "video": 0}
        self.max_used_bytes = 0
        """The most the folder held at a retention pass, finished and unfinished segments."""
        self.recording_bytes = 0
        """What the unfinished video segments held at the last retention pass."""
        self._video_seen: set[str] = set()
        self._video_max_bytes = 0
        self._video_max_rate = 0.0
        """Largest finished video segment and highest bitrate (bytes/s) seen: what the one being
        written may grow to."""
        # video segments already there (an earlier run's) are not this store's to count as written
        for seg in self.segments():
            if is_video(seg.name):
                self._video_seen.add(seg.name)
                self._learn_video(seg)

    def segments(self) -> list[Segment]:
        out = []
        for p in self.folder.iterdir():
            span = segment_span(p.name)
            if span is not None:
                try:
                    size = p.stat().st_size
                except FileNotFoundError:
                    continue  # (the video loop renames as it goes)
                out.append(Segment(p.name, *span, size))
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
        data = buf.getvalue()
        write_durably(self.folder / f"seg_{a:013d}_{b:013d}.npz", data)
        self.written += 1
        self.sensor_bytes_written += len(data)
        self._parts = {}
        self._seg_start = t_end

    def _learn_video(self, seg: Segment) -> None:
        self._video_max_bytes = max(self._video_max_bytes, seg.size)
        if seg.end_s > seg.start_s:
            self._video_max_rate = max(self._video_max_rate, seg.size / (seg.end_s - seg.start_s))

    def recording(self) -> tuple[int, int]:
        """(bytes the unfinished video segments hold now, bytes to reserve for them): per
        decoder run, its newest part at what it will hold when it lands (see the module), the
        others (finished, not moved yet) as they are."""
        held = reserve = 0
        root = self.folder / RECORDING
        for run in root.iterdir() if root.is_dir() else ():
            sizes = []
            for part in sorted(run.glob("part_*.ts")):
                try:
                    sizes.append(part.stat().st_size)
                except FileNotFoundError:
                    continue  # moved into the folder meanwhile (counted there)
            if not sizes:
                continue
            held += sum(sizes)
            newest = max(sizes[-1], self._video_max_bytes) + round(self._video_max_rate * self.retention_lag_s)
            reserve += sum(sizes[:-1]) + newest
        return held, reserve

    def retain(self, keep_windows: list[tuple[float, float]]) -> RetentionPlan:
        """Apply retention; ``keep_windows`` in absolute time (epoch s). The unfinished video
        segments count against the budget (:meth:`recording`)."""
        held, reserve = self.recording()  # first: a part that lands meanwhile is counted twice, never missed
        segments = self.segments()
        for seg in segments:
            if is_video(seg.name) and seg.name not in self._video_seen:
                self._video_seen.add(seg.name)
                self.written += 1
                self.video_written += 1
                self.video_bytes_written += seg.size
                self._learn_video(seg)
        self.recording_bytes = held
        self.max_used_bytes = max(self.max_used_bytes, sum(s.size for s in segments) + held)
        plan = plan_retention(segments, keep_windows, self.budget_bytes, reserve, held_bytes=held)
        sizes = {s.name: s.size for s in segments}
        for name in plan.delete:
            (self.folder / name).unlink(missing_ok=True)
            kind = "video" if is_video(name) else "sensor"
            self.deleted_bytes[kind] += sizes[name]
            self.deleted_video += kind == "video"
            self._video_seen.discard(name)
        self.deleted += len(plan.delete)
        self.max_over_budget = max(self.max_over_budget, plan.over_budget_bytes)
        self.max_reserve_short = max(self.max_reserve_short, plan.reserve_short_bytes)
        self.last_plan = plan
        return plan

    def figures(self) -> dict[str, int]:
        """``edge.json`` -> ``loop``: segments written and deleted (all, and sensor / video with
        their bytes), locked at the last pass, the unfinished video and the room reserved for it,
        the most the folder held at a pass, the largest overflow over the budget (bytes on disk)
        and the largest part of the reservation the budget had no room for (a forecast)."""
        plan = self.last_plan
        return {
            "segments_written": self.written,
            "segments_deleted": self.deleted,
            "segments_locked": len(plan.locked) if plan else 0,
            "sensor_segments_written": self.written - self.video_written,
            "sensor_bytes_written": self.sensor_bytes_written,
            "sensor_segments_deleted": self.deleted - self.deleted_video,
            "sensor_bytes_deleted": self.deleted_bytes["sensor"],
            "video_segments_written": self.video_written,
            "video_bytes_written": self.video_bytes_written,
            "video_segments_deleted": self.deleted_video,
            "video_bytes_deleted": self.deleted_bytes["video"],
            "recording_bytes": self.recording_bytes,
            "reserved_bytes": plan.reserved_bytes if plan else 0,
            "budget_bytes": self.budget_bytes,
            "max_used_bytes": self.max_used_bytes,
            "max_over_budget_bytes": self.max_over_budget,
            "max_reserve_short_bytes": self.max_reserve_short,
        }
