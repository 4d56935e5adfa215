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
    from saferoad.application.simulate import simulate
    from saferoad.config import load_config

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
