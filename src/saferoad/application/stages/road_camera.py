"""The road stage's eyes: frames → perception → frames on the common timeline.

:class:`CameraFeed` iterates ``(t_s, frame index, tracked objects)`` in time order, the
input of the camera rules, while it

* decodes the recording's video (or, for a recording simulated without video, walks the
  frames its ``detections.json`` lists, with an empty image of the right size),
* runs perception (the detector ``ctx.detector``, else the configured one; a recording
  without video always replays its detections file),
* reads the lamp colour of traffic lights from their pixels where the detector gave none,
* writes ``tracks.parquet`` and keeps the tracks for the clips,
* finds the lane markings in every frame of a video (``lanes``, for the lane rules).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from saferoad.application.context import AnalysisContext
from saferoad.application.perception import PerceptionStats, TracksWriter, run_perception
from saferoad.application.stages._camera import video_time_offset, with_lamp_colours
from saferoad.domain.geometry import CameraModel
from saferoad.domain.lanes import LaneObservation
from saferoad.domain.road_events.engine import FrameItem
from saferoad.domain.types import CameraIntrinsics, CameraMount, Detections, TrackedObject
from saferoad.observability import get_logger
from saferoad.ports.lanes import LaneDetector

log = get_logger("road.camera")


class SourceIdTracker:
    """Keeps the track ids a replayed labels file carries (``attributes["source_track_id"]``,
    ground-truth identities) instead of re-associating boxes: the rules are then judged on
    what the labels say, and the tracker is judged on its own (perception's tests).
    Detections without an id get ids of their own (one per detection)."""

    def __init__(self) -> None:
        self._active: frozenset[int] = frozenset()
        self._next = 10_000_000

    @property
    def active_ids(self) -> frozenset[int]:
        return self._active

    def update(self, detections: Detections) -> list[TrackedObject]:
        out = []
        for i in range(len(detections)):
            attrs = dict(detections.attributes[i]) if detections.attributes is not None else {}
            if detections.labels is not None:
                attrs.setdefault("label", detections.labels[i])
            tid = attrs.get("source_track_id")
            if tid is None:
                tid, self._next = self._next, self._next + 1
            d = float(detections.distance_m[i]) if detections.distance_m is not None else math.nan
            x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
            out.append(TrackedObject(
                int(tid), detections.classes[i], float(detections.scores[i]), (x1, y1, x2, y2),
                d if math.isfinite(d) else None, False, attrs,
            ))
        self._active = frozenset(o.track_id for o in out)
        return out


class CameraFeed:
    """Iterate the camera rules' input; ``close()`` finishes ``tracks.parquet``."""

    def __init__(self, ctx: AnalysisContext, tracks: dict[float, list[TrackedObject]]) -> None:
        self.ctx = ctx
        self.tracks = tracks
        self._lamps = with_lamp_colours
        cfg = ctx.config
        rec = ctx.recording
        self.offset = video_time_offset(ctx)
        self.stats = PerceptionStats()
        ports = ctx.adapters
        if rec.video is not None:
            # a video that breaks part-way keeps the frames before the break (the error is
            # reported in summary.json, the events up to the break stand)
            self.frames: Any = ports.open_frames(rec.video, stride=cfg.perception.stride, errors="report")
            self.source = "video"
        else:
            assert rec.detections is not None
            self.frames = ports.detection_frames(rec.detections)
            self.source = "detections"
        self._closed = False
        self.writer: TracksWriter | None = None
        try:
            self._set_up(ctx)
            # tracks.parquet's sink last (it opens a temporary file): nothing after it can fail
            if ctx.out_dir:
                self.writer = TracksWriter(ports.outputs.open_tracks(ctx.out_dir / "tracks.parquet"))
        except BaseException:  # a detector or lane detector that cannot be built: the video closes
            self.close()
            raise

    def _set_up(self, ctx: AnalysisContext) -> None:
        """The rest of the feed over the opened frames: detector, camera, lanes."""
        cfg = ctx.config
        rec = ctx.recording
        ports = ctx.adapters
        self.horizon = ports.horizon if self.source == "video" else None  # no pixels otherwise
        # a recording without video has only its detections to replay, whatever the
        # configured detector; otherwise the configured one
        self.detector: Any = ctx.detector if ctx.detector is not None else ports.detectors.for_recording(cfg, rec)
        intr = rec.meta.camera
        self.camera: CameraModel | None = None
        if intr is not None:
            self.camera = CameraModel(intr, rec.meta.camera_mount).scaled(
                self.frames.width, self.frames.height
            )
        self.pitch_known = rec.meta.camera_pitch_known
        intr_used = (
            self.camera.intrinsics if self.camera is not None
            else CameraIntrinsics.from_fov(
                self.frames.width, self.frames.height, cfg.perception.hfov_deg
            )
        )
        self.fx: float | None = intr_used.fx
        self.cx: float | None = intr_used.cx
        self.tracker: SourceIdTracker | None = None
        if ports.detectors.is_replay(self.detector) and cfg.road_events.replay_identities:
            self.tracker = SourceIdTracker()
        # lane markings: every decoded frame of a video (a detections file has no pixels)
        self.lanes: list[LaneObservation] = []
        self.lane_s = 0.0
        self.lane_detector: LaneDetector | None = None
        if self.source == "video" and cfg.lanes.enabled:
            p = cfg.perception
            self.lane_detector = ports.lane_detector(
                estimate_pitch=p.auto_pitch and not self.pitch_known and p.camera_pitch_deg is None
            )
            mount = self.camera.mount if self.camera is not None else CameraMount()
            if p.camera_height_m is not None:
                mount = replace(mount, height_m=p.camera_height_m)
            if p.camera_pitch_deg is not None:
                mount = replace(mount, pitch_deg=p.camera_pitch_deg)
            self.lane_camera = CameraModel(intr_used, mount)

    def __iter__(self) -> Iterator[FrameItem]:
        lamp_fraction = self.ctx.config.road_events.lamp_min_fraction
        for frame, objs in run_perception(
            self.frames, self.detector, self.tracker, self.camera, self.ctx.config,
            pitch_known=self.pitch_known, horizon=self.horizon, stats=self.stats,
        ):
            objs = self._lamps(frame, objs, lamp_fraction)
            if self.writer is not None:
                self.writer.write(frame, objs)
            t = frame.t_s + self.offset
            if self.lane_detector is not None:
                t0 = time.perf_counter()
                obs = self.lane_detector.detect(frame, self.lane_camera)
                self.lanes.append(replace(obs, t_s=t))
                self.lane_s += time.perf_counter() - t0
            if self.source == "video":
                self.tracks[round(t, 6)] = objs
            yield (t, frame.index, tuple(objs))

    def info(self) -> dict[str, Any]:
        return {
            "camera_source": self.source,
            "detector": getattr(self.detector, "name", type(self.detector).__name__),
            "perception": self.stats.as_dict(),
            "tracks_rows": self.writer.rows_written if self.writer else 0,
            "video_error": str(err) if (err := getattr(self.frames, "error", None)) else None,
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            self.frames.close()
