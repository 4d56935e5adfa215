"""solvePnP head pose against faces posed with known angles (no models): the sign
conventions (yaw + = driver's left, pitch + = down, roll + = towards the left shoulder)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saferoad.adapters.cabin.analyzer import FACE_3D, head_pose
from saferoad.domain.types import CameraIntrinsics

INTR = CameraIntrinsics.from_fov(640, 360, 60.0)


def rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head rotation in camera axes (x right, y down, z away): roll in the face plane, then
    pitch about x (nose down for +), then yaw about the vertical (nose to the image's right,
    the driver's left, for +)."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(-a), 0, math.sin(-a)], [0, 1, 0], [-math.sin(-a), 0, math.cos(-a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def project(r: np.ndarray, t: tuple[float, float, float]) -> np.ndarray:
    p = FACE_3D @ r.T + np.asarray(t)
    return np.column_stack(
        [INTR.fx * p[:, 0] / p[:, 2] + INTR.cx, INTR.fy * p[:, 1] / p[:, 2] + INTR.cy]
    )


@pytest.mark.parametrize(
    ("yaw", "pitch"),
    [(0, 0), (35, 0), (-40, 0), (0, 20), (0, -15), (25, 15), (-30, -10), (55, 5)],
)
@pytest.mark.parametrize("where", [(0.0, 0.0, 60.0), (12.0, -5.0, 70.0)])
def test_recovers_yaw_and_pitch(
    yaw: float, pitch: float, where: tuple[float, float, float]
) -> None:
    pose = head_pose(project(rot(yaw, pitch, 0.0), where), INTR)
    assert pose is not None
    assert pose[0] == pytest.approx(yaw, abs=1.0)
    assert pose[1] == pytest.approx(pitch, abs=1.0)


@pytest.mark.parametrize("roll", [-30.0, -10.0, 0.0, 15.0, 40.0])
def test_recovers_roll(roll: float) -> None:
    pose = head_pose(project(rot(0.0, 0.0, roll), (0.0, 0.0, 60.0)), INTR)
    assert pose is not None
    assert pose[2] == pytest.approx(roll, abs=1.0)


def test_signs_in_the_image() -> None:
    # turning to the driver's left moves the nose tip (point 0) to the image's right of the
    # eye-corner midpoint; tilting down moves it down
    left = project(rot(30.0, 0.0, 0.0), (0.0, 0.0, 60.0))
    down = project(rot(0.0, 20.0, 0.0), (0.0, 0.0, 60.0))
    assert left[0, 0] > (left[2, 0] + left[3, 0]) / 2
    assert down[0, 1] > project(rot(0, 0, 0), (0.0, 0.0, 60.0))[0, 1]


def test_degenerate_points() -> None:
    assert head_pose(np.zeros((6, 2)), INTR) is None
