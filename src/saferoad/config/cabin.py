"""Driver monitoring from the cabin camera.

Defaults follow published practice (``../shared/design/published-practice.md``; docs/cabin.md
explains each choice).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from saferoad.config.base import Section


class CabinConfig(Section):
    """Driver monitoring from the cabin camera."""

    # -- models -----------------------------------------------------------------------------
    detector: Literal["blazeface", "ultraface"] = Field(
        "blazeface",
        description="Face detector: MediaPipe BlazeFace short range (128x128, 1 ms) or UltraFace RFB-320 (320x240, finds smaller faces).",
    )
    landmarks: Literal["facemesh", "pfld68"] = Field(
        "facemesh",
        description="Landmark model: MediaPipe FaceMesh (468 points, gives the face score) or PFLD (68 iBUG points).",
    )
    detector_score: float = Field(
        0.5, gt=0, lt=1, description="Minimum face detection score (MediaPipe's default 0.5)."
    )
    landmark_score: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Minimum FaceMesh face-presence score (sigmoid); below it the frame has no face.",
    )
    min_face_inside: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Share of the landmarks' box that must lie inside the frame; a face cut by the frame edge is not measured.",
    )
    redetect_every: int = Field(
        10,
        ge=1,
        description="Run the detector at least every N frames; in between the face is tracked from the last landmarks (as MediaPipe does).",
    )
    refine_passes: int = Field(
        1,
        ge=0,
        le=1,
        description="Run the landmark model again on the crop its own landmarks give (a better-centred face; eye closure reads more reliably at low resolution).",
    )
    refine_tolerance: float = Field(
        0.0,
        ge=0,
        description="Skip the second landmark pass when its crop would differ from the tracked one by less than this share of the crop (centre, size; radians for the angle). 0: always refine (on small faces even a 2% shift changes which frames read closed).",
    )
    mirrored: bool = Field(
        False,
        description="The cabin camera delivers a mirrored image (some do, like a selfie view): flip it back so the driver's left and right, yaw and roll keep their signs.",
    )
    hfov_deg: float = Field(
        60.0,
        gt=10,
        lt=170,
        description="Cabin camera horizontal field of view for head pose when the recording has no [cabin_camera] intrinsics.",
    )
    intra_op_threads: int = Field(
        1,
        ge=0,
        description="ONNX Runtime threads per model (1 is best on 2 cores, performance-notes.md).",
    )
    # -- camera obstruction -----------------------------------------------------------------
    dark_level: float = Field(
        20.0,
        ge=0,
        le=255,
        description="A frame darker than this mean brightness (0-255) counts as obstructed.",
    )
    uniform_std: float = Field(
        6.0,
        ge=0,
        description="A frame whose brightness standard deviation is below this counts as obstructed (lens covered).",
    )
    obstructed_min_s: float = Field(
        5.0, gt=0, description="camera_obstructed: obstructed frames for at least this long."
    )
    # -- eyes -------------------------------------------------------------------------------
    closed_ratio: float = Field(
        0.80,
        gt=0,
        lt=1,
        description="Eyes closed when the EAR falls below this share of the driver's open-eye EAR (published absolute thresholds 0.18-0.25 against about 0.3 open).",
    )
    baseline_window_s: float = Field(
        60.0,
        gt=0,
        description="Window of the driver's baselines (open-eye EAR, straight-ahead yaw and pitch; running median).",
    )
    baseline_min_s: float = Field(
        3.0,
        gt=0,
        description="Seconds of frames with a face needed before the baselines exist; no eye or head decision is made before (a calibration period).",
    )
    perclos_window_s: float = Field(
        60.0,
        gt=0,
        description="PERCLOS window: the share of a minute with eyes closed (FHWA/NHTSA P80).",
    )
    perclos_min_s: float = Field(
        20.0,
        gt=0,
        description="PERCLOS is reported once this much time with a face is in its window.",
    )
    perclos_threshold: float = Field(
        0.10,
        gt=0,
        lt=1,
        description="Drowsiness when PERCLOS reaches this (about 10% suggested; alert baseline about 6%).",
    )
    slow_blink_s: float = Field(
        0.5,
        gt=0,
        description="A closure at least this long is a slow closure (normal blinks last 0.1-0.4 s).",
    )
    long_closure_s: float = Field(
        1.5,
        gt=0,
        description="One closure this long is drowsiness on its own (a micro-sleep; well above the 0.1-0.4 s of a blink; the simulator's drowsy_closure_s reads this).",
    )
    cluster_gap_s: float = Field(
        5.0, gt=0, description="Slow closures closer than this belong to one drowsiness episode."
    )
    perclos_min_closures: int = Field(
        2,
        ge=1,
        description="PERCLOS alone raises drowsiness only in an episode of at least this many slow closures (a pattern, not one long blink).",
    )
    yawn_ratio: float = Field(
        0.5, gt=0, description="Mouth opening (inner-lip gap / mouth width) of a yawn."
    )
    yawn_min_s: float = Field(
        1.5, gt=0, description="A yawn holds the mouth open at least this long."
    )
    # -- head pose --------------------------------------------------------------------------
    distraction_yaw_deg: float = Field(
        30.0,
        gt=0,
        description="Head turned sideways more than this from the driver's straight-ahead pose is off the road.",
    )
    distraction_pitch_deg: float = Field(
        20.0,
        gt=0,
        description="Head tilted down more than this from straight-ahead is off the road (phone, lap).",
    )
    distraction_pitch_up_deg: float = Field(
        20.0, gt=0, description="Head tilted up more than this is off the road."
    )
    distraction_min_s: float = Field(
        2.0,
        gt=0,
        description="distraction: off the road continuously this long (commercial rules: phone handled >= 2 s).",
    )
    face_gap_s: float = Field(
        1.0,
        ge=0,
        description="A look away continues through frames without a face for at most this long.",
    )
    distraction_min_speed_mps: float = Field(
        5.0 / 3.6,
        ge=0,
        description="Distraction counts only at or above this speed (commercial rules: >= 5 km/h).",
    )
    drowsiness_min_speed_mps: float = Field(
        5.0 / 3.6,
        ge=0,
        description="Drowsiness counts only at or above this speed (a driver dozing while parked is not driving).",
    )
    # -- phone use ----------------------------------------------------------------------------
    phone_detector: Literal["yolox-nano", "none"] = Field(
        "yolox-nano",
        description="Phone detector on cabin video frames: COCO 'cell phone' of the shipped YOLOX-nano model (a cabin.csv track carries its own phone_score/phone_at columns), or none.",
    )
    phone_min_score: float = Field(
        0.35, gt=0, lt=1, description="A phone counts at this detector score or more."
    )
    phone_min_s: float = Field(
        2.0, gt=0, description="phone_use: a phone held (near the face or in the hand) this long (commercial rules: phone handled >= 2 s)."
    )
    phone_max_gap_s: float = Field(
        0.5, ge=0, description="Frames without the phone for at most this long (a hand over it, blur) do not end the episode."
    )
    phone_min_speed_mps: float = Field(
        5.0 / 3.6, ge=0, description="phone_use counts only at or above this speed, throughout the episode (driver-monitoring rules: >= 5 km/h)."
    )
    phone_near_face: float = Field(
        1.0, gt=0, description="A phone whose centre lies within this many face widths of the face's centre is held at the face."
    )
    phone_hand_zone: float = Field(
        2.0, gt=0, description="A phone below the face and within this many face widths of it sideways is in the driver's hand."
    )
