"""Road-camera perception: detector choice, model, tracking and camera geometry.

Defaults and their sources are described in docs/perception.md. The camera geometry's keys
(field of view, mount, lead corridor, range-rate window, horizon band) are declared once, in
the domain (``domain/frame_geometry.GeometryParams``), and derived from it (their defaults,
descriptions and bounds; ``config/derive.py``), and so are those a client of ``saferoad
serve`` may set (:data:`CLIENT_KEYS`); the detector, model, threads and tracking keys are
written here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from pydantic import Field, SerializeAsAny, field_validator

from saferoad.config.base import Section
from saferoad.config.derive import client_keys, derived_section
from saferoad.config.detectors import DetectorConfig, OnnxDetectorConfig, parse_detector
from saferoad.domain.frame_geometry import GeometryParams


class _PerceptionKeys(Section):
    """Road-camera perception: detector choice, model, tracking and camera geometry."""

    if TYPE_CHECKING:
        # The camera geometry's keys (domain/frame_geometry.GeometryParams), read by the
        # application as attributes: named here for the type checker only; their defaults,
        # bounds and docs are derived (below), and tests/perception/test_perception_section.py
        # checks these names and types against GeometryParams.
        hfov_deg: float
        camera_height_m: float | None
        camera_pitch_deg: float | None
        auto_pitch: bool
        lane_corridor: bool
        corridor_half_width_m: float
        lead_max_distance_m: float
        range_rate_window_s: float
        band_near_m: float
        band_object_height_m: float
        band_margin_deg: float

    detector: SerializeAsAny[DetectorConfig] = Field(
        default_factory=OnnxDetectorConfig,
        description="Which detector runs, by `type`: one of the registered detector plugins, listed in the rows below with their own keys (saferoad/adapters/detectors). A name (`detector = \"grpc\"`) or a table (`[perception.detector]` `type = \"grpc\"` `url = ...`).",
    )
    model: str = Field(
        "yolox-nano",
        description="Model card: a shipped card name (yolox-nano, fastestdet), a card .toml path, or a folder holding card.toml.",
    )
    models_root: str | None = Field(
        None,
        description="Folder the card's model file is relative to; unset = $SAFEROAD_SHARED/models (../shared/models).",
    )
    replay_path: str | None = Field(
        None,
        description="Labels file for the replay detector (detections.json or MOT text); unset = the recording's detections file.",
    )
    score_threshold: float | None = Field(
        None, ge=0, le=1, description="Detection score threshold; unset = the model card's (YOLOX-nano 0.3)."
    )
    nms_iou: float | None = Field(
        None, ge=0, le=1, description="Class-wise NMS IoU; unset = the model card's (0.45, YOLOX demo)."
    )
    tiles: int = Field(
        0,
        ge=0,
        le=8,
        description="Extra half-width windows over the top of the frame for small signs and lights (SAHI-style slicing); 0 = off. Costs 1 + tiles inferences a frame.",
    )
    horizon_band: bool | None = Field(
        None,
        description="Second inference a frame over the band of rows around the horizon, at 2-3x the full frame's scale, for far road users; unset = the model card's [passes] horizon_band (yolox-nano: on).",
    )
    intra_op_threads: int = Field(
        1, ge=0, description="ONNX Runtime threads per session (1 is fastest on 2 cores with frame parallelism; performance-notes.md)."
    )
    spinning: bool = Field(
        False, description="ONNX Runtime thread spinning (off: it steals the core decoding needs; performance-notes.md)."
    )
    workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Frames inferred in parallel, one 1-thread session each (set to the core count; performance-notes.md).",
    )
    stride: int = Field(1, ge=1, description="Detect on every n-th video frame (3 = 10 fps on 30 fps video).")
    image_fps: float = Field(
        10.0, gt=0, description="Frame rate assumed for image sequences (t_s = index / image_fps)."
    )
    # tracking (ByteTrack, Zhang et al. 2022; reference implementation defaults)
    track_high_score: float = Field(
        0.4, ge=0, le=1,
        description="ByteTrack high-score split (reference 0.5 for YOLOX-X; lowered for YOLOX-nano, whose near cars score 0.75-0.85 and stop signs 0.3-0.8 on the shared frames).",
    )
    track_low_score: float = Field(0.1, ge=0, le=1, description="ByteTrack lowest score kept for the second association (0.1).")
    track_new_score: float = Field(
        0.5, ge=0, le=1, description="Score needed to start a track (ByteTrack: high split + 0.1)."
    )
    track_images: bool = Field(
        False,
        description="Track across still images too; off: each image is its own scene and every detection gets its own id.",
    )
    track_match_iou: float = Field(0.2, ge=0, le=1, description="Minimum IoU of the first association (ByteTrack match_thresh 0.8 = 1 - IoU).")
    track_buffer_s: float = Field(1.0, gt=0, description="A lost track is forgotten after this long (ByteTrack: 30 frames at 30 fps).")
    hood_fraction: float = Field(
        0.6,
        gt=0,
        le=1,
        description="A vehicle box reaching the bottom 5% of the frame and wider than this share of the frame is the ego car's own bonnet and is dropped.",
    )

    @field_validator("detector", mode="before")
    @classmethod
    def _detector(cls, value: object) -> DetectorConfig:
        """The old string form (``"grpc"``) is repaired to ``{type = "grpc"}``; a table is
        checked by its type's model (config/detectors.py)."""
        return parse_detector(value)


if TYPE_CHECKING:
    PerceptionConfig: TypeAlias = _PerceptionKeys
else:
    PerceptionConfig = derived_section("PerceptionConfig", _PerceptionKeys, GeometryParams)

CLIENT_KEYS: frozenset[str] = client_keys(
    (
        "detector", "score_threshold", "nms_iou", "track_high_score", "track_low_score",
        "track_new_score", "track_match_iou", "track_buffer_s", "hood_fraction",
    ),
    GeometryParams,
)
"""The ``perception`` keys a client of ``saferoad serve`` may set: the detector choice, its
score thresholds, the tracker's and the hood's, and every geometry parameter not declared
``client=False`` (not the camera's mount, which is the recording's, nor the horizon band's
extent, a cost)."""


def default_perception() -> PerceptionConfig:
    """Every key at its default (the type checker sees the geometry keys as required
    attributes: ``_PerceptionKeys``)."""
    return PerceptionConfig.model_validate({})
