"""Per-frame road-camera geometry: the camera scaled to the frames, its pitch (configured,
measured, or estimated from the lane markings' vanishing point), metric distance and lateral
offset of every tracked object, the ego corridor, the lead vehicle and range rates.

Pure and incremental (one :class:`FrameGeometry` per stream, state bounded by the live
tracks); ``application/perception.run_perception`` drives it between the tracker and the
outputs. Parameters: :class:`GeometryParams` (the ``perception`` config section's fields of
the same names); the lead's range rate and TTC use the road-event parameters and the one lead
computation of :mod:`saferoad.domain.road_events.lead`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from saferoad.domain.geometry import (
    CameraModel,
    Corridor,
    DistanceEstimator,
    corridor_from_markings,
    horizon_band,
    pitch_from_horizon,
    range_rate,
    select_lead,
    time_to_collision,
)
from saferoad.domain.params import param
from saferoad.domain.road_events.base import LeadState
from saferoad.domain.road_events.engine import RoadEventParams
from saferoad.domain.road_events.lead import LeadTracker
from saferoad.domain.types import (
    CameraIntrinsics,
    CameraMount,
    Detections,
    FloatArray,
    Frame,
    ImageArray,
    RoadClass,
    TrackedObject,
)

PITCH_EVERY = 15
PITCH_WINDOW = 25
PITCH_DEADBAND = 0.3
"""Degrees: smaller changes of the lane-based pitch estimate are not applied."""
HISTORY_LEN = 64
HorizonEstimator = Callable[[ImageArray], "tuple[float, FloatArray] | None"]
"""Image → (horizon row in pixels, lane-marking segments (N, 4) in pixels), or ``None``
when the image shows no usable markings."""


@dataclass(frozen=True, slots=True)
class GeometryParams:
    """The camera geometry's parameters, declared once: the ``[perception]`` keys of the same
    names are derived from these fields (``config/perception.py``, ``config/derive.py``)."""

    hfov_deg: float = param(
        90.0, "Horizontal field of view used when no calibration is known (recording-format.md default).",
        gt=10, lt=170,
    )
    camera_height_m: float | None = param(
        None, "Lens height above the road (m); unset = the recording's meta.toml [camera] height_m (default 1.3).",
        gt=0, client=False,
    )
    camera_pitch_deg: float | None = param(
        None, "Camera pitch, down positive; unset = the recording's, or estimated from lane lines when auto_pitch.",
        client=False,
    )
    auto_pitch: bool = param(
        True, "Estimate pitch from the lane markings' vanishing point when no pitch is configured (Stein et al.).",
    )
    lane_corridor: bool = param(
        True, "Bound the ego corridor by the nearest lane marking on each side where both are found (else the "
        "straight band below).",
    )
    corridor_half_width_m: float = param(
        1.8, "Ego corridor half width when lane lines are not found (a 3.6 m lane).", gt=0,
    )
    lead_max_distance_m: float = param(120.0, "Vehicles farther than this are never the lead.", gt=0)
    range_rate_window_s: float = param(
        1.0, "Window of the least-squares range-rate fit (m/s) behind time-to-collision.", gt=0,
    )
    band_near_m: float = param(
        20.0, "The horizon band reaches down to the road this far ahead: nearer cars are 20+ px in a 416 px "
        "full-frame pass of a 90° camera and found there.", gt=0, client=False,
    )
    band_object_height_m: float = param(
        4.0, "The band reaches up to the top of an object this tall at band_near_m (EU vehicle height limit 4 m).",
        gt=0, client=False,
    )
    band_margin_deg: float = param(
        1.5, "The band is widened by the rows this much pitch or road-grade error moves the horizon.",
        ge=0, client=False,
    )


@dataclass
class PerceptionStats:
    """What a run saw (filled while :func:`run_perception` streams)."""

    frames: int = 0
    detections: int = 0
    track_ids: set[int] = field(default_factory=set)
    lead_frames: int = 0
    pitch_deg: float | None = None
    pitch_source: str = "camera"
    dropped_hood: int = 0
    lane_corridor_updates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "detections": self.detections,
            "tracks": len(self.track_ids),
            "lead_frames": self.lead_frames,
            "pitch_deg": None if self.pitch_deg is None else round(self.pitch_deg, 3),
            "pitch_source": self.pitch_source,
            "dropped_hood": self.dropped_hood,
            "lane_corridor_updates": self.lane_corridor_updates,
        }


def drop_hood(det: Detections, width: int, height: int, fraction: float) -> tuple[Detections, int]:
    """Remove vehicle boxes that are the ego car's own bonnet: reaching the bottom 5% of
    the frame and wider than ``fraction`` of it."""
    if len(det) == 0:
        return det, 0
    b = det.xyxy
    hood = (
        (b[:, 3] >= 0.95 * height)
        & ((b[:, 2] - b[:, 0]) >= fraction * width)
        & np.array([c is RoadClass.VEHICLE for c in det.classes])
    )
    if not hood.any():
        return det, 0
    keep = np.flatnonzero(~hood)
    return (
        Detections(
            det.xyxy[keep],
            det.scores[keep],
            tuple(det.classes[i] for i in keep),
            det.distance_m[keep] if det.distance_m is not None else None,
            tuple(det.labels[i] for i in keep) if det.labels is not None else None,
            tuple(det.attributes[i] for i in keep) if det.attributes is not None else None,
        ),
        int(hood.sum()),
    )


def _edge_sigmas(objs: list[TrackedObject]) -> FloatArray:
    """(N, 2) box-edge sigmas (across, down; frame px) the detector stated for each object
    (``attributes["edge_sigma_px"]``), NaN where it stated none."""
    out = np.full((len(objs), 2), np.nan)
    for k, o in enumerate(objs):
        e = o.attributes.get("edge_sigma_px")
        if isinstance(e, (tuple, list)) and len(e) == 2:
            out[k] = (float(e[0]), float(e[1]))
    return out


class FrameGeometry:
    """Per-stream geometry state: the camera (scaled to the frames), pitch estimates and
    distance histories of live tracks."""

    def __init__(
        self,
        camera: CameraModel | None,
        p: GeometryParams,
        horizon: HorizonEstimator | None,
        pitch_known: bool,
        stats: PerceptionStats,
        lead: RoadEventParams | None = None,
    ) -> None:
        self.base = camera
        self.p = p
        self.camera: CameraModel | None = None
        self.estimator: DistanceEstimator | None = None
        self.estimate_pitch = p.auto_pitch and not pitch_known and p.camera_pitch_deg is None
        self.horizon = horizon if (self.estimate_pitch or p.lane_corridor) else None
        self.rows: deque[float] = deque(maxlen=PITCH_WINDOW)
        self.corridor_age = 0
        self.history: dict[int, deque[tuple[float, float]]] = {}
        self.default_corridor = Corridor(half_width_m=p.corridor_half_width_m)
        self.corridor = self.default_corridor
        self.stats = stats
        self.band: tuple[float, float] | None = None
        """Rows (top, bottom) of the horizon band of the current camera and pitch."""
        lp = lead if lead is not None else RoadEventParams()
        # the lead's range rate and TTC: the same domain computation (and parameters) as the
        # forward-collision rule's, so tracks.parquet's lead row agrees with the rule
        self.lead = LeadTracker(None, None, lp.common.corridor_half_width_m, lp.common.range_rate_window_s)
        self.max_frame_gap_s = lp.common.max_frame_gap_s
        self.last_t: float | None = None

    def prepare(self, frame: Frame) -> None:
        """Before the first frame is detected: the camera scaled to the frames (so the
        detector's horizon band comes from it from the first frame on)."""
        if self.camera is None:
            self._setup(frame)

    def _setup(self, frame: Frame) -> None:
        p = self.p
        if self.base is None:
            intr = CameraIntrinsics.from_fov(frame.width, frame.height, p.hfov_deg)
            cam = CameraModel(intr, CameraMount())
        else:
            cam = self.base.scaled(frame.width, frame.height)
        mount = cam.mount
        if p.camera_height_m is not None:
            mount = replace(mount, height_m=p.camera_height_m)
        if p.camera_pitch_deg is not None:
            mount = replace(mount, pitch_deg=p.camera_pitch_deg)
            self.stats.pitch_source = "config"
        self._set_camera(cam.with_mount(mount))

    def _set_camera(self, cam: CameraModel) -> None:
        self.camera = cam
        self.estimator = DistanceEstimator(cam)
        self.stats.pitch_deg = cam.mount.pitch_deg
        p = self.p
        self.band = horizon_band(
            cam, near_m=p.band_near_m, object_height_m=p.band_object_height_m, margin_deg=p.band_margin_deg
        )

    def _maybe_pitch(self, frame: Frame, n: int) -> None:
        if self.horizon is None or self.camera is None or n % PITCH_EVERY:
            return
        found = self.horizon(frame.image)
        self.corridor_age += 1
        if self.corridor_age > 3:  # lane corridor older than 3 estimates: back to the band
            self.corridor = self.default_corridor
        if found is None:
            return
        row, segments = found
        if self.estimate_pitch:
            self.rows.append(row)
            pitch = pitch_from_horizon(float(np.median(self.rows)), self.camera.intrinsics)
            if self.stats.pitch_source != "lanes" or abs(pitch - self.camera.mount.pitch_deg) > PITCH_DEADBAND:
                self._set_camera(self.camera.with_mount(replace(self.camera.mount, pitch_deg=pitch)))
                self.stats.pitch_source = "lanes"
                # distances before and after a pitch change are not comparable: no range
                # rate across it
                self.history.clear()
        if self.p.lane_corridor:
            lanes = corridor_from_markings(self.camera, segments)
            if lanes is not None:
                self.corridor = lanes
                self.corridor_age = 0
                self.stats.lane_corridor_updates += 1

    def apply(self, frame: Frame, objs: list[TrackedObject], n: int, active: frozenset[int]) -> list[TrackedObject]:
        if self.camera is None:
            self._setup(frame)
        self._maybe_pitch(frame, n)
        assert self.estimator is not None
        for tid in [t for t in self.history if t not in active]:
            del self.history[tid]
        if not objs:
            self._lead_state(frame.t_s, objs, np.empty(0), None)  # the lead's clock runs on
            return objs
        boxes = np.array([o.xyxy for o in objs], dtype=np.float64)
        labels = [str(o.attributes.get("label", o.cls.value)) for o in objs]
        est = self.estimator.estimate(boxes, labels, _edge_sigmas(objs))
        dist = np.array(
            [o.distance_m if o.distance_m is not None else est.fused[i] for i, o in enumerate(objs)],
            dtype=np.float64,
        )
        lateral = est.lateral_m
        is_vehicle = [o.cls is RoadClass.VEHICLE for o in objs]
        near = np.where(dist <= self.p.lead_max_distance_m, dist, np.nan)
        lead = select_lead(near, lateral, is_vehicle, self.corridor)
        lead_state = self._lead_state(frame.t_s, objs, dist, lead)
        out = []
        for i, o in enumerate(objs):
            d = float(dist[i])
            attrs = dict(o.attributes)
            if math.isfinite(float(lateral[i])):
                attrs["lateral_m"] = round(float(lateral[i]), 3)
            if o.distance_m is None and math.isfinite(d) and math.isfinite(float(est.sigma[i])):
                attrs["distance_sigma_m"] = round(float(est.sigma[i]), 3)
            if is_vehicle[i] and math.isfinite(d):
                h = self.history.setdefault(o.track_id, deque(maxlen=HISTORY_LEN))
                h.append((frame.t_s, d))
                t = np.array([x[0] for x in h])
                dd = np.array([x[1] for x in h])
                rr = range_rate(t, dd, self.p.range_rate_window_s)
                if lead == i:
                    rr = lead_state.range_rate_mps if lead_state is not None else math.nan
                if math.isfinite(rr):
                    attrs["range_rate_mps"] = round(rr, 3)
                    attrs["ttc_s"] = time_to_collision(d, rr)
            out.append(
                replace(
                    o,
                    distance_m=d if math.isfinite(d) else None,
                    is_lead=(lead == i),
                    attributes=attrs,
                )
            )
        if lead is not None:
            self.stats.lead_frames += 1
        return out

    def _lead_state(
        self, t_s: float, objs: list[TrackedObject], dist: FloatArray, lead: int | None
    ) -> LeadState | None:
        """The lead's state from the domain's :class:`LeadTracker`, fed every frame (as the
        road-event engine is, with the same frame-gap reset) so its history matches the one
        behind the forward-collision rule."""
        gap = self.last_t is not None and t_s - self.last_t > self.max_frame_gap_s
        self.last_t = t_s
        marked: tuple[TrackedObject, ...] = ()
        if lead is not None and math.isfinite(float(dist[lead])):
            marked = (replace(objs[lead], distance_m=float(dist[lead]), is_lead=True),)
        return self.lead.update(t_s, marked, math.nan, gap)
