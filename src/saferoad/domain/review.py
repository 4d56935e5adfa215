"""Event review: the statuses a safety manager moves an event through (Samsara's safety inbox
has the same five) and the rules of moving it.

``needs_review`` is where every new event starts; ``dismissed`` (a false positive, a reason is
required) takes the event out of every score; the others keep it counted.
"""

from __future__ import annotations

from enum import StrEnum

from saferoad.domain.event_specs import SPECS


class ReviewStatus(StrEnum):
    NEEDS_REVIEW = "needs_review"
    NEEDS_COACHING = "needs_coaching"
    COACHED = "coached"
    REVIEWED = "reviewed"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def counts_in_score(self) -> bool:
        return self is not ReviewStatus.DISMISSED


MAX_REASON_CHARS = 500


class ReviewError(ValueError):
    """A status change that is not allowed; the message names the field."""


def parse_status(value: str) -> ReviewStatus:
    try:
        return ReviewStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in ReviewStatus)
        raise ReviewError(f"field 'status': {value!r} is not one of {allowed}") from None


def check_change(status: ReviewStatus, reason: str | None) -> str | None:
    """The reason to store with ``status``: required (non-blank, at most ``MAX_REASON_CHARS``)
    for ``dismissed``, dropped for the others."""
    if status is not ReviewStatus.DISMISSED:
        return None
    text = (reason or "").strip()
    if not text:
        raise ReviewError("field 'reason': dismissing an event needs a reason")
    if len(text) > MAX_REASON_CHARS:
        raise ReviewError(f"field 'reason': at most {MAX_REASON_CHARS} characters")
    return text


_PRIORITY_RANK = {"collision": 0, "safety": 1, "device": 2}
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def review_order(event_type: str, severity: str) -> tuple[int, int, float]:
    """Sort key of the review queue, most urgent first: the type's priority (collision-class,
    then risky acts, then device faults), then severity, then the type's score weight."""
    spec = SPECS.get(event_type)
    prio = _PRIORITY_RANK.get(spec.priority.value, 1) if spec is not None else 1
    weight = spec.weight if spec is not None else 0.0
    return prio, _SEVERITY_RANK.get(severity, 3), -weight
