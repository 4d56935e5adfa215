"""Render the road camera's video of a scenario: the 3D scene projected through the camera
(:mod:`saferoad.domain.simulation.camera`) and drawn with OpenCV polygons, encoded with
PyAV (H.264, ``ultrafast``).

Drawn: sky and verge, the road with its edge lines and dashed lane lines, vehicles as shaded
boxes with a rear-view sprite on the rear face (:func:`car_rear_sprite`: cabin, rear window,
tail lamps, plate, bumper, tyres), stop signs (red octagon on a pole), traffic lights
(housing with the lit lamp), pedestrians; at night a dark scene lit by the ego's headlights,
lit tail lamps and glowing signal lamps. Everything geometric is computed for all frames at
once with NumPy; the per-frame loop only draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from saferoad.domain.simulation.camera import (
    NEAR_M,
    EgoPoses,
    ObjectView,
    ego_poses,
    horizon_row,
    project,
    to_camera,
)
from saferoad.domain.simulation.model import Scenario
from saferoad.domain.types import FloatArray

_SHIFT = 4
_SCALE = 1 << _SHIFT
"""Sub-pixel precision of cv2 polygon drawing (4 fractional bits)."""

DASH_M, GAP_M = 3.0, 9.0
"""Dashed lane line pattern (metres), repeated along the road."""


@dataclass(frozen=True, slots=True)
class Palette:
    sky_top: tuple[int, int, int]
    sky_bottom: tuple[int, int, int]
    verge: tuple[int, int, int]
    verge_far: tuple[int, int, int]
    road: tuple[int, int, int]
    road_lit: tuple[int, int, int]
    line: tuple[int, int, int]
    shade: float


DAY = Palette((200, 160, 110), (235, 215, 190), (70, 120, 80), (120, 150, 125), (95, 95, 95), (95, 95, 95), (235, 235, 235), 1.0)
NIGHT = Palette((25, 10, 5), (45, 25, 20), (15, 22, 15), (25, 30, 25), (22, 22, 22), (70, 70, 70), (150, 150, 150), 0.35)


def _background(w: int, h: int, horizon: float, pal: Palette) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    rows = np.arange(h, dtype=np.float64)[:, None]
    hz = min(max(horizon, 0.0), float(h))
    a = np.clip(rows / max(hz, 1.0), 0, 1)
    sky = (1 - a) * np.array(pal.sky_top) + a * np.array(pal.sky_bottom)
    b = np.clip((rows - hz) / max(h - hz, 1.0), 0, 1) ** 0.5
    ground = (1 - b) * np.array(pal.verge_far) + b * np.array(pal.verge)
    col = np.where(rows < hz, sky, ground)
    img[:] = col[:, None, :].astype(np.uint8)
    return img


def _pts(u: FloatArray, v: FloatArray) -> np.ndarray:
    """Pixel coordinates as cv2 fixed-point int32 points (clipped to a sane range)."""
    p = np.stack([np.clip(u, -8000, 8000), np.clip(v, -8000, 8000)], axis=-1) * _SCALE
    return np.round(p).astype(np.int32)


def _clip_near(xc: FloatArray, yc: FloatArray, zc: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Sutherland-Hodgman clip of one polygon against the near plane ``z = NEAR_M``."""
    ox: list[float] = []
    oy: list[float] = []
    oz: list[float] = []
    n = xc.shape[0]
    for i in range(n):
        j = (i + 1) % n
        a_in, b_in = zc[i] > NEAR_M, zc[j] > NEAR_M
        if a_in:
            ox.append(float(xc[i]))
            oy.append(float(yc[i]))
            oz.append(float(zc[i]))
        if a_in != b_in:
            r = (NEAR_M - zc[i]) / (zc[j] - zc[i])
            ox.append(float(xc[i] + r * (xc[j] - xc[i])))
            oy.append(float(yc[i] + r * (yc[j] - yc[i])))
            oz.append(NEAR_M)
    return np.array(ox), np.array(oy), np.array(oz)


def car_rear_sprite(color: tuple[int, int, int], aspect: float, night: bool,
                    width: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """A car seen from behind, drawn once per colour and scaled into each frame's rear face:
    BGR (float32, 0-255) and coverage alpha (0-1) on a ``width`` x ``width * aspect`` canvas
    (``aspect`` = height / width of the vehicle's box). Everything lies inside the canvas, so
    the ground-truth box still encloses what is drawn; the texture noise has a fixed seed."""
    W = width
    H = max(8, round(W * aspect))
    img = np.zeros((H, W, 3), np.float32)
    alpha = np.zeros((H, W), np.float32)
    col = np.array(color, np.float32)
    S = 4  # supersampling of the shape masks

    def layer(pts: list[tuple[float, float]]) -> np.ndarray:
        """Coverage of a polygon given as (fraction across, fraction of height from the bottom)."""
        m = np.zeros((H * S, W * S), np.uint8)
        xy = np.array([(round(x * W * S), round((1 - y) * H * S)) for x, y in pts], np.int32)
        cv2.fillPoly(m, [xy], 255, cv2.LINE_8)
        out: np.ndarray = cv2.resize(m, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        return out

    rows = np.linspace(1, 0, H, dtype=np.float32)[:, None, None]  # fraction from bottom

    def paint(m: np.ndarray, c: np.ndarray) -> None:
        nonlocal img, alpha
        m3 = m[:, :, None]
        img = img * (1 - m3) + c * m3
        alpha = np.maximum(alpha, m)

    # shadow under the car (between the wheels)
    paint(layer([(0.03, 0.0), (0.97, 0.0), (0.97, 0.14), (0.03, 0.14)]), np.full((H, W, 3), 18, np.float32))
    # tyres
    tyre = np.full((H, W, 3), 22, np.float32)
    for x0, x1 in ((0.03, 0.19), (0.81, 0.97)):
        paint(layer([(x0, 0.0), (x1, 0.0), (x1, 0.25), (x0, 0.25)]), tyre)
    # lower body with rounded shoulders: a polygon with chamfered corners
    body_pts = [(0.0, 0.14), (1.0, 0.14), (1.0, 0.50), (0.985, 0.56), (0.95, 0.60), (0.05, 0.60), (0.015, 0.56), (0.0, 0.50)]
    grad = 0.75 + 0.45 * np.clip((rows - 0.14) / 0.46, 0, 1)  # lit from above
    across = np.linspace(-1, 1, W, dtype=np.float32)[None, :, None]
    side = 1.0 - 0.18 * across ** 4
    body = col * grad * side
    paint(layer(body_pts), body)
    # cabin: trapezoid, body-coloured pillars and roof
    cab = [(0.07, 0.59), (0.93, 0.59), (0.84, 0.93), (0.80, 0.985), (0.20, 0.985), (0.16, 0.93)]
    paint(layer(cab), col * (0.95 + 0.2 * np.clip((rows - 0.6) / 0.4, 0, 1)) * side)
    # rear window: dark glass with a sky reflection towards the top
    glass_top = np.array((150, 130, 115) if not night else (45, 40, 35), np.float32)
    glass_bot = np.array((40, 33, 30) if not night else (12, 10, 10), np.float32)
    g = np.clip((rows - 0.62) / 0.30, 0, 1)
    glass = glass_bot * (1 - g ** 1.5) + glass_top * g ** 1.5
    paint(layer([(0.13, 0.62), (0.87, 0.62), (0.80, 0.92), (0.20, 0.92)]), glass)
    # trunk lid line and shoulder highlight
    paint(layer([(0.04, 0.555), (0.96, 0.555), (0.96, 0.565), (0.04, 0.565)]), col * 0.45)
    paint(layer([(0.02, 0.585), (0.98, 0.585), (0.97, 0.60), (0.03, 0.60)]), np.minimum(col * 1.3 + 30, 255))
    # bumper (dark plastic) and its top edge
    bump = np.full((H, W, 3), 38, np.float32) * (0.8 + 0.6 * np.clip((rows - 0.12) / 0.12, 0, 1))
    paint(layer([(0.0, 0.12), (1.0, 0.12), (1.0, 0.235), (0.0, 0.235)]), bump)
    # tail lamps: red, wrapping round the corners, brighter core
    lamp = np.array((40, 40, 255) if night else (30, 30, 185), np.float32)
    core = np.array((140, 140, 255) if night else (70, 70, 230), np.float32)
    for pts in ([(0.0, 0.40), (0.22, 0.42), (0.22, 0.52), (0.0, 0.535)], [(1.0, 0.40), (0.78, 0.42), (0.78, 0.52), (1.0, 0.535)]):
        paint(layer(pts), np.broadcast_to(lamp, (H, W, 3)))
    for pts in ([(0.03, 0.445), (0.17, 0.45), (0.17, 0.49), (0.03, 0.495)], [(0.97, 0.445), (0.83, 0.45), (0.83, 0.49), (0.97, 0.495)]):
        paint(layer(pts), np.broadcast_to(core, (H, W, 3)))
    # licence plate with dark characters
    plate = np.array((225, 228, 230) if not night else (150, 150, 150), np.float32)
    paint(layer([(0.38, 0.25), (0.62, 0.25), (0.62, 0.37), (0.38, 0.37)]), np.broadcast_to(plate, (H, W, 3)))
    for k in range(4):
        x0 = 0.405 + k * 0.053
        paint(layer([(x0, 0.275), (x0 + 0.03, 0.275), (x0 + 0.03, 0.345), (x0, 0.345)]), np.full((H, W, 3), 40, np.float32))
    # mild texture: fixed-seed noise (deterministic)
    rng = np.random.default_rng(7)
    img += rng.normal(0, 4.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255), alpha


class SceneRenderer:
    """Draws the frames of one scenario at times ``t`` (seconds)."""

    def __init__(self, sc: Scenario, t: FloatArray, views: list[ObjectView]) -> None:
        self.sc = sc
        self.cam = sc.camera
        self.t = t
        self.views = views
        self.pal = NIGHT if self.cam.night else DAY
        self.poses: EgoPoses = ego_poses(sc, t)
        self.bg = _background(self.cam.width, self.cam.height, horizon_row(self.cam), self.pal)
        self._road_geometry()
        self._object_geometry()

    # -- road --------------------------------------------------------------------------

    def _road_points(self, d: float, ahead: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Camera coordinates (F, K) of the road line at lateral offset ``d``, ``ahead``
        metres beyond each frame's ego position."""
        s = self.poses.s[:, None] + ahead[None, :]
        wx, wy = self.sc.road.world(s.ravel(), np.full(s.size, d))
        wx = wx.reshape(s.shape)
        wy = wy.reshape(s.shape)
        xc, yc, zc, _ = to_camera(self.cam, self.poses, wx, wy, np.zeros_like(wx))
        return xc, yc, zc

    def _road_geometry(self) -> None:
        rng = self.cam.max_range_m
        ahead = np.concatenate([np.geomspace(1.0, rng, 48)])
        road = self.sc.road
        w = road.lane_width_m
        self.left_edge = (road.lanes_left + 0.5) * w
        self.right_edge = -(road.lanes_right + 0.5) * w
        shoulder = 0.8
        self.ahead = ahead
        self.road_l = self._road_points(self.left_edge + shoulder, ahead)
        self.road_r = self._road_points(self.right_edge - shoulder, ahead)
        self.edges = [self._road_points(d, ahead) for d in (self.left_edge, self.right_edge)]
        self.dash_d = [(k + 0.5) * w for k in range(-road.lanes_right, road.lanes_left)]

    def _strip(self, img: np.ndarray, f: int, left: tuple[FloatArray, FloatArray, FloatArray],
               right: tuple[FloatArray, FloatArray, FloatArray], color: tuple[int, int, int]) -> None:
        ok = (left[2][f] > NEAR_M) & (right[2][f] > NEAR_M)
        if ok.sum() < 2:
            return
        ul, vl = project(self.cam, left[0][f][ok], left[1][f][ok], left[2][f][ok])
        ur, vr = project(self.cam, right[0][f][ok], right[1][f][ok], right[2][f][ok])
        poly = _pts(np.concatenate([ul, ur[::-1]]), np.concatenate([vl, vr[::-1]]))
        cv2.fillPoly(img, [poly], color, lineType=cv2.LINE_8, shift=_SHIFT)

    def _lines(self, img: np.ndarray, f: int) -> None:
        cam = self.cam
        for xc, yc, zc in self.edges:
            ok = zc[f] > NEAR_M
            u, v = project(cam, xc[f][ok], yc[f][ok], zc[f][ok])
            # a solid line of 0.15 m width: thickness from the nearest visible distance
            cv2.polylines(img, [_pts(u, v)], False, self.pal.line, 2, cv2.LINE_AA, _SHIFT)
        s0 = self.poses.s[f]
        period = DASH_M + GAP_M
        starts = np.arange(math.floor(s0 / period) * period, s0 + min(cam.max_range_m, 90.0), period)
        starts = starts[starts + DASH_M > s0 + 1.0]
        if starts.size == 0:
            return
        half = 0.075
        polys = []
        pose = EgoPoses(self.poses.t[f : f + 1], self.poses.x[f : f + 1], self.poses.y[f : f + 1],
                        self.poses.heading[f : f + 1], self.poses.s[f : f + 1], self.poses.v[f : f + 1])  # fmt: skip
        for d in self.dash_d:
            a = np.maximum(starts, s0 + 1.0)
            b = starts + DASH_M
            ss = np.stack([a, b, b, a], axis=1).ravel()
            dd = np.tile([d - half, d - half, d + half, d + half], a.size)
            wx, wy = self.sc.road.world(ss, dd)
            xc, yc, zc, _ = to_camera(cam, pose, wx[None, :], wy[None, :], np.zeros((1, wx.size)))
            u, v = project(cam, xc[0], yc[0], zc[0])
            pts = _pts(u, v).reshape(-1, 4, 2)
            good = (zc[0].reshape(-1, 4) > NEAR_M).all(axis=1)
            polys.extend(list(pts[good]))
        if polys:
            cv2.fillPoly(img, polys, self.pal.line, cv2.LINE_AA, _SHIFT)

    # -- objects -----------------------------------------------------------------------

    def _object_geometry(self) -> None:
        self.obj_cam: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}
        for view in self.views:
            assert view.corners is not None
            xc, yc, zc, _ = to_camera(self.cam, self.poses, *view.corners)
            self.obj_cam[view.track_id] = (xc, yc, zc)
        self.vehicle_color = {v.track_id: v.color_bgr for v in self.sc.vehicles}
        self._aspect = {v.track_id: v.height_m / v.width_m for v in self.sc.vehicles}
        self._sprites: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self.light_phase = {lt.track_id: lt for lt in self.sc.lights}

    def _face(self, img: np.ndarray, xc: FloatArray, yc: FloatArray, zc: FloatArray,
              color: tuple[int, int, int]) -> np.ndarray | None:
        if (zc <= NEAR_M).any():
            xc, yc, zc = _clip_near(xc, yc, zc)
            if xc.shape[0] < 3:
                return None
        u, v = project(self.cam, xc, yc, zc)
        pts = _pts(u, v)
        cv2.fillConvexPoly(img, pts, color, cv2.LINE_AA, _SHIFT)
        return np.stack([u, v], axis=1)

    def _shade(self, color: tuple[int, int, int], k: float) -> tuple[int, int, int]:
        k *= self.pal.shade
        return (int(min(255, color[0] * k)), int(min(255, color[1] * k)), int(min(255, color[2] * k)))

    def _box(self, img: np.ndarray, f: int, tid: int, color: tuple[int, int, int],
             shades: dict[str, float]) -> np.ndarray | None:
        """Draw an object's box faces far to near; returns the rear face's pixel corners."""
        xc, yc, zc = (a[f] for a in self.obj_cam[tid])
        return self._box_faces(img, xc, yc, zc, color, shades)

    def _box_faces(self, img: np.ndarray, xc: FloatArray, yc: FloatArray, zc: FloatArray,
                   color: tuple[int, int, int], shades: dict[str, float]) -> np.ndarray | None:
        faces = {"rear": (0, 1, 2, 3), "right": (0, 4, 7, 3), "left": (1, 5, 6, 2), "top": (3, 2, 6, 7), "front": (4, 5, 6, 7)}
        order = sorted(faces, key=lambda k: -float(np.mean(zc[list(faces[k])])))
        rear = None
        for name in order:
            idx = list(faces[name])
            if (zc[idx] <= NEAR_M).all():
                continue
            out = self._face(img, xc[idx], yc[idx], zc[idx], self._shade(color, shades.get(name, 0.8)))
            if name == "rear":
                rear = out if (zc[idx] > NEAR_M).all() else None
        return rear

    @staticmethod
    def _sub_box(c: tuple[FloatArray, FloatArray, FloatArray], u: tuple[float, float],
                 v: tuple[float, float], w: tuple[float, float]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Corners (same layout) of the part of box ``c`` spanning fractions ``u`` of its
        length, ``v`` of its width (from its right side) and ``w`` of its height."""
        out = []
        for a in c:
            o, e_len, e_wid, e_h = a[0], a[4] - a[0], a[1] - a[0], a[3] - a[0]
            pts = [
                o + uu * e_len + vv * e_wid + ww * e_h
                for uu, vv, ww in (
                    (u[0], v[0], w[0]), (u[0], v[1], w[0]), (u[0], v[1], w[1]), (u[0], v[0], w[1]),
                    (u[1], v[0], w[0]), (u[1], v[1], w[0]), (u[1], v[1], w[1]), (u[1], v[0], w[1]),
                )
            ]  # fmt: skip
            out.append(np.array(pts))
        return out[0], out[1], out[2]

    @staticmethod
    def _lerp(q: np.ndarray, a: float, b: float) -> tuple[float, float]:
        """Point at fractions (a across, b up) of a quad ``q`` = corners (bl, br, tr, tl)
        in the order of the rear face (right-bottom, left-bottom, left-top, right-top)."""
        bottom = q[0] + (q[1] - q[0]) * a
        top = q[3] + (q[2] - q[3]) * a
        p = bottom + (top - bottom) * b
        return float(p[0]), float(p[1])

    def _quad(self, img: np.ndarray, q: np.ndarray, a0: float, a1: float, b0: float, b1: float,
              color: tuple[int, int, int]) -> None:
        pts = [self._lerp(q, a0, b0), self._lerp(q, a1, b0), self._lerp(q, a1, b1), self._lerp(q, a0, b1)]
        cv2.fillConvexPoly(img, _pts(np.array([p[0] for p in pts]), np.array([p[1] for p in pts])), color, cv2.LINE_AA, _SHIFT)

    def _vehicle(self, img: np.ndarray, f: int, tid: int) -> None:
        """A car: shadow, wheels, body, glasshouse, then lamps, plate and bumper on the rear."""
        color = self.vehicle_color.get(tid, (120, 120, 120))
        c = tuple(a[f] for a in self.obj_cam[tid])
        assert len(c) == 3
        night = self.cam.night
        sub = self._sub_box
        shadow = sub(c, (-0.03, 1.03), (-0.06, 1.06), (0.0, 0.0))
        if (shadow[2][[0, 1, 5, 4]] > NEAR_M).all():
            self._face(img, shadow[0][[0, 1, 5, 4]], shadow[1][[0, 1, 5, 4]], shadow[2][[0, 1, 5, 4]], (25, 25, 25))
        tyre = (20, 20, 20)
        for u in ((0.72, 0.88), (0.12, 0.28)):  # front axle first (farther)
            for v in ((-0.01, 0.13), (0.87, 1.01)):
                self._box_faces(img, *sub(c, u, v, (0.0, 0.3)), tyre, {})
        shades = {"rear": 0.85, "left": 0.65, "right": 0.65, "top": 1.1, "front": 0.6}
        rear = self._box_faces(img, *sub(c, (0.0, 1.0), (0.0, 1.0), (0.16, 0.58)), color, shades)
        glass = (70, 55, 45) if not night else (30, 25, 20)
        cabin = sub(c, (0.22, 0.78), (0.16, 0.84), (0.58, 1.0))
        self._box_faces(img, *cabin, glass, {"top": 1.0 / self.pal.shade * 0.9 * (color[0] + 1) / max(glass[0], 1)})
        roof = [a[[3, 2, 6, 7]] for a in cabin]
        if (roof[2] > NEAR_M).all():
            self._face(img, roof[0], roof[1], roof[2], self._shade(color, 1.05))
        if rear is None or (c[2][:4] <= NEAR_M).any():
            return
        # the rear-view sprite covers the whole box's rear face (tyres to roof)
        ru, rv = project(self.cam, c[0][:4], c[1][:4], c[2][:4])
        rear = np.stack([ru, rv], axis=1)
        self._rear_sprite(img, rear, color, tid)
        if night:
            # lit tail lamps: a glow over each lamp, as wide as the lamp and flatter
            wpx = abs(rear[1][0] - rear[0][0])
            for a in (0.11, 0.89):
                x, y = self._lerp(rear, a, 0.47)
                axes = (max(2, int(wpx * 0.1)), max(1, int(wpx * 0.045)))
                cv2.ellipse(img, (int(x), int(y)), axes, 0.0, 0.0, 360.0, (80, 80, 255), -1, cv2.LINE_AA)

    def _rear_sprite(self, img: np.ndarray, rear: np.ndarray, color: tuple[int, int, int], tid: int) -> None:
        """Blend the car's rear-view sprite into the bounding rectangle of its rear face."""
        x1, x2 = float(rear[:, 0].min()), float(rear[:, 0].max())
        y1, y2 = float(rear[:, 1].min()), float(rear[:, 1].max())
        ix1, iy1, ix2, iy2 = round(x1), round(y1), round(x2), round(y2)
        w, h = ix2 - ix1, iy2 - iy1
        if w < 2 or h < 2:
            return
        key = (tid, self.cam.night)
        if key not in self._sprites:
            aspect = self._aspect.get(tid, 1.5 / 1.8)
            self._sprites[key] = car_rear_sprite(self._shade(color, 1.0), aspect, self.cam.night)
        bgr, alpha = self._sprites[key]
        H, W = img.shape[:2]
        cx1, cy1, cx2, cy2 = max(ix1, 0), max(iy1, 0), min(ix2, W), min(iy2, H)
        if cx2 <= cx1 or cy2 <= cy1:
            return
        interp = cv2.INTER_AREA if w < bgr.shape[1] else cv2.INTER_LINEAR
        sb = cv2.resize(bgr, (w, h), interpolation=interp)[cy1 - iy1 : cy2 - iy1, cx1 - ix1 : cx2 - ix1]
        sa = cv2.resize(alpha, (w, h), interpolation=interp)[cy1 - iy1 : cy2 - iy1, cx1 - ix1 : cx2 - ix1, None]
        roi = img[cy1:cy2, cx1:cx2]
        roi[:] = (roi * (1.0 - sa) + sb * sa).astype(np.uint8)

    def _pole(self, img: np.ndarray, f: int, tid: int, top_uv: tuple[float, float]) -> None:
        xc, yc, zc = (a[f] for a in self.obj_cam[tid])
        # the ground below the face: same camera-frame x and z as the face's bottom centre, y on the road
        zb = float(np.mean(zc[[0, 1]]))
        if zb <= NEAR_M:
            return
        xb = float(np.mean(xc[[0, 1]]))
        p = math.radians(self.cam.pitch_deg)
        # the road point straight below: move along the "up" direction in camera frame
        ybot = float(np.mean(yc[[0, 1]]))
        # height of the face bottom above the road along the vertical (camera frame) axis
        up = np.array([0.0, -math.cos(p), -math.sin(p)])
        h = self._height_above_road(xb, ybot, zb)
        g = np.array([xb, ybot, zb]) - up * h
        if g[2] <= NEAR_M:
            return
        u, v = project(self.cam, np.array([g[0]]), np.array([g[1]]), np.array([g[2]]))
        width = max(1, round(self.cam.fx * 0.08 / zb))
        cv2.line(img, (int(top_uv[0]), int(top_uv[1])), (int(u[0]), int(v[0])), self._shade((90, 90, 90), 1.0), width, cv2.LINE_AA)

    def _height_above_road(self, x: float, y: float, z: float) -> float:
        p = math.radians(self.cam.pitch_deg)
        # camera frame to vehicle frame height: up = -(y cos p + z sin p) + H
        return self.cam.height_m - (y * math.cos(p) + z * math.sin(p))

    def _off_image(self, u: np.ndarray, v: np.ndarray) -> bool:
        """Nothing of it in the image (a sign beside the camera projects tens of thousands of
        pixels out, and OpenCV's fixed-point drawing overflows on such coordinates: it crashed
        rendering a 1-hour mixed drive)."""
        w, h = self.cam.width, self.cam.height
        return bool(u.max() < 0 or u.min() > w or v.max() < 0 or v.min() > h)

    def _stop_sign(self, img: np.ndarray, f: int, tid: int) -> None:
        xc, yc, zc = (a[f] for a in self.obj_cam[tid])
        idx = [0, 1, 2, 3]
        if (zc[idx] <= NEAR_M).any():
            return
        u, v = project(self.cam, xc[idx], yc[idx], zc[idx])
        if self._off_image(u, v):
            return
        cx, cy = float(u.mean()), float(v.mean())
        rx, ry = (u.max() - u.min()) / 2, (v.max() - v.min()) / 2
        self._pole(img, f, tid, (cx, float(v.max())))
        ang = np.radians(22.5 + 45.0 * np.arange(8))
        oct_u, oct_v = cx + rx * np.cos(ang), cy + ry * np.sin(ang)
        cv2.fillConvexPoly(img, _pts(oct_u, oct_v), (235, 235, 235) if not self.cam.night else (120, 120, 120), cv2.LINE_AA, _SHIFT)
        cv2.fillConvexPoly(img, _pts(cx + 0.88 * rx * np.cos(ang), cy + 0.88 * ry * np.sin(ang)),
                           self._shade((30, 20, 210), 1.0 / self.pal.shade * (0.7 if self.cam.night else 1.0)), cv2.LINE_AA, _SHIFT)  # fmt: skip
        if rx > 12:
            scale = rx / 40.0
            (tw, th), _ = cv2.getTextSize("STOP", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            cv2.putText(img, "STOP", (int(cx - tw / 2), int(cy + th / 2)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (235, 235, 235), max(1, int(scale * 2)), cv2.LINE_AA)  # fmt: skip

    def _light(self, img: np.ndarray, f: int, tid: int) -> None:
        xc, yc, zc = (a[f] for a in self.obj_cam[tid])
        idx = [0, 1, 2, 3]
        if (zc[idx] <= NEAR_M).any():
            return
        u, v = project(self.cam, xc[idx], yc[idx], zc[idx])
        if self._off_image(u, v):
            return
        x1, x2, y1, y2 = float(u.min()), float(u.max()), float(v.min()), float(v.max())
        self._pole(img, f, tid, ((x1 + x2) / 2, y2))
        cv2.rectangle(img, (int(x1), int(y1)), (math.ceil(x2), math.ceil(y2)), (25, 25, 25), -1)
        lamp = self.light_phase[tid].lamp_at(self.t[f : f + 1])[0]
        colors = {"red": (40, 40, 255), "yellow": (40, 200, 255), "green": (120, 230, 60)}
        w = x2 - x1
        r = max(1.0, w * 0.36)
        for k, name in enumerate(("red", "yellow", "green")):
            cy = y1 + (y2 - y1) * (k + 0.5) / 3.0
            c = colors[name] if name == lamp else (55, 55, 55)
            if name == lamp and self.cam.night:
                cv2.circle(img, (int((x1 + x2) / 2), int(cy)), int(r * 2.2), tuple(int(x * 0.45) for x in c), -1, cv2.LINE_AA)
            cv2.circle(img, (round((x1 + x2) / 2), round(cy)), max(1, round(r)), c, -1, cv2.LINE_AA)

    def _person(self, img: np.ndarray, f: int, tid: int) -> None:
        xc, yc, zc = (a[f] for a in self.obj_cam[tid])
        if (zc <= NEAR_M).any():
            return
        u, v = project(self.cam, xc, yc, zc)
        x1, x2, y1, y2 = float(u.min()), float(u.max()), float(v.min()), float(v.max())
        h = y2 - y1
        cx = (x1 + x2) / 2
        body = self._shade((120, 60, 40), 1.0)
        legs = self._shade((50, 40, 40), 1.0)
        cv2.rectangle(img, (int(cx - (x2 - x1) * 0.3), int(y1 + 0.5 * h)), (int(cx + (x2 - x1) * 0.3), int(y2)), legs, -1)
        cv2.rectangle(img, (int(x1), int(y1 + 0.17 * h)), (math.ceil(x2), int(y1 + 0.55 * h)), body, -1)
        cv2.circle(img, (int(cx), int(y1 + 0.085 * h)), max(1, int(0.085 * h)), self._shade((140, 170, 210), 1.0), -1, cv2.LINE_AA)

    # -- frames ------------------------------------------------------------------------

    def frame(self, f: int) -> np.ndarray:
        img = self.bg.copy()
        self._strip(img, f, self.road_l, self.road_r, self.pal.road)
        if self.cam.night:
            near = self.ahead <= 45.0
            left, right = ((x[:, near], y[:, near], z[:, near]) for x, y, z in self.edges)
            self._strip(img, f, left, right, self.pal.road_lit)
        self._lines(img, f)
        order = sorted(
            (v for v in self.views if v.visible[f] or self._near_visible(v, f)),
            key=lambda v: -float(v.distance_m[f]),
        )
        for view in order:
            if view.cls == "vehicle":
                self._vehicle(img, f, view.track_id)
            elif view.cls == "stop_sign":
                self._stop_sign(img, f, view.track_id)
            elif view.cls == "traffic_light":
                self._light(img, f, view.track_id)
            elif view.cls == "person":
                self._person(img, f, view.track_id)
        return img

    def _near_visible(self, view: ObjectView, f: int) -> bool:
        """Also draw objects that are partly in view but below the listing size."""
        zc = self.obj_cam[view.track_id][2][f]
        return bool((zc > NEAR_M).any()) and float(view.distance_m[f]) <= self.cam.max_range_m

    def frames(self) -> Iterator[np.ndarray]:
        for f in range(self.t.shape[0]):
            yield self.frame(f)


def encode_video(path: Path, frames: Iterator[np.ndarray], fps: float, width: int, height: int,
                 *, crf: int = 23, preset: str = "ultrafast") -> int:
    """Encode BGR frames (even width and height) to H.264 (yuv420p) with PyAV, parameter sets
    in-band at every key frame; returns the number of frames."""
    if width % 2 or height % 2:
        raise ValueError(f"video size {width}x{height}: H.264 4:2:0 needs even width and height")
    rate = Fraction(fps).limit_denominator(1001)
    n = 0
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        # SPS/PPS repeated in-band before every key frame (x264 repeat-headers; they also stay
        # in the MP4's avcC): a file cut before its index is written (a power cut) can then be
        # rebuilt from its media data alone (saferoad.adapters.video.repair). Same decoded
        # pictures; measured on a 14 s simulated drive: 28 bytes of SPS/PPS per key frame and
        # x264's 591-byte version SEI once more (150,379 -> 151,010 bytes).
        stream.options = {"preset": preset, "crf": str(crf), "x264-params": "repeat-headers=1"}
        stream.codec_context.time_base = 1 / rate
        for img in frames:
            # BGR -> I420 with OpenCV (BT.601 limited range, what decoders assume) is about
            # 1.5x faster than letting PyAV's swscale convert bgr24
            i420 = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
            frame.pts = n
            frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        for packet in stream.encode():
            container.mux(packet)
    return n
