"""One ``EventSpec`` per event type: everything saferoad says about a type in one place.

The rule that emits a type lives in its family's module (``source``); this registry holds what
every other part needs to know about it: its title and the sentence of a habitual risk, its
default weight in the score (with the published source of that weight), its colour in every
figure, which sensors it needs, and how urgent it is for in-cab alerts and uploads. A test
checks that every ``EventType`` has a spec, so a new type cannot be forgotten by the score
(weights used to default silently to 0), the reports or the uploader.

Adding an event type: add it to ``EventType``, write its rule in its family, add its spec here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from saferoad.domain.types import EventType


class Family(StrEnum):
    """Which stage's rules emit the type."""

    MOTION = "motion"
    """IMU (+ GPS/CAN speed): ``saferoad.domain.motion``."""
    ROAD = "road"
    """Road camera (+ speed): ``saferoad.domain.road_events``."""
    CABIN = "cabin"
    """Cabin camera: ``saferoad.domain.cabin``."""


class Priority(StrEnum):
    """Urgency of an event for in-cab alerts and uploads (collision-class first)."""

    COLLISION = "collision"
    """A collision was close: alert at once, upload before anything else."""
    SAFETY = "safety"
    """A risky act: alert, upload in order."""
    DEVICE = "device"
    """About the device, not the driving (a blocked camera)."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """What saferoad knows about one event type."""

    type: EventType
    family: Family
    title: str
    """Shown on event cards, tables and axes ("Harsh braking")."""
    habit: str
    """The habitual-risk phrase, lower case ("brakes harshly")."""
    weight: float
    """Default weight (0-10) of the type in the safety score."""
    weight_source: str
    """Where the weight comes from (docs/scoring.md)."""
    colour: str
    """One colour per type in every figure and on the event cards."""
    needs: tuple[str, ...]
    """Sensors the rule needs: ``imu``, ``speed`` (GPS or CAN), ``road_camera``, ``cabin_camera``."""
    priority: Priority = Priority.SAFETY

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 10.0:
            raise ValueError(f"{self.type}: weight {self.weight} not within 0-10")
        if not (self.colour.startswith("#") and len(self.colour) == 7):
            raise ValueError(f"{self.type}: colour {self.colour!r} is not #rrggbb")


def _specs(*specs: EventSpec) -> Mapping[str, EventSpec]:
    out: dict[str, EventSpec] = {}
    for s in specs:
        if s.type.value in out:
            raise ValueError(f"two specs for {s.type.value}")
        out[s.type.value] = s
    return MappingProxyType(out)


# Weights: Motive's published 0-10 weights (phone 10, close following 9, stop sign 7,
# speeding 6, distraction 5, hard brake 4, corner 2, accel 1); a type Motive does not weigh
# takes the weight of the closest one it does (docs/scoring.md).
SPECS: Mapping[str, EventSpec] = _specs(
    EventSpec(EventType.HARSH_BRAKING, Family.MOTION, "Harsh braking", "brakes harshly",
              4.0, "Motive hard brake 4", "#dc2626", ("imu",)),
    EventSpec(EventType.HARSH_ACCELERATION, Family.MOTION, "Harsh acceleration", "accelerates harshly",
              1.0, "Motive acceleration 1", "#ea580c", ("imu",)),
    EventSpec(EventType.HARSH_CORNERING, Family.MOTION, "Harsh cornering", "takes corners too fast",
              2.0, "Motive corner 2", "#d97706", ("imu",)),
    EventSpec(EventType.AGGRESSIVE_LANE_CHANGE, Family.MOTION, "Aggressive lane change", "changes lanes abruptly",
              2.0, "as Motive's corner 2 (a lateral manoeuvre)", "#ca8a04", ("imu",)),
    EventSpec(EventType.TAILGATING, Family.ROAD, "Tailgating", "follows the vehicle ahead too closely",
              9.0, "Motive close following 9", "#7c3aed", ("road_camera", "speed")),
    EventSpec(EventType.FORWARD_COLLISION_WARNING, Family.ROAD, "Forward collision warning",
              "comes close to hitting the vehicle ahead",
              9.0, "as close following 9 (Samsara weighs collision risk at twice a harsh event)",
              "#be185d", ("road_camera", "speed"), Priority.COLLISION),
    EventSpec(EventType.ROLLING_STOP, Family.ROAD, "Rolling stop", "rolls through stop signs without stopping",
              7.0, "Motive stop sign 7", "#0891b2", ("road_camera", "speed")),
    EventSpec(EventType.STOP_SIGN_VIOLATION, Family.ROAD, "Stop sign violation", "drives through stop signs",
              7.0, "Motive stop sign 7", "#0e7490", ("road_camera", "speed")),
    EventSpec(EventType.RED_LIGHT, Family.ROAD, "Red light", "runs red lights",
              7.0, "as Motive's stop sign 7 (running a control)", "#b91c1c", ("road_camera", "speed")),
    EventSpec(EventType.SPEEDING, Family.ROAD, "Speeding", "drives over the speed limit",
              6.0, "Motive speeding 6", "#2563eb", ("speed",)),
    EventSpec(EventType.DROWSINESS, Family.CABIN, "Drowsiness", "drives while drowsy",
              5.0, "as Motive's distraction 5 (inattention)", "#4f46e5", ("cabin_camera",)),
    EventSpec(EventType.DISTRACTION, Family.CABIN, "Distraction", "takes the eyes off the road",
              5.0, "Motive distraction 5", "#9333ea", ("cabin_camera",)),
    EventSpec(EventType.LANE_DEPARTURE, Family.ROAD, "Lane departure", "drifts out of the lane",
              5.0, "as Motive's distraction 5 (an unintended drift is inattention)", "#059669",
              ("road_camera", "speed")),
    EventSpec(EventType.PHONE_USE, Family.CABIN, "Phone use", "handles a phone while driving",
              10.0, "Motive phone 10", "#e11d48", ("cabin_camera", "speed")),
    EventSpec(EventType.CAMERA_OBSTRUCTED, Family.CABIN, "Camera obstructed", "drives with the camera blocked",
              0.0, "a device problem, not a driving risk", "#6b7280", ("cabin_camera",), Priority.DEVICE),
)


def spec(event_type: str | EventType) -> EventSpec:
    """The spec of a type; ``KeyError`` naming the type and the known ones otherwise."""
    key = str(event_type)
    try:
        return SPECS[key]
    except KeyError:
        raise KeyError(f"unknown event type {key!r} (known: {', '.join(sorted(SPECS))})") from None


def event_title(event_type: str) -> str:
    """The type's title; an unknown type (an old store row) reads as its words."""
    s = SPECS.get(event_type)
    return s.title if s is not None else event_type.replace("_", " ").capitalize()


def default_weights() -> dict[str, float]:
    """Every type's default score weight."""
    return {k: s.weight for k, s in SPECS.items()}
