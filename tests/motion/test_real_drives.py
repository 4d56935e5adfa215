"""The engine on real drives: driverBehaviorDataset trips 17 and 20 (labelled) and the
comma2k19 segment (CAN speed as the reference for the longitudinal axis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import butter, sosfiltfilt

from saferoad.adapters.recording import open_recording
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.domain.matching import MatchResult, match_events
from saferoad.domain.motion.engine import run_engine
from saferoad.domain.motion.signal import lowpass, resample
from saferoad.domain.types import G

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
    reason="measured overall F1 0.83 on trips 17+20 (TP 20, FP 2, FN 6; needs 0.85). FN: the six "
    "labelled harsh accelerations of trip 17. Our processing does not under-read them: their "
    "horizontal peak is 0.19-0.32 g at the engine's 2 Hz low-pass, 0.19-0.32 g held >= 100 ms on "
    "the raw 50 Hz signal (Digital Matter's published measurement) and 0.15-0.26 g over "
    "Bouncie's 1 s window, against the published 0.37 g; the source is 51 Hz, heading-free "
    "mode reads the magnitude (no axis loss). The loss is the phone's gravity removal, whose "
    "gravity estimate follows a sustained push (a high-pass, tau measured 0.84-0.94 s from the "
    "turns); the principled restorations without GPS lift ordinary driving as much: inverting "
    "the measured high-pass gives 0.29-0.52 g with trip 20's unlabelled driving at 0.56 g, "
    "the orientation-free |f|^2 - g^2 gives 0.30-0.42 g with trip 20's labelled normal "
    "manoeuvres at up to 0.50 g and |f| 1.2-1.4 g in its turns; the magnetometer's view of the "
    "tilt (trip 17 only) lifts unlabelled driving to 0.69 g (docs/events.md). FP: two real "
    "aggressive left lane changes (12.4 s, 21.6 s: yaw +22/-20 deg/s, heading back within 2 deg, "
    "0.59 / 0.72 g) that set up the two labelled right changes and are not labelled.",
)
def test_trips_17_and_20_overall_f1(shared_dir: Path) -> None:
    total = None
    for trip in TRIPS:
        m, _ = _score(shared_dir, trip)
        total = m.overall if total is None else total + m.overall
    assert total is not None and total.f1 >= 0.85


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


def _horizontal_50hz(shared_dir: Path, trip: str) -> tuple[Any, np.ndarray, np.ndarray]:
    rec = open_recording(shared_dir / "data/imu/driver-behavior-dataset" / trip)
    assert rec.imu is not None and rec.labels is not None
    u = resample(rec.imu.t_s, rec.imu.acc, 50.0)
    return rec, u.t_s, u.values


def test_trip17_accelerations_not_under_read_by_the_engine(shared_dir: Path) -> None:
    """The engine's 2 Hz low-pass reads trip 17's labelled harsh accelerations about as high as
    the published measurements do (Digital Matter: the raw signal held >= 100 ms, measured up to
    0.036 g higher on one of the six; Bouncie: a 1 s speed change, lower on all six), and under
    every one of them all six stay below the published 0.37 g: the shortfall is the source's,
    not our smoothing's (the xfail above)."""
    rec, t, acc = _horizontal_50hz(shared_dir, "trip17")
    raw = np.hypot(acc[:, 0], acc[:, 1]) / G
    smooth = lowpass(acc, 2.0, 50.0)
    engine = np.hypot(smooth[:, 0], smooth[:, 1]) / G
    held = minimum_filter1d(raw, 5)  # above the level for 5 samples = 100 ms at 50 Hz
    one_s = uniform_filter1d(acc, 50, axis=0)
    window = np.hypot(one_s[:, 0], one_s[:, 1]) / G
    labels = [lab for lab in rec.labels if lab.type == "harsh_acceleration"]
    assert len(labels) == 6
    for lab in labels:
        m = (t >= lab.start_s - 1.0) & (t <= lab.end_s + 1.0)
        assert engine[m].max() >= held[m].max() - 0.04
        assert engine[m].max() >= window[m].max()
        assert max(engine[m].max(), held[m].max(), window[m].max()) < 0.37


def test_orientation_free_magnitude_does_not_separate(shared_dir: Path) -> None:
    """|f|² − g² is free of the phone's orientation error, so it restores what the gravity
    removal took from trip 17's accelerations; but on trip 20 a labelled normal manoeuvre reads
    as high as the restored harsh accelerations of trip 17 — so it is no fix (docs/events.md)."""

    def restored(trip: str, kind: str) -> list[float]:
        rec, t, acc = _horizontal_50hz(shared_dir, trip)
        f = np.linalg.norm(lowpass(acc, 2.0, 50.0), axis=1)
        g = float(np.median(f))
        a = np.sqrt(np.maximum(f**2 - g**2, 0.0)) / g
        assert rec.labels is not None
        return [
            float(a[(t >= lab.start_s - 1.0) & (t <= lab.end_s + 1.0)].max())
            for lab in rec.labels
            if lab.type == kind
        ]

    harsh = restored("trip17", "harsh_acceleration")
    normal = restored("trip20", "normal")
    assert sum(x >= 0.37 for x in harsh) >= 4  # restored: most reach the published level
    assert max(normal) >= min(harsh) and max(normal) >= 0.37  # but ordinary driving as well
