"""Signed axes for the heading-free driverBehaviorDataset, tried and measured (docs/events.md,
"Signed axes from the turns"): the phone is fixed to the car, so in the yaw-locked frame (the
Earth-frame horizontal acceleration turned back by the integrated yaw rate) the car's axes stay
put; in a turn the lateral acceleration is v·ω, so the axis along which that frame's
acceleration follows HP_τ(ω) is the car's LEFT axis, sign included, and forward is left turned
by -90° (``domain/motion/turn_axes.py``). The engine uses that axis only for a sign (which way
a push points); these tests pin why it is not good for more on trip 17 — a full signed frame —
and why even then the labelled accelerations stay under the published threshold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from saferoad.adapters.recording import open_recording
from saferoad.domain.matching import PRF, match_events
from saferoad.domain.motion.harsh import HarshParams, MotionSignals, detect_harsh
from saferoad.domain.motion.highpass import inverse_highpass, source_highpass, turn_back
from saferoad.domain.motion.signal import lowpass, resample
from saferoad.domain.motion.turn_axes import TurnAxes, turn_axes
from saferoad.domain.types import EventLabel, G

HZ = 50.0


@dataclass(frozen=True)
class _Trip:
    t: np.ndarray
    valid: np.ndarray
    yaw_rate: np.ndarray
    raw: np.ndarray
    """Yaw-locked horizontal acceleration as recorded (high-passed)."""
    restored: np.ndarray
    """Yaw-locked after the engine's inverse of the measured high-pass."""
    axes: TurnAxes
    """What the engine uses: the turns' left axes in the yaw-locked frame, the gyro bias."""
    labels: list[EventLabel]

    def forward(self, i: int) -> np.ndarray:
        """The car's forward axis at sample ``i`` in the yaw-locked frame (as the engine reads it)."""
        return self.axes.locked_forward(np.array([i]))[0]

    def labelled(self, kind: str) -> list[tuple[int, int]]:
        """Sample ranges of the labelled events of ``kind``, 1 s before to 3 s after."""
        return [
            (int(np.searchsorted(self.t, lab.start_s - 1.0)), int(np.searchsorted(self.t, lab.end_s + 3.0)))
            for lab in self.labels
            if lab.type == kind
        ]


def _load(shared_dir: Path, trip: str) -> _Trip:
    rec = open_recording(shared_dir / "data/imu/driver-behavior-dataset" / trip)
    assert rec.imu is not None and rec.imu.gyro is not None and rec.labels is not None
    u = resample(rec.imu.t_s, rec.imu.acc, HZ)
    acc = lowpass(u.values, 2.0, HZ, u.valid)[:, :2]
    w = lowpass(resample(rec.imu.t_s, rec.imu.gyro, HZ).values, 2.0, HZ, u.valid)[:, 2]
    restored, fit = source_highpass(acc, w, u.valid, HZ, 1.0, undo=True)
    axes = turn_axes(acc, w, u.valid, HZ, fit.tau_s)  # what the engine uses
    assert axes is not None
    return _Trip(
        u.t_s,
        u.valid,
        w,
        turn_back(acc, axes.angle),
        turn_back(restored, axes.angle),
        axes,
        list(rec.labels),
    )


@pytest.fixture(scope="module")
def trip17(shared_dir: Path) -> _Trip:
    return _load(shared_dir, "trip17")


def test_turns_agree_on_a_left_axis(trip17: _Trip) -> None:
    axes = trip17.axes
    assert axes.turns >= 10
    assert axes.agreement > 0.9  # measured 0.964 with a fitted gyro bias of -0.72 °/s
    assert abs(axes.gyro_bias_dps) < 1.5


def test_brakings_point_backwards_along_the_turns_forward_axis(trip17: _Trip) -> None:
    """The check the method offers: straight brakings lie along -forward (cos -0.66 to -0.97
    measured: the axis is right in sign but off by up to ~50° — the turns' axes scatter by
    ±20° even with the gyro bias fitted, and most of trip 17's turns are slow, 2.4-5 m/s)."""
    raw = trip17.raw
    cosines = []
    for a, b in trip17.labelled("harsh_braking"):
        i = a + int(np.argmax(np.hypot(raw[a:b, 0], raw[a:b, 1])))
        f = trip17.forward(i)
        cosines.append(float(raw[i] @ f / np.hypot(*raw[i])))
    assert len(cosines) == 6
    assert max(cosines) < -0.5
    assert min(cosines) > -1.0


def test_labelled_accelerations_stay_under_the_published_threshold(trip17: _Trip) -> None:
    """Even restored (τ measured, full inverse) and read along their own axis, signed by the
    turns' forward axis, the six labelled harsh accelerations push forward at 0.29–0.46 g:
    only 3 of 6 reach the published 0.37 g, so F1 >= 0.9 on trips 17 + 20 (which needs at least
    4) is out of reach at published thresholds. And each is followed within 3 s by a deceleration
    (0.27–0.54 g) that the restored signal shows as large as the push or larger — in signed mode
    a harsh braking that nobody labelled."""
    raw, rest = trip17.raw, trip17.restored
    pushes, brakes = [], []
    for a, b in trip17.labelled("harsh_acceleration"):
        seg = raw[a:b]
        _, vecs = np.linalg.eigh(seg.T @ seg)
        axis = vecs[:, -1]
        mid = (a + b) // 2
        axis = axis * np.sign(float(axis @ trip17.forward(mid)))
        p = rest[a:b] @ axis
        pushes.append(float(p.max()) / G)
        brakes.append(float(-p.min()) / G)
    assert len(pushes) == 6
    assert sum(x >= 0.37 for x in pushes) <= 3
    assert max(pushes) < 0.5
    assert sum(bk >= 0.8 * ps for ps, bk in zip(pushes, brakes, strict=True)) >= 5


@pytest.mark.parametrize("restore", [False, True])
def test_signed_rules_on_the_turns_axes_score_worse_than_heading_free(
    shared_dir: Path, trip17: _Trip, restore: bool
) -> None:
    """The whole method end to end: a_long / a_lat along the turns' axes (forward at each
    sample from the nearby turns), the signed rules at the published thresholds. Measured
    overall on trips 17 + 20: TP 15 FP 6 FN 11, F1 0.64 as recorded; TP 21 FP 26 FN 5, F1 0.58
    restored (braking leaks into cornering, the decelerations after the pushes and the
    brakings into trip 20's turns become harsh brakings) — against 0.83 in heading-free mode."""
    total = PRF(0, 0, 0)
    for trip in (trip17, _load(shared_dir, "trip20")):
        h = trip.restored if restore else trip.raw
        fwd = trip.axes.locked_forward(np.arange(len(trip.t)))
        left = np.column_stack([-fwd[:, 1], fwd[:, 0]])  # forward turned by +90°
        sig = MotionSignals(
            trip.t, trip.valid, trip.yaw_rate, None, a_long=(h * fwd).sum(axis=1), a_lat=(h * left).sum(axis=1)
        )
        total = total + match_events(detect_harsh(sig, HarshParams(), HZ), trip.labels).overall
    assert total.f1 < 0.83


def test_no_restoration_variant_lifts_the_accelerations(trip17: _Trip) -> None:
    """The restoration's free choices varied around the measured ones (τ 0.8 / 0.94 / 1.1 s,
    integral leak 3 / 10 / 30 s, bias removed over 30 s, 60 s or the whole trip): the count of
    labelled pushes reaching the published 0.37 g ranges 0-4 of 6 (median 1), 4 only for the
    shortest τ with the slowest leak."""
    counts = []
    for tau in (0.8, 0.94, 1.1):
        for leak in (3.0, 10.0, 30.0):
            for window_s in (30.0, 60.0, None):
                if window_s is None:
                    y = trip17.raw - trip17.raw.mean(axis=0)
                else:
                    size = round(window_s * HZ) | 1
                    y = trip17.raw - uniform_filter1d(trip17.raw, size=size, axis=0, mode="nearest")
                restored = inverse_highpass(y, tau, HZ, leak)
                pushes = []
                for a, b in trip17.labelled("harsh_acceleration"):
                    seg = trip17.raw[a:b]
                    _, vecs = np.linalg.eigh(seg.T @ seg)
                    axis = vecs[:, -1] * np.sign(float(vecs[:, -1] @ trip17.forward((a + b) // 2)))
                    pushes.append(float((restored[a:b] @ axis).max()) / G)
                counts.append(sum(p >= 0.37 for p in pushes))
    assert len(counts) == 27
    assert max(counts) <= 4
    assert float(np.median(counts)) <= 2
