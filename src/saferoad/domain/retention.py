"""Loop recording retention, as dashcams do it: continuous segments, the oldest overwritten
first within a disk budget, and segments that hold an event locked until the event is uploaded.

Pure policy: given the segments on disk (oldest first), the windows that must be kept (each
not-yet-uploaded event's clip window) and the budget, which segments to delete. A locked
segment is never deleted, even over budget: the overflow is reported instead (the fleet sees the
disk is too small for what is waiting to be uploaded), never resolved by losing evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    start_s: float
    end_s: float
    size: int


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    delete: tuple[str, ...]
    locked: tuple[str, ...]
    """Segments kept because an event not yet uploaded lies in them."""
    kept_bytes: int
    over_budget_bytes: int
    """Bytes above the budget that could not be freed (all of them locked)."""


def overlaps(seg: Segment, window: tuple[float, float]) -> bool:
    return seg.start_s <= window[1] and window[0] <= seg.end_s


def plan_retention(
    segments: Sequence[Segment], keep_windows: Sequence[tuple[float, float]], budget_bytes: int
) -> RetentionPlan:
    """Delete the oldest unlocked segments until the rest fit in ``budget_bytes``; the newest
    segment (being recorded after it) is deleted last of all, as any other unlocked one."""
    ordered = sorted(segments, key=lambda s: (s.start_s, s.name))
    locked = {s.name for s in ordered if any(overlaps(s, w) for w in keep_windows)}
    total = sum(s.size for s in ordered)
    delete: list[str] = []
    for seg in ordered:
        if total <= budget_bytes:
            break
        if seg.name in locked:
            continue
        delete.append(seg.name)
        total -= seg.size
    return RetentionPlan(
        tuple(delete),
        tuple(s.name for s in ordered if s.name in locked),
        total,
        max(0, total - budget_bytes),
    )
