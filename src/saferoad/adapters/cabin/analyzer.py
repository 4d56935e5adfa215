"""The per-frame face pipeline: detect, crop, landmarks, head pose, signals.

Like MediaPipe, the face is *tracked*: after a detection the landmark crop of the next frame
comes from this frame's landmarks, and the detector runs again only when the face is lost or
every ``redetect_every`` frames. After each detection the landmarks run twice (detector box,
then the box of the first landmarks), which gives the model the crop it was trained on.

Head pose comes from six landmarks (nose tip, chin, outer eye corners, mouth corners) and a
generic 3D face with ``cv2.solvePnP``; the angles follow the conventions of
:mod:`saferoad.domain.cabin` (yaw + = driver's left, pitch + = down, roll + = towards the
driver's left shoulder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from saferoad.adapters.onnx.face import (
    BlazeFaceDetector,
    FaceBox,
    FaceLandmarks,
    FaceMeshLandmarker,
    Pfld68Landmarker,
    Roi,
    UltraFaceDetector,
)
from saferoad.config.cabin import CabinConfig
from saferoad.domain.cabin.signals import (
    CabinSample,
    eye_aspect_ratio,
    frame_obstruction,
    mouth_open_ratio,
    upper_lid_aperture,
)
from saferoad.domain.types import CameraIntrinsics, FloatArray, Frame, ImageArray


@dataclass(frozen=True, slots=True)
class LandmarkLayout:
    """Where the signals' points are in a landmark model's output. Eyes are the driver's:
    ``left_eye`` is the driver's left eye (on the image's right in a non-mirrored camera)."""

    left_eye: tuple[int, int, int, int, int, int]
    right_eye: tuple[int, int, int, int, int, int]
    mouth: tuple[int, int, int, int]
    """upper inner lip, lower inner lip, mouth corner on the image's left, on its right"""
    pose: tuple[int, int, int, int, int, int]
    """nose tip, chin, outer eye corner on the image's left, on its right, mouth corner on
    the image's left, on its right (the order of :data:`FACE_3D`)"""


FACEMESH = LandmarkLayout(
    left_eye=(362, 385, 387, 263, 373, 380),
    right_eye=(33, 160, 158, 133, 153, 144),
    mouth=(13, 14, 78, 308),
    pose=(1, 199, 33, 263, 61, 291),
)
IBUG68 = LandmarkLayout(
    left_eye=(42, 43, 44, 45, 46, 47),
    right_eye=(36, 37, 38, 39, 40, 41),
    mouth=(62, 66, 60, 64),
    pose=(30, 8, 36, 45, 48, 54),
)

_CANONICAL = np.array(
    [
        (0.0, -1.126865, 7.475604),  # 1: nose tip
        (0.0, -9.403378, 4.264492),  # 199: chin
        (-4.445859, 2.663991, 3.173422),  # 33: outer eye corner, image left
        (4.445859, 2.663991, 3.173422),  # 263: outer eye corner, image right
        (-2.456206, -4.342621, 4.283884),  # 61: mouth corner, image left
        (2.456206, -4.342621, 4.283884),  # 291: mouth corner, image right
    ],
    np.float64,
)
FACE_3D = _CANONICAL * np.array([1.0, -1.0, -1.0])
"""Six vertices of MediaPipe's canonical face model (``canonical_face_model.obj``, cm, y up,
z towards the viewer), turned into camera-like axes: x to the image's right, y down, z away
from the camera, so that a frontal face has R = I."""


def head_pose(points: FloatArray, intr: CameraIntrinsics) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from the six pose points ``(6, 2)``, or ``None`` when
    solvePnP fails. Yaw and pitch are the direction the nose points (the face's forward
    axis), roll the tilt of the line between the eyes."""
    k = np.array([[intr.fx, 0.0, intr.cx], [0.0, intr.fy, intr.cy], [0.0, 0.0, 1.0]], np.float64)
    pts = np.ascontiguousarray(points, np.float64)
    # start from a frontal face at the distance the eye corners' spacing implies, so the
    # iterative solver converges to the face-forward solution, not its mirror image
    eye_px = float(np.linalg.norm(pts[3] - pts[2]))
    if not eye_px > 1.0:
        return None
    z = intr.fx * float(FACE_3D[3, 0] - FACE_3D[2, 0]) / eye_px
    rvec = np.zeros((3, 1), np.float64)
    tvec = np.array(
        [[(pts[0, 0] - intr.cx) * z / intr.fx], [(pts[0, 1] - intr.cy) * z / intr.fy], [z]]
    )
    ok, rvec_out, _ = cv2.solvePnP(
        FACE_3D, pts, k, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rot, _ = cv2.Rodrigues(rvec_out)
    fwd = rot @ np.array([0.0, 0.0, -1.0])  # out of the face, towards the camera when frontal
    side = rot @ np.array([1.0, 0.0, 0.0])  # towards the image's right (the driver's left)
    yaw = math.degrees(math.atan2(fwd[0], -fwd[2]))
    pitch = math.degrees(math.atan2(fwd[1], math.hypot(fwd[0], fwd[2])))
    roll = math.degrees(math.atan2(side[1], side[0]))
    return yaw, pitch, roll


FACEMESH_MIRROR_PAIRS: tuple[tuple[int, int], ...] = (
    # face oval, from the temples to the jaw
    (127, 356),
    (162, 389),
    (21, 251),
    (54, 284),
    (103, 332),
    (67, 297),
    (109, 338),
    (234, 454),
    (93, 323),
    (132, 361),
    (58, 288),
    (172, 397),
    (136, 365),
    (150, 379),
    (149, 378),
    (176, 400),
    # eye corners, brows, cheeks, mouth corners
    (33, 263),
    (133, 362),
    (70, 300),
    (105, 334),
    (50, 280),
    (205, 425),
    (187, 411),
    (61, 291),
)
"""Left-right mirror pairs of FaceMesh landmarks (the point on the image's left first, for a
non-mirrored upright face)."""


def depth_yaw(points: FloatArray, depth: FloatArray) -> float:
    """Yaw in degrees (same sign as :func:`head_pose`) from FaceMesh's own 3D output: the
    direction, in the x-z plane, of the summed vectors between mirror-pair landmarks
    (:data:`FACEMESH_MIRROR_PAIRS`), which is the face's left-right axis. It needs no camera
    model and no generic face, so it is an independent cross-check of the solvePnP yaw (it
    assumes FaceMesh's z has the scale of its x, as MediaPipe documents)."""
    a = np.array([i for i, _ in FACEMESH_MIRROR_PAIRS])
    b = np.array([j for _, j in FACEMESH_MIRROR_PAIRS])
    dx = float((points[b, 0] - points[a, 0]).sum())
    dz = float((depth[b] - depth[a]).sum())
    return math.degrees(math.atan2(dz, dx))


def _roi_moved(a: Roi, b: Roi, tol: float) -> bool:
    """Whether crop ``b`` differs from ``a`` by more than ``tol`` (share of the crop size for
    the centre and the size, radians for the angle): otherwise the model would see nearly the
    same crop again."""
    return (
        math.hypot(a.cx - b.cx, a.cy - b.cy) > tol * a.size
        or abs(a.size - b.size) > tol * a.size
        or abs(a.angle - b.angle) > tol
    )


class FaceAnalyzer:
    """Frame -> :class:`~saferoad.domain.cabin.signals.CabinSample` (``eyes_closed`` is left
    to the monitor, which compares the EAR with the driver's baseline)."""

    def __init__(
        self,
        config: CabinConfig | None = None,
        intrinsics: CameraIntrinsics | None = None,
        models_root: Path | None = None,
    ) -> None:
        self.cfg = config or CabinConfig()
        threads = self.cfg.intra_op_threads
        self.detector: BlazeFaceDetector | UltraFaceDetector = (
            BlazeFaceDetector(models_root=models_root, threads=threads)
            if self.cfg.detector == "blazeface"
            else UltraFaceDetector(models_root=models_root, threads=threads)
        )
        self.landmarker: FaceMeshLandmarker | Pfld68Landmarker = (
            FaceMeshLandmarker(models_root=models_root, threads=threads)
            if self.cfg.landmarks == "facemesh"
            else Pfld68Landmarker(models_root=models_root, threads=threads)
        )
        self.layout = FACEMESH if self.cfg.landmarks == "facemesh" else IBUG68
        self.intrinsics = intrinsics
        self._roi: Roi | None = None
        self._tracked: Roi | None = None
        self._since_detect = 0
        self.last_landmarks: FaceLandmarks | None = None
        """The landmarks behind the last analysed frame's signals, in the frame's pixels
        (after the flip of a ``mirrored`` camera); ``None`` when it had no usable face. For
        overlays and cross-checks."""

    def reset(self) -> None:
        """Forget the tracked face (the next frame runs the detector)."""
        self._roi = None
        self._tracked = None
        self._since_detect = 0
        self.last_landmarks = None

    def close(self) -> None:
        self.detector.close()
        self.landmarker.close()

    def _intr(self, w: int, h: int) -> CameraIntrinsics:
        if self.intrinsics is None:
            return CameraIntrinsics.from_fov(w, h, self.cfg.hfov_deg)
        if (self.intrinsics.width, self.intrinsics.height) != (w, h):
            return self.intrinsics.scaled(w, h)
        return self.intrinsics

    def _roi_from_box(self, box: FaceBox) -> Roi:
        x1, y1, x2, y2 = (float(v) for v in box.xyxy)
        angle = 0.0
        if box.keypoints is not None:
            right_eye, left_eye = box.keypoints[0], box.keypoints[1]  # image left, image right
            angle = math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])
        size = max(x2 - x1, y2 - y1) * self.landmarker.crop_scale
        return Roi((x1 + x2) / 2, (y1 + y2) / 2, size, angle)

    def _roi_from_landmarks(self, pts: FloatArray) -> Roi:
        lo, hi = pts.min(0), pts.max(0)
        a, b = pts[self.layout.pose[2]], pts[self.layout.pose[3]]
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        size = float((hi - lo).max()) * self.landmarker.crop_scale
        c = (lo + hi) / 2
        return Roi(float(c[0]), float(c[1]), size, angle)

    def _pick(self, boxes: list[FaceBox]) -> FaceBox:
        """The driver's face among the detections: the one that continues the tracked face
        (its centre inside the tracked crop), else the largest (the face nearest the camera;
        passengers sit farther away)."""
        roi = self._tracked
        if roi is not None:
            near = [
                b
                for b in boxes
                if math.hypot(
                    (b.xyxy[0] + b.xyxy[2]) / 2 - roi.cx, (b.xyxy[1] + b.xyxy[3]) / 2 - roi.cy
                )
                < roi.size / 3
            ]
            if near:
                return max(near, key=lambda b: b.score)
        return max(boxes, key=lambda b: float((b.xyxy[2] - b.xyxy[0]) * (b.xyxy[3] - b.xyxy[1])))

    def _landmarks(self, image: ImageArray) -> FaceLandmarks | None:
        """Landmarks of the tracked or newly detected face."""
        tracking = (
            self._roi is not None
            and self._since_detect < self.cfg.redetect_every
            and self.cfg.landmarks == "facemesh"
        )
        if tracking and self._roi is not None:
            self._since_detect += 1
            lm = self.landmarker.run(image, self._roi)
            if lm.score >= self.cfg.landmark_score:
                if self.cfg.refine_passes:
                    roi = self._roi_from_landmarks(lm.points)
                    if _roi_moved(self._roi, roi, self.cfg.refine_tolerance):
                        lm = self.landmarker.run(image, roi)
                return lm
        boxes = [b for b in self.detector.detect(image) if b.score >= self.cfg.detector_score]
        self._since_detect = 0
        if not boxes:
            return None
        lm = self.landmarker.run(image, self._roi_from_box(self._pick(boxes)))
        return self.landmarker.run(image, self._roi_from_landmarks(lm.points))

    def analyze(self, frame: Frame) -> CabinSample:
        image = frame.image
        if self.cfg.mirrored:  # undo the camera's mirror so left, right, yaw and roll are true
            image = np.ascontiguousarray(cv2.flip(image, 1))
        cfg = self.cfg
        obstructed, _, _ = frame_obstruction(image, cfg.dark_level, cfg.uniform_std)
        if obstructed:
            self.reset()
            return CabinSample.no_face(frame.index, frame.t_s, obstructed=True)
        lm = self._landmarks(image)
        if lm is None or (math.isfinite(lm.score) and lm.score < cfg.landmark_score):
            self.reset()
            return CabinSample.no_face(frame.index, frame.t_s)
        pts = lm.points
        h, w = image.shape[:2]
        lo, hi = pts.min(0), pts.max(0)
        area = float(np.prod(np.maximum(hi - lo, 1e-6)))
        clo, chi = np.maximum(lo, 0.0), np.minimum(hi, [w, h])
        inside = float(np.prod(np.maximum(chi - clo, 0.0))) / area
        if inside < cfg.min_face_inside:
            self.reset()
            return CabinSample.no_face(frame.index, frame.t_s)
        self._roi = self._tracked = self._roi_from_landmarks(pts)
        self.last_landmarks = lm
        lay = self.layout
        left, right = pts[list(lay.left_eye)], pts[list(lay.right_eye)]
        ear_l = eye_aspect_ratio(left)
        ear_r = eye_aspect_ratio(right)
        m = lay.mouth
        up = (left.mean(0) + right.mean(0)) / 2 - (pts[m[2]] + pts[m[3]]) / 2
        lid_l = upper_lid_aperture(left, up)
        lid_r = upper_lid_aperture(right, up)
        mouth = mouth_open_ratio(pts[m[0]], pts[m[1]], pts[m[2]], pts[m[3]])
        pose = head_pose(pts[list(lay.pose)], self._intr(w, h))
        yaw, pitch, roll = pose if pose is not None else (math.nan, math.nan, math.nan)
        return CabinSample(
            frame=frame.index,
            t_s=frame.t_s,
            face=True,
            ear_left=ear_l,
            ear_right=ear_r,
            yaw_deg=yaw,
            pitch_deg=pitch,
            roll_deg=roll,
            mouth_open=mouth,
            lid_left=lid_l,
            lid_right=lid_r,
        )
