"""What the camera + motion rules consume and share.

Every rule is a small state machine::

    rule.update(sample) -> list[Event]   # zero or more events decided by this sample
    rule.finish() -> list[Event]         # end of the drive: decide what is still open

with state bounded by its own parameters (a run's start and extremes, a few tracks), never by
the length of the drive. The streaming pipeline calls ``update`` as samples arrive; the batch
pipeline aligns whole arrays first and then folds the very same rules over them
(:func:`fold`), so both give the same events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from saferoad.domain.types import Event, TrackedObject

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class LeadState:
    """The lead vehicle in one frame, with what follows from the ego speed."""

    track_id: int
    distance_m: float
    range_rate_mps: float
    """d(distance)/dt; negative when closing. NaN until enough history."""
    headway_s: float
    """distance / ego speed; inf when the ego is stopped, NaN when the speed is unknown."""
    ttc_s: float
    """distance / closing speed when closing, else inf; NaN when the range rate is unknown."""
    distance_sigma_m: float = NAN
    """One standard deviation of ``distance_m`` where perception estimated it from the
    image (``attributes["distance_sigma_m"]``; it grows with range); NaN when unknown
    (radar, replayed ground truth)."""


@dataclass(frozen=True, slots=True)
class RoadSample:
    """One camera frame on the common timeline.

    ``speed_mps`` is NaN where the ego speed is unknown (outside the speed stream or across a
    gap in it). ``gap_before`` is True when a gap in the video precedes this frame.
    """

    t_s: float
    frame: int
    speed_mps: float
    objects: tuple[TrackedObject, ...] = ()
    lead: LeadState | None = None
    gap_before: bool = False

    @property
    def speed_valid(self) -> bool:
        return math.isfinite(self.speed_mps)


@dataclass(frozen=True, slots=True)
class SpeedSample:
    """One tick of the speed timeline: ego speed and the limit in force (NaN: unknown / none)."""

    t_s: float
    speed_mps: float
    limit_mps: float = NAN
    zone: str | None = None


S_contra = TypeVar("S_contra", contravariant=True)


class Rule(Protocol[S_contra]):
    """An incremental event rule."""

    def update(self, sample: S_contra) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


S = TypeVar("S")


def fold(rules: Iterable[Rule[S]], samples: Iterable[S]) -> list[Event]:
    """Batch evaluation: run ``rules`` over every sample, then finish them."""
    rules = list(rules)
    out: list[Event] = []
    for sample in samples:
        for rule in rules:
            out.extend(rule.update(sample))
    for rule in rules:
        out.extend(rule.finish())
    return out


def fmt(x: float, nd: int = 3) -> float:
    """Round a figure for evidence (NaN and inf stay as they are; JSON writes them null)."""
    return round(x, nd) if math.isfinite(x) else x
