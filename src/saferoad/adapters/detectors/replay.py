"""``perception.detector = "replay"``: the boxes of a labels file, frame by frame.

One module is the whole detector (issue 16, Frigate's plugin pattern): its config model
(``[perception.detector]`` ``type = "replay"`` ``path = ...``) and its factory, registered on
import; no table or union elsewhere lists it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from saferoad.adapters.detectors.registry import register
from saferoad.config import SaferoadConfig
from saferoad.config.detectors import DetectorConfig
from saferoad.domain.recording import Recording
from saferoad.ports.detector import Detector

if TYPE_CHECKING:
    from saferoad.adapters.replay.detector import ReplayDetector


class ReplayDetectorConfig(DetectorConfig):
    """Replays the boxes of a labels file (detections.json or MOT text)."""

    type: Literal["replay"] = Field("replay", description="Replay of a labels file.")
    path: str | None = Field(
        None,
        description="Labels file to replay; unset = perception.replay_path, else the recording's detections file.",
    )


CONFIG = ReplayDetectorConfig


def replay_detector(cfg: SaferoadConfig, recording: Recording | None = None) -> ReplayDetector:
    """A :class:`ReplayDetector` on ``detector.path``, else ``perception.replay_path``, else
    the recording's detections file (the one place that chooses which file a replay reads)."""
    # Deferred on purpose: the replay reader pulls in the recording adapters (0.3 s of
    # imports) that a model detector never needs; `saferoad detect` pays them only for
    # ``perception.detector = "replay"`` (start-up, docs/perception.md "Start-up").
    from saferoad.adapters.replay.detector import ReplayDetector

    det = cfg.perception.detector
    path = (det.path if isinstance(det, ReplayDetectorConfig) else None) or cfg.perception.replay_path or (
        str(recording.detections) if recording is not None and recording.detections else None
    )
    if path is None:
        raise ValueError(
            'perception.detector = "replay" needs perception.replay_path (or detector.path) or a '
            "recording with a detections file (detections.json)"
        )
    return ReplayDetector(path)


def build(cfg: SaferoadConfig, recording: Recording | None = None) -> Detector:
    return replay_detector(cfg, recording)


register(CONFIG, build)
