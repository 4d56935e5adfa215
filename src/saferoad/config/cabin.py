"""Driver monitoring from the cabin camera.

The rules' thresholds are declared once, in the domain (``domain/cabin/monitor.py``:
``CabinThresholds``): those ``[cabin]`` keys are derived from its fields (names, defaults,
descriptions, bounds; ``config/derive.py``), and so are the ones a client of ``saferoad
serve`` may set (:data:`CLIENT_KEYS`). Written here: the keys of the models, the camera and the
phone detector, which the adapters read and the rules do not. A registered cabin rule
(``domain/cabin/registry.py``) adds its params' keys after those (:func:`cabin_model`, at run
time as ``[road_events]``); the dump of the built-in keys, and so every fingerprint, is
unchanged (``tests/test_derived_sections.py``).

Defaults follow published practice (``../shared/design/published-practice.md``; docs/cabin.md
explains each choice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import Field

from saferoad.config.derive import DerivedKeys, DerivedSection, client_keys, derived_section
from saferoad.domain.cabin import registry
from saferoad.domain.cabin.monitor import CabinThresholds


class _CabinKeys(DerivedKeys):
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
    # -- phone use ----------------------------------------------------------------------------
    phone_detector: Literal["yolox-nano", "none"] = Field(
        "yolox-nano",
        description="Phone detector on cabin video frames: COCO 'cell phone' of the shipped YOLOX-nano model (a cabin.csv track carries its own phone_score/phone_at columns), or none.",
    )
    phone_near_face: float = Field(
        1.0, gt=0, description="A phone whose centre lies within this many face widths of the face's centre is held at the face."
    )
    phone_hand_zone: float = Field(
        2.0, gt=0, description="A phone below the face and within this many face widths of it sideways is in the driver's hand."
    )


if TYPE_CHECKING:
    # the type checker sees the hand-written keys; the rules' thresholds are read through
    # CabinThresholds (application/cabin.thresholds_from_config)
    CabinConfig: TypeAlias = _CabinKeys
else:
    CabinConfig = derived_section("CabinConfig", _CabinKeys, CabinThresholds)

SECTION_CLIENT_KEYS = (
    "detector_score", "landmark_score", "min_face_inside", "mirrored", "hfov_deg", "dark_level", "uniform_std",
)
"""The hand-written keys a client of ``saferoad serve`` may set (scores and camera
conditions; not the models, threads, passes or the phone detector's choice and zones)."""

CLIENT_KEYS: frozenset[str] = client_keys(SECTION_CLIENT_KEYS, CabinThresholds)
"""The ``cabin`` keys a client of ``saferoad serve`` may set: :data:`SECTION_CLIENT_KEYS` and
every threshold not declared ``client=False`` (the ``phone_*`` ones are, as before they were
derived)."""


SECTION: DerivedSection[CabinConfig] = DerivedSection(
    "CabinConfig", _CabinKeys, CabinConfig, registry.param_classes, registry.registry_version
)
"""The ``[cabin]`` section at run time: :data:`CabinConfig` (the section's and the monitor's
keys, as at import), extended by the params of every registered cabin rule
(``domain/cabin/registry.py``; config/derive.py, as every derived section)."""

cabin_model = SECTION.model
parse_cabin = SECTION.parse
default_cabin = SECTION.default


def cabin_client_keys() -> frozenset[str]:
    """:data:`CLIENT_KEYS` and every registered cabin rule's parameter (a config key) not
    declared ``client=False``."""
    return SECTION.client_keys(CLIENT_KEYS)
