"""Issue 16 item 6: logic that was written twice now lives once (the domain's), and the
application wrappers keep their behaviour."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from saferoad.application.ingest import haversine_km
from saferoad.application.simulate import iso_week_monday


def test_track_length_is_the_domain_great_circle_distance() -> None:
    # one degree of latitude on the mean-radius sphere (6371.0088 km), a NaN fix skipped
    lat = np.array([10.0, math.nan, 10.5, 11.0])
    lon = np.array([20.0, 20.0, 20.0, 20.0])
    assert haversine_km(lat, lon) == pytest.approx(6371.0088 * math.pi / 180, rel=1e-9)
    assert haversine_km(np.array([1.0]), np.array([2.0])) == 0.0


def test_iso_week_monday_uses_the_scoring_week() -> None:
    assert iso_week_monday("2026-W01") == dt.date(2025, 12, 29)
    assert iso_week_monday("2026-W47") == dt.date(2026, 11, 16)
    with pytest.raises(ValueError, match="--week '2026-47'"):
        iso_week_monday("2026-47")


def test_one_place_chooses_the_replay_file(tmp_path: Path) -> None:
    from saferoad.adapters.detectors import build_detector, replay_detector
    from saferoad.adapters.recording import open_recording
    from saferoad.adapters.replay.detector import ReplayDetector
    from saferoad.config import load_config
    from saferoad.entrypoints.wiring import simulate

    rec_dir = tmp_path / "rec"
    simulate("tailgating", rec_dir, assignments=["duration_s=5"], seed=1, video=False)
    rec = open_recording(rec_dir)
    assert rec.video is None and rec.detections is not None
    cfg = load_config(None, {"perception": {"detector": "replay"}})
    for det in (replay_detector(cfg, rec), build_detector(cfg, rec)):
        assert isinstance(det, ReplayDetector)
    with pytest.raises(ValueError, match=r"needs perception\.replay_path"):
        replay_detector(cfg, None)


def test_the_three_config_fingerprints_share_one_hash_and_keep_their_values() -> None:
    import hashlib
    import json

    from saferoad.application.evaluation.cache import analysis_fingerprint
    from saferoad.application.ingest import scoring_fingerprint
    from saferoad.config import load_config

    def old(data: object) -> str:  # the formula each of the three wrote out before
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    cfg = load_config(None, {"scoring": {"min_distance_km": 7.0}})
    assert cfg.fingerprint() == old(cfg.model_dump(mode="json"))  # stored values stay valid
    assert scoring_fingerprint(cfg) == old(cfg.scoring.model_dump(mode="json"))
    assert scoring_fingerprint(cfg) != scoring_fingerprint(load_config(None, {}))
    data = cfg.model_dump(mode="json")
    for k in ("evaluation", "store"):
        data.pop(k)
    assert analysis_fingerprint(cfg) == old(data)


def test_camera_facts_come_from_the_recording_meta_not_a_second_read(tmp_path: Path) -> None:
    """``pitch_known`` and the video's clock offset are read once, by the recording reader, and
    carried on ``RecordingMeta``; perception and the road stage decide the same way."""
    import tomllib

    from saferoad.adapters.recording import open_recording
    from saferoad.application.context import AnalysisContext
    from saferoad.application.perception import camera_for_recording
    from saferoad.application.stages.road import video_time_offset
    from saferoad.config import load_config
    from saferoad.entrypoints.wiring import simulate

    rec_dir = tmp_path / "rec"
    simulate("tailgating", rec_dir, assignments=["duration_s=5"], seed=1, video=False)
    meta_path = rec_dir / "meta.toml"
    cam = tomllib.loads(meta_path.read_text())["camera"]
    assert "pitch_deg" in cam and cam["time_offset_s"] == 0.0  # the simulator's camera
    rec = open_recording(rec_dir)
    assert rec.meta.camera_pitch_known and camera_for_recording(rec, 640, 360)[1]
    assert rec.meta.camera_time_offset_s == 0.0
    text = meta_path.read_text()
    text = text.replace("pitch_deg", "# pitch_deg").replace("time_offset_s = 0.0", "time_offset_s = 0.25", 1)
    meta_path.write_text(text)
    rec = open_recording(rec_dir)
    assert not rec.meta.camera_pitch_known and not camera_for_recording(rec, 640, 360)[1]
    assert rec.meta.camera_time_offset_s == pytest.approx(0.25)
    cfg = load_config(None, {"road_events": {"clock_offsets_s": {"video": 0.5}}})
    assert video_time_offset(AnalysisContext(rec, cfg)) == pytest.approx(0.75)
