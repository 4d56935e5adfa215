"""Road-camera geometry: pinhole projection, ground-plane back-projection, monocular
distance, the ego corridor, the lead vehicle, range rate and time-to-collision.

Frames of reference
-------------------
* **Vehicle frame**: x forward, y left, z up, metres. The origin lies on the road surface,
  on the vehicle's centre line, at the camera's longitudinal position; the camera lens sits
  at ``(0, mount.lateral_offset_m, mount.height_m)``.
* **Camera frame** (OpenCV): X right, Y down, Z along the optical axis.
* **Pixels**: u right, v down, origin at the top-left pixel corner convention of the
  intrinsics (``cx, cy``).

The camera is pitched *down* by ``mount.pitch_deg`` (positive = looking down) and rolled by
``mount.roll_deg`` about its optical axis.

Distance
--------
"Distance" is the longitudinal (x) distance from the camera to the object's nearest road
contact — what a forward radar reports and what KITTI's ``location.z`` measures.

* Ground contact (flat road, Stein, Mano & Shashua 2003): the bottom-centre of the box is
  back-projected onto the road plane; Z ≈ f·H / (v − v_horizon). Error grows with Z²: one
  pixel at v − v_horizon = 17 px is 6%.
* Width (or height) prior: Z = f·W / w_px for an object of known real width W; error is
  the prior's spread (about 10% for cars), constant in Z.
* Fusion: inverse-variance weighting of the two, each with its own error model; an estimate
  whose box touches the image border on the relevant side is dropped (a cut-off box has
  neither its real width nor its real bottom).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from saferoad.domain.types import CameraIntrinsics, CameraMount, FloatArray

_R_BASE = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
"""Vehicle axes (x fwd, y left, z up) to camera axes (X right, Y down, Z fwd), no tilt."""


def _rot_x(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, slots=True)
class CameraModel:
    """A calibrated, mounted road camera.

    ``project`` maps vehicle-frame points to pixels (the simulator renders with it);
    ``pixel_to_ground`` maps pixels back onto the road plane. Both take and return
    ``float64`` arrays of shape (N, 3) / (N, 2); points that cannot be mapped (behind the
    camera, above the horizon) come back as NaN rows.
    """

    intrinsics: CameraIntrinsics
    mount: CameraMount = field(default_factory=CameraMount)

    @property
    def K(self) -> FloatArray:
        i = self.intrinsics
        return np.array([[i.fx, 0.0, i.cx], [0.0, i.fy, i.cy], [0.0, 0.0, 1.0]])

    @property
    def rotation(self) -> FloatArray:
        """Rotation taking vehicle-frame directions to camera-frame directions."""
        pitch = math.radians(self.mount.pitch_deg)
        roll = math.radians(self.mount.roll_deg)
        out: FloatArray = _rot_z(roll) @ _rot_x(pitch) @ _R_BASE
        return out

    @property
    def position(self) -> FloatArray:
        """The lens position in the vehicle frame."""
        return np.array([0.0, self.mount.lateral_offset_m, self.mount.height_m])

    def with_mount(self, mount: CameraMount) -> CameraModel:
        return CameraModel(self.intrinsics, mount)

    def scaled(self, width: int, height: int) -> CameraModel:
        """The same camera delivering frames of another resolution."""
        if (width, height) == (self.intrinsics.width, self.intrinsics.height):
            return self
        return CameraModel(self.intrinsics.scaled(width, height), self.mount)

    def to_camera(self, points: FloatArray) -> FloatArray:
        """Vehicle-frame points (N, 3) in camera coordinates (N, 3)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out: FloatArray = (pts - self.position) @ self.rotation.T
        return out

    def project(self, points: FloatArray) -> FloatArray:
        """Pixels (N, 2) of vehicle-frame points (N, 3); NaN for points not in front of the
        camera (camera-frame Z <= 1 cm)."""
        pc = self.to_camera(points)
        i = self.intrinsics
        z = pc[:, 2]
        ok = z > 0.01
        zs = np.where(ok, z, np.nan)
        u = i.fx * pc[:, 0] / zs + i.cx
        v = i.fy * pc[:, 1] / zs + i.cy
        out: FloatArray = np.stack([u, v], axis=1)
        return out

    def rays(self, uv: FloatArray) -> FloatArray:
        """Unit-free viewing rays (N, 3) in the vehicle frame through pixels (N, 2)."""
        pix = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        i = self.intrinsics
        rc = np.stack(
            [(pix[:, 0] - i.cx) / i.fx, (pix[:, 1] - i.cy) / i.fy, np.ones(len(pix))], axis=1
        )
        out: FloatArray = rc @ self.rotation  # R^T applied to each row
        return out

    def pixel_to_ground(self, uv: FloatArray, ground_z: float = 0.0) -> FloatArray:
        """Road-plane points (N, 3) seen at pixels (N, 2); NaN rows for pixels on or above
        the horizon."""
        r = self.rays(uv)
        c = self.position
        dz = r[:, 2]
        ok = dz < -1e-9
        t = np.where(ok, (ground_z - c[2]) / np.where(ok, dz, -1.0), np.nan)
        out: FloatArray = c + t[:, None] * r
        return out

    def horizon_v(self, u: float | None = None) -> float:
        """Image row of the horizon (the vanishing line of the road plane) at column ``u``
        (the principal point's column by default)."""
        i = self.intrinsics
        uu = i.cx if u is None else u
        r = self.rotation  # rows: camera axes in vehicle coords
        # Points at infinity on the road: direction d = (cos a, sin a, 0); solve for the
        # direction whose projection has column uu, then read its row.
        # Camera-frame direction of d: R d. Column: fx * (R0.d)/(R2.d) + cx = uu.
        a0 = r[0, 0] - (uu - i.cx) / i.fx * r[2, 0]
        a1 = r[0, 1] - (uu - i.cx) / i.fx * r[2, 1]
        ang = math.atan2(-a0, a1)
        d = np.array([math.cos(ang), math.sin(ang), 0.0])
        if (r @ d)[2] < 0:
            d = -d
        dc = r @ d
        return float(i.fy * dc[1] / dc[2] + i.cy)


def horizon_band(
    camera: CameraModel,
    *,
    near_m: float = 20.0,
    object_height_m: float = 4.0,
    margin_deg: float = 1.5,
) -> tuple[float, float]:
    """Image rows (top, bottom) in which every road user farther than ``near_m`` is seen:
    from the top of an ``object_height_m`` tall object at ``near_m`` (the EU height limit
    of 4 m covers lorries and buses) down to the road at ``near_m``, widened by the rows
    ``margin_deg`` of pitch or road-grade error move the horizon, and clipped to the image.
    Nearer objects are large enough for a pass over the whole frame; this band is where
    a second, higher-resolution pass looks for the far ones. Lateral positions across
    ±45° are taken, so a rolled camera's tilted band is covered."""
    i = camera.intrinsics
    ys = np.array([-1.0, 0.0, 1.0]) * near_m
    ground = np.stack([np.full(3, near_m), ys, np.zeros(3)], axis=1)
    top = np.stack([np.full(3, near_m), ys, np.full(3, object_height_m)], axis=1)
    vg = camera.project(ground)[:, 1]
    vt = camera.project(top)[:, 1]
    margin = i.fy * math.tan(math.radians(margin_deg))
    lo = float(np.nanmin(vt)) - margin if np.isfinite(vt).any() else 0.0
    hi = float(np.nanmax(vg)) + margin if np.isfinite(vg).any() else float(i.height)
    return max(0.0, lo), min(float(i.height), hi)


def pitch_from_horizon(horizon_v: float, intrinsics: CameraIntrinsics) -> float:
    """Camera pitch (degrees, down positive) from the image row of the horizon or of the
    lane lines' vanishing point (zero roll assumed): pitch = atan((cy − v_h) / fy)."""
    return math.degrees(math.atan2(intrinsics.cy - horizon_v, intrinsics.fy))


def vanishing_point(lines: FloatArray) -> tuple[float, float] | None:
    """Least-squares intersection of image lines (N, 4) given as ``x1, y1, x2, y2`` — the
    vanishing point of lane markings. ``None`` with fewer than two non-parallel lines."""
    seg = np.asarray(lines, dtype=np.float64).reshape(-1, 4)
    if len(seg) < 2:
        return None
    p1, p2 = seg[:, :2], seg[:, 2:]
    d = p2 - p1
    n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    norm = np.linalg.norm(n, axis=1)
    keep = norm > 1e-9
    n = n[keep] / norm[keep, None]
    c = np.sum(n * p1[keep], axis=1)
    if len(n) < 2 or np.linalg.matrix_rank(n) < 2:
        return None
    sol, *_ = np.linalg.lstsq(n, c, rcond=None)
    return float(sol[0]), float(sol[1])


@dataclass(frozen=True, slots=True)
class SizePrior:
    """Typical real size of an object class: ``width_m`` (used for vehicles, seen from
    behind) or ``height_m`` (people, riders), with relative spread ``rel_sigma``."""

    width_m: float | None = None
    height_m: float | None = None
    rel_sigma: float = 0.12
    length_m: float = 0.0
    """Length along the road, for vehicles whose side shows (see ``DistanceEstimator.size``)."""
    length_rel_sigma: float = 0.0
    """Relative spread of ``length_m`` (it enters the estimate where the side shows)."""


DEFAULT_PRIORS: dict[str, SizePrior] = {
    # Passenger cars: new EU cars average 1.8 m wide and 4.4-4.5 m long (ICCT / T&E 2023
    # fleet statistics; range 1.6-2.0 m wide, 3.6-5.0 m long from the A to the E segment,
    # taken as ±2σ: 0.35 m = 8%); trucks and buses 2.5-2.55 m (EU maximum 2.55 m); COCO's
    # "truck" spans pickups (5-6 m) to articulated lorries (16.5 m, EU maximum): 8 m ± 40%;
    # buses 8-18 m (midi to articulated): 12 m ± 20%; motorcycles about 0.8 m with rider,
    # 1.8-2.4 m long.
    "car": SizePrior(width_m=1.8, rel_sigma=0.08, length_m=4.5, length_rel_sigma=0.08),
    "vehicle": SizePrior(width_m=1.8, rel_sigma=0.15, length_m=4.5, length_rel_sigma=0.3),
    "truck": SizePrior(width_m=2.45, rel_sigma=0.12, length_m=8.0, length_rel_sigma=0.4),
    "bus": SizePrior(width_m=2.55, rel_sigma=0.08, length_m=12.0, length_rel_sigma=0.2),
    "motorcycle": SizePrior(width_m=0.8, rel_sigma=0.25, length_m=2.1, length_rel_sigma=0.07),
    # Standing adults 1.5-1.9 m (KITTI "Pedestrian" mean 1.76 m); a cyclist's box holds rider
    # and bicycle (KITTI "Cyclist" mean 1.74 m).
    "person": SizePrior(height_m=1.72, rel_sigma=0.12),
    "bicycle": SizePrior(height_m=1.72, rel_sigma=0.15),
}


@dataclass(frozen=True, slots=True)
class DistanceEstimate:
    """Per-box distances (N,) in metres, NaN where a method does not apply."""

    fused: FloatArray
    ground: FloatArray
    size: FloatArray
    lateral_m: FloatArray
    """Lateral offset (left +) of the box's bottom centre at the fused distance."""
    sigma: FloatArray = field(default_factory=lambda: np.empty(0))
    """One standard deviation of ``fused`` (m): the inverse-variance combination of the two
    estimates' own — growing with Z² for ground contact and with Z for the size prior (the
    prior's spread plus the box edges' pixel error over the box's width)."""


@dataclass(frozen=True, slots=True)
class DistanceEstimator:
    """Monocular distance from a box: ground contact, size prior and their fusion.

    ``pixel_sigma``: uncertainty (px) of each box edge where the detector states none
    (``edge_sigma_px`` of :meth:`estimate`: a model's box edges are about as precise in
    its own input pixels, so a box found at a smaller scale has looser edges in the frame);
    ``pitch_sigma_deg``: uncertainty of the horizon — camera pitch and road grade changes;
    ``height_sigma_m``: uncertainty of the road height under the object relative to the
    assumed plane (slope, kerbs, body pitch under braking);
    ``border_px``: a box edge this close to the image border counts as cut off.
    """

    camera: CameraModel
    priors: dict[str, SizePrior] = field(default_factory=lambda: dict(DEFAULT_PRIORS))
    pixel_sigma: float = 2.0
    pitch_sigma_deg: float = 1.0
    height_sigma_m: float = 0.15
    border_px: float = 2.0
    max_distance_m: float = 200.0

    def ground(self, xyxy: FloatArray) -> FloatArray:
        """Longitudinal distance of each box's bottom-centre road contact."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        uv = np.stack([(b[:, 0] + b[:, 2]) / 2.0, b[:, 3]], axis=1)
        g = self.camera.pixel_to_ground(uv)
        d = g[:, 0]
        d = np.where((d > 0) & (d < self.max_distance_m), d, np.nan)
        out: FloatArray = d
        return out

    def _ground_sigma(self, xyxy: FloatArray, d: FloatArray, edge_y: FloatArray | None = None) -> FloatArray:
        # dZ/dv = Z^2 / (f H) for a level camera; dZ/dH = Z / H. The row error is the box
        # edge's own plus the horizon's: pitch and road-slope changes of about a degree
        # (suspension, grade changes) move the horizon by f·tan(1°) ≈ 12 px at f = 700.
        f = self.camera.intrinsics.fy
        h = max(self.camera.mount.height_m, 1e-3)
        edge = self.pixel_sigma if edge_y is None else edge_y
        sigma_v = np.hypot(edge, f * math.tan(math.radians(self.pitch_sigma_deg)))
        rel = np.hypot(d * sigma_v / (f * h), self.height_sigma_m / h)
        out: FloatArray = d * rel
        return out

    def size(
        self, xyxy: FloatArray, labels: Sequence[str] | None, edge_sigma_px: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """The size-prior distance and its sigma alone (see :meth:`_size`)."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        d, s, _ = self._size(b, labels, self._edges(len(b), edge_sigma_px))
        return d, s

    def _edges(self, n: int, edge_sigma_px: FloatArray | None) -> FloatArray:
        """(n, 2) edge sigmas: the stated ones, ``pixel_sigma`` where none (NaN) is stated."""
        edge = np.full((n, 2), self.pixel_sigma)
        if edge_sigma_px is not None:
            e = np.asarray(edge_sigma_px, dtype=np.float64).reshape(-1, 2)
            edge = np.where(np.isfinite(e) & (e > 0), e, edge)
        return edge

    def _size(
        self, xyxy: FloatArray, labels: Sequence[str] | None, edge: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Distance (to the near face) from the size prior of each box's label, and its
        sigma: the prior's spread (width, and length where the side shows) and the two box
        edges' sigma (``edge`` (N, 2) px across and down, else ``pixel_sigma``) over the
        measured width or height, so it grows with range; NaN when the label has no prior
        or the measured side is cut off by the image border.

        Vehicles are taken as boxes of the prior's width W and length L aligned with the
        road: off to one side, the 2D box spans the near rear corner to the far front corner
        of the visible side, so with u' = (u − cx)/fx at its two edges the rear face lies at
        Z = (W + |u'_inner|·L) / (u'_r − u'_l) — without this a car in the next lane looks
        nearer than it is (its side widens the box). People and riders use their height.
        """
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(b)
        d = np.full(n, np.nan)
        s = np.full(n, np.nan)
        side = np.zeros(n)  # +W: left side of a car right of us shows, -W: mirror, 0: none
        if edge is None:
            edge = np.full((n, 2), self.pixel_sigma)
        i = self.camera.intrinsics
        ul = (b[:, 0] - i.cx) / i.fx
        ur = (b[:, 2] - i.cx) / i.fx
        h_px = b[:, 3] - b[:, 1]
        cut_lr = (b[:, 0] <= self.border_px) | (b[:, 2] >= i.width - self.border_px)
        cut_tb = (b[:, 1] <= self.border_px) | (b[:, 3] >= i.height - self.border_px)
        for k, lab in enumerate(labels or ()):
            prior = self.priors.get(lab)
            if prior is None:
                continue
            span = ur[k] - ul[k]
            if prior.width_m is not None and span * i.fx > 1 and not cut_lr[k]:
                w, length = prior.width_m, prior.length_m
                z, inner = w / span, 0.0
                if ul[k] > 0:  # wholly right of the camera: its left side may show
                    z_side = (w + ul[k] * length) / span
                    if ur[k] * z_side - w > 0:  # consistent: rear-left corner right of camera
                        z, side[k], inner = z_side, w, float(ul[k])
                elif ur[k] < 0:  # wholly left: its right side may show
                    z_side = (w - ur[k] * length) / span
                    if ul[k] * z_side + w < 0:
                        z, side[k], inner = z_side, -w, float(-ur[k])
                d[k] = z
                measured, edge_k = span * i.fx, float(edge[k, 0])
                # Z ∝ W + |u'|·L: the spread of both priors, relative to their sum
                rel = math.hypot(prior.rel_sigma * w, inner * prior.length_rel_sigma * length) / (w + inner * length)
            elif prior.height_m is not None and h_px[k] > 1 and not cut_tb[k]:
                d[k] = i.fy * prior.height_m / h_px[k]
                measured, edge_k, rel = h_px[k], float(edge[k, 1]), prior.rel_sigma
            else:
                continue
            # two edges, each edge_k: sqrt(2)·edge_k on the measured extent
            s[k] = d[k] * math.hypot(rel, math.sqrt(2.0) * edge_k / measured)
        return d, s, side

    def estimate(
        self, xyxy: FloatArray, labels: Sequence[str] | None, edge_sigma_px: FloatArray | None = None
    ) -> DistanceEstimate:
        """Both estimates, their fusion and its sigma for boxes ``xyxy`` (N, 4) of classes
        ``labels``. ``edge_sigma_px`` (N, 2): each box's edge uncertainty across and down
        in frame pixels as its detector states it (NaN rows: ``pixel_sigma``)."""
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        i = self.camera.intrinsics
        edge = self._edges(len(b), edge_sigma_px)
        dg = self.ground(b)
        dg = np.where(b[:, 3] >= i.height - self.border_px, np.nan, dg)
        sg = self._ground_sigma(b, dg, edge[:, 1])
        ds, ss, side = self._size(b, labels, edge)
        fused = fuse_estimates(dg, sg, ds, ss)
        sigma = fused_sigma(dg, sg, ds, ss)
        # lateral position of the rear face's centre: where a car's side shows, the box
        # centre is not the car's centre; the rear face is the outer W of the box
        u = (b[:, 0] + b[:, 2]) / 2.0
        zs = np.where(np.isfinite(fused) & (fused > 0), fused, np.nan)
        u_rear = np.where(
            side > 0,
            b[:, 2] - i.fx * side / (2 * zs),
            np.where(side < 0, b[:, 0] - i.fx * side / (2 * zs), u),
        )
        u = np.where(np.isfinite(u_rear), u_rear, u)
        uv = np.stack([u, b[:, 3]], axis=1)
        lat = lateral_at_distance(self.camera, uv, fused)
        return DistanceEstimate(fused=fused, ground=dg, size=ds, lateral_m=lat, sigma=sigma)


def _inverse_variance(d: FloatArray, s: FloatArray) -> FloatArray:
    """1/σ² where the estimate ``d`` is finite and its ``s`` positive, else 0 (no weight)."""
    w: FloatArray = np.where(np.isfinite(d) & (s > 0), 1.0 / np.square(np.where(s > 0, s, 1.0)), 0.0)
    return w


def fused_sigma(d1: FloatArray, s1: FloatArray, d2: FloatArray, s2: FloatArray) -> FloatArray:
    """Standard deviation of :func:`fuse_estimates`' result: 1 / sqrt(Σ 1/σ²) over the
    estimates present; NaN where there is none."""
    w1, w2 = _inverse_variance(d1, s1), _inverse_variance(d2, s2)
    tot = w1 + w2
    out: FloatArray = np.where(tot > 0, 1.0 / np.sqrt(np.where(tot > 0, tot, 1.0)), np.nan)
    return out


def fuse_estimates(d1: FloatArray, s1: FloatArray, d2: FloatArray, s2: FloatArray) -> FloatArray:
    """Inverse-variance fusion of two estimates; where one is NaN the other is used."""
    w1, w2 = _inverse_variance(d1, s1), _inverse_variance(d2, s2)
    tot = w1 + w2
    num = w1 * np.nan_to_num(d1) + w2 * np.nan_to_num(d2)
    out: FloatArray = np.where(tot > 0, num / np.where(tot > 0, tot, 1.0), np.nan)
    return out


def lateral_at_distance(camera: CameraModel, uv: FloatArray, distance_m: FloatArray) -> FloatArray:
    """Lateral offset y (left +, vehicle frame) of the point seen at pixels ``uv`` (N, 2)
    whose longitudinal distance is ``distance_m`` (NaN where unknown)."""
    d = np.asarray(distance_m, dtype=np.float64).reshape(-1)
    r = camera.rays(uv)
    c = camera.position
    ok = np.isfinite(d) & (r[:, 0] > 1e-9)
    t = np.where(ok, (d - c[0]) / np.where(ok, r[:, 0], 1.0), np.nan)
    out: FloatArray = c[1] + t * r[:, 1]
    return out


@dataclass(frozen=True, slots=True)
class Corridor:
    """The ego lane ahead: lateral bounds (vehicle frame, left +) as a function of the
    longitudinal distance. Without lane lines it is a straight band ``±half_width_m``."""

    half_width_m: float = 1.8
    left_m: tuple[float, float] | None = None
    """Left lane line as ``y = a + b·x`` (a, b), when found."""
    right_m: tuple[float, float] | None = None

    def bounds(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        xx = np.asarray(x, dtype=np.float64)
        left = (
            self.left_m[0] + self.left_m[1] * xx
            if self.left_m is not None
            else np.full_like(xx, self.half_width_m)
        )
        right = (
            self.right_m[0] + self.right_m[1] * xx
            if self.right_m is not None
            else np.full_like(xx, -self.half_width_m)
        )
        return left, right

    def contains(self, x: FloatArray, y: FloatArray) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
        left, right = self.bounds(x)
        yy = np.asarray(y, dtype=np.float64)
        out: np.ndarray[tuple[int], np.dtype[np.bool_]] = (
            np.isfinite(yy) & (yy <= left) & (yy >= right)
        )
        return out


def corridor_from_markings(
    camera: CameraModel,
    segments: FloatArray,
    *,
    min_width_m: float = 2.4,
    max_width_m: float = 5.0,
    max_slope: float = 0.15,
    x_ref_m: float = 10.0,
) -> Corridor | None:
    """The ego lane from lane-marking segments (N, 4, image pixels): each segment is
    back-projected onto the road and extended as y = a + b·x; the nearest marking on each
    side of the camera (at ``x_ref_m``) bounds the corridor. ``None`` unless both sides are
    found, nearly parallel to the car (|b| <= ``max_slope``) and a lane's width apart."""
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 4)
    if len(seg) == 0:
        return None
    p1 = camera.pixel_to_ground(seg[:, :2])
    p2 = camera.pixel_to_ground(seg[:, 2:])
    ok = np.isfinite(p1).all(axis=1) & np.isfinite(p2).all(axis=1) & (np.abs(p2[:, 0] - p1[:, 0]) > 0.5)
    if not ok.any():
        return None
    p1, p2 = p1[ok], p2[ok]
    b = (p2[:, 1] - p1[:, 1]) / (p2[:, 0] - p1[:, 0])
    a = p1[:, 1] - b * p1[:, 0]
    y_ref = a + b * x_ref_m
    flat = np.abs(b) <= max_slope
    left = flat & (y_ref > 0.3)
    right = flat & (y_ref < -0.3)
    if not left.any() or not right.any():
        return None
    li = np.flatnonzero(left)[np.argmin(y_ref[left])]
    ri = np.flatnonzero(right)[np.argmax(y_ref[right])]
    width = y_ref[li] - y_ref[ri]
    if not min_width_m <= width <= max_width_m:
        return None
    return Corridor(
        half_width_m=float(width / 2),
        left_m=(float(a[li]), float(b[li])),
        right_m=(float(a[ri]), float(b[ri])),
    )


def select_lead(
    distance_m: FloatArray,
    lateral_m: FloatArray,
    is_vehicle: Sequence[bool],
    corridor: Corridor,
) -> int | None:
    """Index of the lead vehicle — the nearest vehicle whose road contact lies in the ego
    corridor — or ``None``."""
    d = np.asarray(distance_m, dtype=np.float64)
    inside = corridor.contains(d, lateral_m) & np.asarray(is_vehicle, dtype=bool) & np.isfinite(d)
    if not inside.any():
        return None
    idx = np.flatnonzero(inside)
    return int(idx[np.argmin(d[idx])])


def range_rate(t_s: FloatArray, distance_m: FloatArray, window_s: float = 1.0) -> float:
    """Rate of change of distance (m/s, negative = closing): least-squares slope of the
    finite samples in the last ``window_s`` seconds; NaN with fewer than 3 samples or less
    than a quarter of the window covered."""
    t = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(distance_m, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(d)
    t, d = t[ok], d[ok]
    if len(t) < 3:
        return math.nan
    sel = t >= t[-1] - window_s
    t, d = t[sel], d[sel]
    if len(t) < 3 or (t[-1] - t[0]) < window_s / 4:
        return math.nan
    tc = t - t.mean()
    den = float(np.sum(tc * tc))
    if den <= 0:
        return math.nan
    return float(np.sum(tc * (d - d.mean())) / den)


def time_to_collision(distance_m: float, rate_mps: float) -> float:
    """Seconds until contact at the current closing speed; ``inf`` when not closing."""
    if not (math.isfinite(distance_m) and math.isfinite(rate_mps)) or rate_mps >= 0:
        return math.inf
    return distance_m / -rate_mps
