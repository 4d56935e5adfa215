"""The kinds and bands of graded manoeuvres (``manoeuvres`` grades them), apart from the rules.

A module of its own so scoring and the config layer can name kinds and bands without importing
the motion rules and SciPy, which cost over a second of every CLI start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from saferoad.domain.types import EventType


class Kind(StrEnum):
    BRAKING = "braking"
    ACCELERATION = "acceleration"
    CORNERING = "cornering"
    LANE_CHANGE = "lane_change"


class Band(StrEnum):
    MODERATE = "moderate"
    HARD = "hard"
    HARSH = "harsh"


KINDS: tuple[Kind, ...] = tuple(Kind)
BANDS: tuple[Band, ...] = tuple(Band)
"""Ascending."""

KIND_OF_EVENT: Mapping[EventType, Kind] = {
    EventType.HARSH_BRAKING: Kind.BRAKING,
    EventType.HARSH_ACCELERATION: Kind.ACCELERATION,
    EventType.HARSH_CORNERING: Kind.CORNERING,
    EventType.AGGRESSIVE_LANE_CHANGE: Kind.LANE_CHANGE,
}
