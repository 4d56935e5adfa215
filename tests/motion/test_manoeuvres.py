"""Graded manoeuvres (domain/motion/manoeuvres.py): every braking, acceleration, turn and lane
change measured and put in a band; the harsh band is the events; summary.json's counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.recording import open_recording
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.motion.manoeuvres import (
    BANDS,
    KIND_OF_EVENT,
    KINDS,
    BandEdges,
    Kind,
    ManoeuvreBands,
    ManoeuvreCounts,
)
from saferoad.domain.types import G, ImuSeries

from .conftest import make_drive

BANDS_DEFAULT = ManoeuvreBands()
HARSH_G = {Kind.BRAKING: 0.38, Kind.ACCELERATION: 0.37, Kind.CORNERING: 0.38, Kind.LANE_CHANGE: 0.3}


def band_of(kind: Kind, peak_g: float) -> str | None:
    edges = BANDS_DEFAULT.of(kind)
    if peak_g >= HARSH_G[kind]:
        return "harsh"
    if peak_g >= edges.hard_g:
        return "hard"
    if peak_g >= edges.moderate_g:
        return "moderate"
    return None


def pulse(t: np.ndarray, t0: float, width_s: float, peak: float, shape: str) -> np.ndarray:
    """A smooth manoeuvre of half-height width ``width_s`` starting at ``t0``: a Hann pulse
    (``hann``), or a flat top held ``width_s`` between 0.25 s raised-cosine ramps (``flat``)."""
    x = np.zeros_like(t)
    if shape == "hann":
        d = 2 * width_s  # a Hann pulse's half-height width is half its length
        m = (t >= t0) & (t <= t0 + d)
        x[m] = peak * 0.5 * (1 - np.cos(2 * np.pi * (t[m] - t0) / d))
        return x
    ramp = 0.25
    up = (t >= t0) & (t < t0 + ramp)
    x[up] = peak * 0.5 * (1 - np.cos(np.pi * (t[up] - t0) / ramp))
    x[(t >= t0 + ramp) & (t <= t0 + ramp + width_s)] = peak
    down = (t > t0 + ramp + width_s) & (t < t0 + 2 * ramp + width_s)
    x[down] = peak * 0.5 * (1 + np.cos(np.pi * (t[down] - t0 - ramp - width_s) / ramp))
    return x


def vehicle_imu(
    hz: float, a_long: np.ndarray, t: np.ndarray, a_lat: np.ndarray | None = None, yaw: np.ndarray | None = None
) -> ImuSeries:
    zero = np.zeros_like(t)
    acc = np.column_stack([a_long, zero if a_lat is None else a_lat, np.full_like(t, G)])
    gyro = np.column_stack([zero, zero, zero if yaw is None else yaw])
    return ImuSeries(t, acc, gyro, frame="vehicle")


def manoeuvre(
    kind: Kind, t: np.ndarray, t0: float, width_s: float, peak: float, shape: str, turn_deg: float, shift_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a_long, a_lat, yaw rate) of one manoeuvre of peak ``peak`` (m/s², positive).

    Braking and acceleration: a longitudinal ``pulse``. A turn: a lateral ``pulse`` to the left
    at the speed that makes it turn ``turn_deg`` (a_lat = v·ω, v constant). A lane change to the
    left: one period of a sine, a_lat = peak·sin(2πt/T), its period the one that shifts the car
    ``shift_m`` sideways (shift = peak·T²/2π, so T is not free: ``width_s`` is unused), yaw
    rate a_lat / v at 15 m/s."""
    zero = np.zeros_like(t)
    if kind in (Kind.BRAKING, Kind.ACCELERATION):
        sign = -1.0 if kind == Kind.BRAKING else 1.0
        return sign * pulse(t, t0, width_s, peak, shape), zero, zero
    if kind == Kind.CORNERING:
        lat = pulse(t, t0, width_s, peak, shape)
        v = float(lat.sum() * (t[1] - t[0])) / np.radians(turn_deg)
        return zero, lat, lat / v
    period = float(np.sqrt(2 * np.pi * shift_m / peak))
    m = (t >= t0) & (t <= t0 + period)
    lat = zero.copy()
    lat[m] = peak * np.sin(2 * np.pi * (t[m] - t0) / period)
    return zero, lat, lat / 15.0


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(list(KINDS)),
    peak_g=st.floats(0.1, 0.7),
    width_s=st.floats(0.5, 3.0),
    hz=st.floats(10.0, 200.0),
    phase=st.floats(0.0, 1.0),
    shape=st.sampled_from(["hann", "flat"]),
    turn_deg=st.floats(45.0, 120.0),
    shift_m=st.floats(2.7, 3.7),
)
def test_band_does_not_depend_on_sample_rate_or_filtering(
    kind: Kind, peak_g: float, width_s: float, hz: float, phase: float, shape: str, turn_deg: float, shift_m: float
) -> None:
    """The must-show, for every kind: a manoeuvre of peak a and duration >= 0.5 s lands in the
    band of its peak at any source rate from 10 to 200 Hz, within +-0.02 g of a band edge.
    Duration: a pulse's half-height width; a lane change's each half's (T/3: one lane at up to
    0.7 g takes T >= 1.6 s)."""
    t = np.arange(0.0, 14.0, 1.0 / hz)
    a_long, a_lat, yaw = manoeuvre(kind, t, 3.0 + phase / hz, width_s, peak_g * G, shape, turn_deg, shift_m)
    res = run_engine(vehicle_imu(hz, a_long, t, a_lat, yaw), None, None, EngineParams())
    allowed = {band_of(kind, peak_g - 0.02), band_of(kind, peak_g), band_of(kind, peak_g + 0.02)}
    got = [m for m in res.manoeuvres if m.kind == kind]
    others = [m for m in res.manoeuvres if m.kind != kind]
    assert not others, [m.to_dict() for m in others]
    assert len(got) <= 1, [m.to_dict() for m in got]
    band = got[0].band.value if got else None
    assert band in allowed, (band, allowed, [m.to_dict() for m in got])
    if got:
        assert abs(got[0].peak_g - peak_g) <= 0.05 * peak_g  # measured, not only banded
        if kind in (Kind.CORNERING, Kind.LANE_CHANGE):
            assert got[0].direction is not None and got[0].direction.value == "left"
    # the harsh band is exactly the events
    assert (band == "harsh") == bool(res.events), [e.to_dict() for e in res.events]


def test_three_brakings_land_in_three_bands() -> None:
    hz = 100.0
    t = np.arange(0.0, 40.0, 1.0 / hz)
    a = -(pulse(t, 5, 1.0, 0.27 * G, "flat") + pulse(t, 15, 1.0, 0.35 * G, "flat") + pulse(t, 25, 1.0, 0.45 * G, "flat"))
    res = run_engine(vehicle_imu(hz, a, t), None, None, EngineParams())
    counts = res.manoeuvre_counts
    assert [counts.get("braking", b) for b in BANDS] == [1, 1, 1]
    assert counts.total("moderate") + counts.total("hard") + counts.total("harsh") == 3
    assert [e.type.value for e in res.events] == ["harsh_braking"]
    by_band = {m.band.value: m for m in res.manoeuvres}
    assert by_band["harsh"].start_s == pytest.approx(res.events[0].start_s)
    jerks = []
    for band, peak in (("moderate", 0.27), ("hard", 0.35), ("harsh", 0.45)):
        m = by_band[band]
        assert m.peak_g == pytest.approx(peak, abs=0.02)
        assert 1.0 <= m.duration_s <= 1.6
        # A 0.25 s raised-cosine ramp's steepest jerk is peak * pi / (2 * 0.25 s); the 2 Hz
        # low-pass the engine reads spreads it, so it must come out lower, but not vanish.
        true_jerk = peak * np.pi / 0.5
        assert 0.3 * true_jerk <= m.jerk_g_per_s <= 1.05 * true_jerk
        jerks.append(m.jerk_g_per_s)
    assert jerks == sorted(jerks)


def test_generated_drive_grades_every_manoeuvre() -> None:
    """make_drive: harsh braking 0.5 g, acceleration 0.45 g, a 90° turn and a lane change at
    harsh level, and gentle ones (0.15 g pushes, a slow turn) under every band."""
    d = make_drive(seed=3)
    res = run_engine(d.imu, d.gps, None, EngineParams())
    counts = res.manoeuvre_counts.to_dict()
    for kind in KINDS:
        assert counts[kind.value]["harsh"] == sum(KIND_OF_EVENT.get(e.type) == kind for e in res.events)
    assert counts["braking"]["harsh"] == 1 and counts["acceleration"]["harsh"] == 1
    assert counts["cornering"]["harsh"] == 1 and counts["lane_change"]["harsh"] == 1
    assert sum(c["moderate"] + c["hard"] for c in counts.values()) == 0  # 0.15 g is ordinary
    turn = next(m for m in res.manoeuvres if m.kind == Kind.CORNERING)
    assert turn.heading_change_deg is not None and abs(turn.heading_change_deg) == pytest.approx(90, abs=10)
    v_true = 15.0 + np.cumsum(d.a_long) / 100.0  # make_drive: 15 m/s, 100 Hz
    for m in res.manoeuvres:  # the speed at onset, GPS fused with the IMU
        assert m.speed_onset_mps == pytest.approx(float(np.interp(m.start_s, d.imu.t_s, v_true)), abs=0.5)
    for e in res.events:  # the events carry it too (a braking's peak comes at a lower speed)
        assert e.peak["speed_onset_mps"] == pytest.approx(float(np.interp(e.start_s, d.imu.t_s, v_true)), abs=0.5)
    braking = next(e for e in res.events if e.type.value == "harsh_braking")
    assert braking.peak["speed_mps"] < braking.peak["speed_onset_mps"] - 2.0


def test_counts_json_shape_and_round_trip() -> None:
    empty = ManoeuvreCounts().to_dict()
    assert list(empty) == ["braking", "acceleration", "cornering", "lane_change"]
    for per in empty.values():
        assert list(per) == ["moderate", "hard", "harsh"] and set(per.values()) == {0}
    data = {"braking": {"moderate": 3, "hard": 1, "harsh": 0}, "lane_change": {"harsh": 2}}
    counts = ManoeuvreCounts.from_dict(data)
    assert counts.get("braking", "moderate") == 3 and counts.get("lane_change", "harsh") == 2
    assert ManoeuvreCounts.from_dict(counts.to_dict()) == counts
    with pytest.raises(ValueError, match=r"manoeuvres\.braking\.hard"):
        ManoeuvreCounts.from_dict({"braking": {"hard": -1}})
    with pytest.raises(ValueError, match="unknown kind"):
        ManoeuvreCounts.from_dict({"swerving": {"hard": 1}})


def test_bands_must_ascend_to_the_harsh_threshold() -> None:
    cfg = load_config(overrides={"motion": {"braking_hard_g": 0.4}}).motion
    with pytest.raises(ValueError, match=r"motion\.braking_hard_g \(0\.4\).*motion\.braking_g \(0\.38\)"):
        params_from_config(cfg)
    with pytest.raises(ValueError, match="lane_change_moderate_g"):
        BandEdges(0.3, 0.25).check(Kind.LANE_CHANGE, 0.3)


@pytest.mark.parametrize("trip", ["trip17", "trip20"])
def test_real_trips_harsh_band_is_the_events(shared_dir: Path, trip: str) -> None:
    rec = open_recording(shared_dir / "data/imu/driver-behavior-dataset" / trip)
    res = run_engine(rec.imu, rec.gps, rec.can_speed, params_from_config(load_config().motion, rec))
    counts = res.manoeuvre_counts
    for kind in KINDS:
        assert counts.get(kind, "harsh") == sum(KIND_OF_EVENT.get(e.type) == kind for e in res.events)
    for m in res.manoeuvres:
        if m.band.value != "harsh":
            edges = BANDS_DEFAULT.of(m.kind)
            assert m.peak_g >= edges.moderate_g
            assert (m.band.value == "hard") == (m.peak_g >= edges.hard_g)


def test_summary_counts_only_what_was_measured(tmp_path: Path) -> None:
    """summary.json's manoeuvres: present where the engine measured (here GPS only), absent in
    mode no-imu (five GPS fixes: nothing measured, and zeros would read as a calm trip)."""
    from datetime import UTC, datetime

    from saferoad.adapters.recording import write_recording
    from saferoad.domain.recording import RecordingMeta
    from saferoad.domain.types import GpsSeries
    from saferoad.entrypoints.wiring import analyze_recording

    meta = RecordingMeta(start_utc=datetime(2026, 11, 20, 8, tzinfo=UTC))
    for n, present in ((5, False), (120, True)):
        t = np.arange(float(n))
        gps = GpsSeries(t, 35.0 + 10.0 * t / 111_195.0, np.full(n, 139.0), np.full(n, 10.0), np.zeros(n), np.zeros(n))
        rec = open_recording(write_recording(tmp_path / f"gps{n}", meta, None, gps))
        summary = analyze_recording(rec, load_config()).summary
        assert ("manoeuvres" in summary) == present, summary.get("motion_mode")
        if present:
            assert ManoeuvreCounts.from_dict(summary["manoeuvres"]) == ManoeuvreCounts()
