"""Fixtures of the evaluation tests: small sensor-only trips in saferoad's format (written by
the recording adapter's writer), and a manifest that mixes them with the shared real drives.

Each synthetic trip cruises at 15 m/s and brakes a few times; each braking is a smooth
deceleration pulse of a given peak (in g) held ~1.5 s, then a gentle (0.15 g) recovery. Pulses
of 0.45 g and more are labelled ``harsh_braking``; gentler ones (0.25 g) are labelled
``normal`` (must not be flagged). A candidate config that raises ``motion.braking_g`` to 0.48 g
therefore misses the 0.45 g brakings: those trips are the ones a comparison must name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.recording import write_recording
from saferoad.domain.recording import Mounting, RecordingMeta
from saferoad.domain.types import EventLabel, G, GpsSeries, ImuSeries

N_SYNTH = 24
"""Synthetic trips in the shared manifest (the issue's 200-trip run is a CLI run, see
docs/evaluation.md)."""
PINNED_VERSION = "eval-tests"
"""Pinned code version (SAFEROAD_CODE_VERSION) so other files edited during a test session do
not invalidate the result cache between two runs of one test."""


def _pulse(t: np.ndarray, t0: float, peak: float, hold: float) -> np.ndarray:
    """A smooth (raised-cosine edges, 0.4 s) pulse of height ``peak`` held ``hold`` s."""
    ramp = 0.4
    out = np.zeros_like(t)
    up = (t >= t0) & (t < t0 + ramp)
    out[up] = 0.5 * (1 - np.cos(math.pi * (t[up] - t0) / ramp))
    out[(t >= t0 + ramp) & (t < t0 + ramp + hold)] = 1.0
    dn = (t >= t0 + ramp + hold) & (t < t0 + 2 * ramp + hold)
    out[dn] = 0.5 * (1 + np.cos(math.pi * (t[dn] - t0 - ramp - hold) / ramp))
    return peak * out


def write_trip(folder: Path, seed: int, brakes_g: list[float], duration_s: float = 50.0) -> Path:
    rng = np.random.default_rng(seed)
    hz = 100.0
    t = np.arange(0.0, duration_s, 1 / hz)
    acc_long = np.zeros_like(t)
    labels: list[EventLabel] = []
    for k, g in enumerate(brakes_g):
        t0 = 6.0 + k * 14.0
        hold = 1.5
        acc_long -= _pulse(t, t0, g * G, hold)
        # recover the lost speed gently (below every threshold)
        lost = g * G * (hold + 0.4)
        rec_hold = lost / (0.15 * G) - 0.4
        acc_long += _pulse(t, t0 + 2 * 0.4 + hold + 1.0, 0.15 * G, rec_hold)
        kind = "harsh_braking" if g >= 0.38 else "normal"
        labels.append(EventLabel(kind, round(t0 + 0.2, 2), round(t0 + 0.6 + hold, 2)))
    speed = 15.0 + np.cumsum(acc_long) / hz
    acc = np.stack([acc_long, np.zeros_like(t), np.full_like(t, G)], axis=1)
    acc += rng.normal(0.0, 0.08, acc.shape)
    gyro = rng.normal(0.0, 0.002, acc.shape)
    imu = ImuSeries(t, acc, gyro)
    tg = np.arange(0.0, duration_s, 1.0)
    v = np.interp(tg, t, speed)
    north_m = np.interp(tg, t, np.cumsum(speed) / hz)
    lat = 35.0 + north_m / 111_320.0
    gps = GpsSeries(
        tg, lat, np.full_like(tg, 139.0), v + rng.normal(0, 0.05, tg.shape),
        np.zeros_like(tg), np.full_like(tg, 10.0),
    )
    meta = RecordingMeta(
        vehicle_id=f"V{seed:03d}", driver_id=f"D{seed % 7:02d}", device_id="SIM",
        start_utc=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        mounting=Mounting.from_rows([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    )
    return write_recording(folder, meta, imu, gps, labels=labels)


def trip_brakes(i: int) -> list[float]:
    """Trip i: three brakings; every third trip has a 0.45 g one, others 0.55 g; one gentle."""
    harsh = 0.45 if i % 3 == 0 else 0.55
    return [0.55, harsh, 0.25]


@pytest.fixture(scope="session")
def synth_trips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-trips")
    for i in range(N_SYNTH):
        write_trip(root / f"trip-{i:03d}", seed=i, brakes_g=trip_brakes(i))
    return root


@pytest.fixture(scope="session")
def mixed_manifest(synth_trips: Path, shared_dir: Path) -> Path:
    """The shared driverBehaviorDataset trips, the comma2k19 segment and the synthetic trips."""
    m = synth_trips.parent / "mixed.yaml"
    imu = shared_dir / "data" / "imu" / "driver-behavior-dataset"
    m.write_text(
        f"""version: 1
name: mixed
recordings:
  - path: {imu}/trip17
    id: dbd-trip17
    tags: [real, phone]
  - path: {imu}/trip20
    id: dbd-trip20
    tags: [real, phone]
  - path: {shared_dir / "data" / "comma2k19-segment"}
    id: comma2k19
    tags: [real, car]
  - path: {synth_trips.name}/trip-*
    tags: [synthetic]
    split: val
""",
        encoding="utf-8",
    )
    return m


@pytest.fixture(scope="session", autouse=True)
def _pinned_code_version() -> Iterator[str]:
    from saferoad.application.evaluation.cache import code_version

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAFEROAD_CODE_VERSION", PINNED_VERSION)
        code_version.cache_clear()
        yield code_version()
    code_version.cache_clear()


def pinned_env() -> dict[str, str]:
    return {**os.environ, "SAFEROAD_CODE_VERSION": PINNED_VERSION}
