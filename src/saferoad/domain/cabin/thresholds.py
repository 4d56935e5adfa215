"""The thresholds of the driver-monitoring rules (:class:`CabinThresholds`), declared once.

A module of its own, apart from the monitor, so the cabin rule registry
(``domain/cabin/registry.py``) can check a registered rule's parameter names against them
while the monitor runs the registered rules; ``monitor`` re-exports the class.
"""

from __future__ import annotations

from dataclasses import dataclass

from saferoad.domain.cabin.phone import PhoneParams
from saferoad.domain.params import RuleParams, group, param


@dataclass(frozen=True, slots=True)
class CabinThresholds:
    """Parameters of the rules, each declared once: the ``[cabin]`` config section's rule keys
    are derived from these fields (``config/cabin.py``) and the application turns the section
    back into them with one generic conversion (:func:`saferoad.domain.params.params_from`).
    Defaults follow published practice (``../shared/design/published-practice.md``;
    docs/cabin.md explains each choice)."""

    # -- camera obstruction -----------------------------------------------------------------
    obstructed_min_s: float = param(
        5.0, "camera_obstructed: obstructed frames for at least this long.", gt=0,
    )
    # -- eyes -------------------------------------------------------------------------------
    closed_ratio: float = param(
        0.80, "Eyes closed when the EAR falls below this share of the driver's open-eye EAR "
        "(published absolute thresholds 0.18-0.25 against about 0.3 open).", gt=0, lt=1,
    )
    baseline_window_s: float = param(
        60.0, "Window of the driver's baselines (open-eye EAR, straight-ahead yaw and pitch; "
        "running median).", gt=0,
    )
    baseline_min_s: float = param(
        3.0, "Seconds of frames with a face needed before the baselines exist; no eye or head "
        "decision is made before (a calibration period).", gt=0,
    )
    baseline_max_yaw_deg: float = param(
        20.0, "Only frames with the head within this of the straight-ahead yaw feed the open-eye "
        "baseline (a turned head foreshortens the eyes). A constant of the rule, not a config key.",
        config=False, client=False,
    )
    perclos_window_s: float = param(
        60.0, "PERCLOS window: the share of a minute with eyes closed (FHWA/NHTSA P80).", gt=0,
    )
    perclos_min_s: float = param(
        20.0, "PERCLOS is reported once this much time with a face is in its window.", gt=0,
    )
    perclos_threshold: float = param(
        0.10, "Drowsiness when PERCLOS reaches this (about 10% suggested; alert baseline about 6%).",
        gt=0, lt=1,
    )
    slow_blink_s: float = param(
        0.5, "A closure at least this long is a slow closure (normal blinks last 0.1-0.4 s).", gt=0,
    )
    long_closure_s: float = param(
        1.5, "One closure this long is drowsiness on its own (a micro-sleep; well above the 0.1-0.4 s "
        "of a blink; the simulator's drowsy_closure_s reads this).", gt=0,
    )
    cluster_gap_s: float = param(
        5.0, "Slow closures closer than this belong to one drowsiness episode.", gt=0,
    )
    perclos_min_closures: int = param(
        2, "PERCLOS alone raises drowsiness only in an episode of at least this many slow closures "
        "(a pattern, not one long blink).", ge=1,
    )
    yawn_ratio: float = param(0.5, "Mouth opening (inner-lip gap / mouth width) of a yawn.", gt=0)
    yawn_min_s: float = param(1.5, "A yawn holds the mouth open at least this long.", gt=0)
    # -- head pose --------------------------------------------------------------------------
    distraction_yaw_deg: float = param(
        30.0, "Head turned sideways more than this from the driver's straight-ahead pose is off the "
        "road.", gt=0,
    )
    distraction_pitch_deg: float = param(
        20.0, "Head tilted down more than this from straight-ahead is off the road (phone, lap).", gt=0,
    )
    distraction_pitch_up_deg: float = param(20.0, "Head tilted up more than this is off the road.", gt=0)
    distraction_min_s: float = param(
        2.0, "distraction: off the road continuously this long (commercial rules: phone handled "
        ">= 2 s).", gt=0,
    )
    face_gap_s: float = param(
        1.0, "A look away continues through frames without a face for at most this long.", ge=0,
    )
    distraction_min_speed_mps: float = param(
        5.0 / 3.6, "Distraction counts only at or above this speed (commercial rules: >= 5 km/h).", ge=0,
    )
    drowsiness_min_speed_mps: float = param(
        5.0 / 3.6, "Drowsiness counts only at or above this speed (a driver dozing while parked is not "
        "driving).", ge=0,
    )
    max_frame_gap_s: float = param(
        0.5, "A frame stands for the time since the one before it, at most this long, in PERCLOS "
        "and at an episode's end (a gap in the video adds no more). A constant of the rules, not "
        "a config key.",
        config=False, client=False,
    )
    # -- phone use: the phone_* keys (domain/cabin/phone.PhoneParams) ----------------------
    phone: PhoneParams = group(PhoneParams)  # noqa: RUF009 (group() returns a dataclasses.field)
    # -- the registered cabin rules' params (domain/cabin/registry.py): keys of their own names
    rules: RuleParams = param(  # noqa: RUF009 (param() returns a dataclasses.field)
        RuleParams(), "The params of the registered cabin rules (domain/cabin/registry.py), read "
        "from their own [cabin] keys.", config=False, client=False,
    )

    def __post_init__(self) -> None:
        for name in ("baseline_window_s", "perclos_window_s", "max_frame_gap_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CabinThresholds.{name} must be > 0")
        if not 0.0 < self.closed_ratio < 1.0:
            raise ValueError("CabinThresholds.closed_ratio must be in (0, 1)")
