"""What saferoad knows about one event type (:class:`EventSpec`), its stage (:class:`Family`)
and its urgency (:class:`Priority`).

The registry of every type's spec is :mod:`saferoad.domain.event_specs`; these classes live
apart from it so that a road rule module can declare its own types' specs beside its rule
(``domain/road_events/registry.py``) without importing the registry that gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
