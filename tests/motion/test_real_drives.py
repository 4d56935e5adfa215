"""The engine on real drives: driverBehaviorDataset trips 17 and 20 (labelled) and the
comma2k19 segment (CAN speed as the reference for the longitudinal axis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from saferoad.adapters.recording import open_recording
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.domain.matching import MatchResult, match_events
from saferoad.domain.motion.engine import run_engine

TRIPS = ("trip17", "trip20")


def _score(shared_dir: Path, trip: str) -> tuple[MatchResult, list[dict[str, object]]]:
    rec = open_recording(shared_dir / "data/imu/driver-behavior-dataset" / trip)
    assert rec.labels is not None
    res = run_engine(rec.imu, rec.gps, rec.can_speed, params_from_config(load_config().motion, rec))
    return match_events(res.events, rec.labels), [e.to_dict() for e in res.events]


@pytest.mark.parametrize("trip", TRIPS)
def test_no_normal_manoeuvre_flagged(shared_dir: Path, trip: str) -> None:
    m, _ = _score(shared_dir, trip)
    assert m.n_normal_flagged == 0


def test_trip20_cornering(shared_dir: Path) -> None:
    m, _ = _score(shared_dir, "trip20")
    assert m.overall.f1 >= 0.9
    assert m.per_type()["harsh_cornering"].recall == 1.0


def test_trip17_braking_and_lane_changes(shared_dir: Path) -> None:
    m, _ = _score(shared_dir, "trip17")
    pt = m.per_type()
    assert pt["harsh_braking"].f1 == 1.0
    assert pt["aggressive_lane_change"].recall == 1.0


@pytest.mark.xfail(
    strict=True,
    reason="measured overall F1 0.83 on trips 17+20: the six labelled harsh accelerations of "
    "trip 17 peak at 0.18-0.33 g in the dataset's high-passed signal (tau measured 0.84-0.94 s "
    "from the turns), below the published 0.37 g; inverting the high-pass "
    "(motion.undo_source_highpass) lifts them to only 0.29-0.52 g while unlabelled driving in "
    "trip 20 rises from 0.30 to 0.56 g, so overall F1 drops to 0.69; read along the car's "
    "forward axis found from the turns the restored pushes reach 0.29-0.46 g, 3 of 6 over "
    "0.37 g, and signed rules on that axis score 0.64 / 0.58 (test_yaw_locked_axes.py, "
    "docs/events.md); the graded manoeuvres count 4 of the 6 as moderate/hard (0.24-0.32 g); "
    "the GPS restoration of a high-passed signal needs GPS, which these trips lack",
)
def test_trips_17_and_20_overall_f1(shared_dir: Path) -> None:
    total = None
    for trip in TRIPS:
        m, _ = _score(shared_dir, trip)
        total = m.overall if total is None else total + m.overall
    assert total is not None and total.f1 >= 0.9


@pytest.mark.parametrize("trip", TRIPS)
def test_events_snapshot(shared_dir: Path, trip: str, approx_snapshot: Any) -> None:
    """Events as events.jsonl writes them; figures within 0.02 (their rounding step or more),
    heading changes (rounded to 0.1 degree) within 0.15."""
    _, events = _score(shared_dir, trip)
    assert events == approx_snapshot(default=0.02, keys={"heading_change_deg": 0.15})


def test_comma2k19_long_acc_matches_can_speed(shared_dir: Path) -> None:
    rec = open_recording(shared_dir / "data/comma2k19-segment")
    assert rec.can_speed is not None and rec.imu is not None
    # The engine is not told the axes (and CAN speed is withheld from the frame search).
    res = run_engine(rec.imu, rec.gps, None, params_from_config(load_config().motion, rec))
    assert res.mode == "signed" and res.frame is not None and res.frame.method != "configured"
    tl = res.timeline
    hz = 10.0
    can = np.interp(tl["t_s"], rec.can_speed.t_s, rec.can_speed.speed_mps)
    sos = butter(2, 2.0, fs=hz, output="sos")
    dvdt = sosfiltfilt(sos, np.gradient(can) * hz)
    ok = np.isfinite(tl["long_acc_mps2"])
    r = float(np.corrcoef(tl["long_acc_mps2"][ok], dvdt[ok])[0, 1])
    assert r >= 0.8, r
