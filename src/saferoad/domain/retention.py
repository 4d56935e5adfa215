"""Loop recording retention, as dashcams do it: continuous segments, the oldest overwritten
first within a disk budget, and segments that hold an event locked until the event is uploaded.

Pure policy: given the segments on disk (oldest first), the windows that must be kept (each
not-yet-uploaded event's clip window) and the budget, which segments to delete. A locked
segment is never deleted, even over budget: the overflow is reported instead (the fleet sees the
disk is too small for what is waiting to be uploaded), never resolved by losing evidence.

Segments still being written (the camera's unfinished video segment) cannot be deleted, and grow
until they land: the caller reserves room for them (``reserve_bytes``: what they will hold when
finished), so the oldest are deleted before the budget is reached, not after. Two figures come
out of a plan that cannot fit: ``over_budget_bytes``, the bytes on disk now (the segments kept
and what the unfinished ones hold, ``held_bytes``) above the budget - a real overflow - and
``reserve_short_bytes``, the part of the reservation the budget has no room left for: a forecast
(the unfinished segments may land smaller than reserved), not bytes on disk.
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
    """Bytes on disk above the budget that could not be freed (every finished segment left is
    locked): the segments kept plus what the unfinished ones hold now."""
    reserved_bytes: int = 0
    """Room kept for the segments being written (counted against the budget)."""
    reserve_short_bytes: int = 0
    """The part of ``reserved_bytes`` the budget has no room for beyond ``over_budget_bytes``:
    bytes the unfinished segments may still grow into over the budget, not bytes on disk."""


def overlaps(seg: Segment, window: tuple[float, float]) -> bool:
    return seg.start_s <= window[1] and window[0] <= seg.end_s


def plan_retention(
    segments: Sequence[Segment],
    keep_windows: Sequence[tuple[float, float]],
    budget_bytes: int,
    reserve_bytes: int = 0,
    held_bytes: int | None = None,
) -> RetentionPlan:
    """Delete the oldest unlocked segments until the rest and ``reserve_bytes`` (the segments
    being written, as they will be when finished) fit in ``budget_bytes``; the newest finished
    segment is deleted last of all, as any other unlocked one. ``held_bytes``: what the segments
    being written hold now (at most ``reserve_bytes``; unset: all of it, the cautious reading)."""
    if reserve_bytes < 0:
        raise ValueError(f"retention: reserve_bytes {reserve_bytes} must be >= 0")
    held = reserve_bytes if held_bytes is None else held_bytes
    if not 0 <= held <= reserve_bytes:
        raise ValueError(f"retention: held_bytes {held} must be in 0..reserve_bytes ({reserve_bytes})")
    ordered = sorted(segments, key=lambda s: (s.start_s, s.name))
    locked = {s.name for s in ordered if any(overlaps(s, w) for w in keep_windows)}
    total = sum(s.size for s in ordered) + reserve_bytes
    delete: list[str] = []
    for seg in ordered:
        if total <= budget_bytes:
            break
        if seg.name in locked:
            continue
        delete.append(seg.name)
        total -= seg.size
    kept = total - reserve_bytes
    over = max(0, kept + held - budget_bytes)
    return RetentionPlan(
        tuple(delete),
        tuple(s.name for s in ordered if s.name in locked),
        kept,
        over,
        reserve_bytes,
        max(0, total - budget_bytes) - over,
    )
