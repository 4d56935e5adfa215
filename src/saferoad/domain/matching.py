"""Matching detected events to ground-truth labels, and precision / recall / F1.

A predicted :class:`~saferoad.domain.types.Event` and a labelled
:class:`~saferoad.domain.types.EventLabel` may match when

* they have the same type,
* their directions agree where both carry one (``harsh_cornering``, ``aggressive_lane_change``),
* their time intervals overlap by at least ``min_overlap_s`` seconds after the label's interval
  is widened by ``tolerance_s`` on both sides (labels are hand-placed; a detector's start and end
  are decided by thresholds, so a little slack is fair).

Among the possible pairs the assignment is one-to-one and maximises first the number of
matches, then the total overlap (the Hungarian algorithm,
:func:`scipy.optimize.linear_sum_assignment`): one detection cannot satisfy two labels, and two
detections of one label count one hit and one false positive.

Labels of type ``normal`` are ordinary manoeuvres that must not be flagged: a detection that
overlaps one is a false positive like any other unmatched detection, and it is listed in
:attr:`MatchResult.flagged_normals` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from saferoad.domain.types import Event, EventLabel

DEFAULT_TOLERANCE_S = 1.0
"""Default slack added to each side of a label's interval when testing overlap."""


@dataclass(frozen=True, slots=True)
class PRF:
    """Counts and precision / recall / F1 for one event type (or overall).

    With nothing predicted precision is 1.0 (no wrong claim was made); with nothing labelled
    recall is 1.0 (nothing was missed); F1 is 0.0 when both precision and recall are 0.
    """

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def __add__(self, other: PRF) -> PRF:
        return PRF(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True, slots=True)
class Match:
    """A detection matched to a label, with its timing errors (detection minus label)."""

    pred: Event
    label: EventLabel
    overlap_s: float

    @property
    def start_error_s(self) -> float:
        return self.pred.start_s - self.label.start_s

    @property
    def end_error_s(self) -> float:
        return self.pred.end_s - self.label.end_s

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.label.type,
            "direction": self.label.direction.value if self.label.direction else None,
            "label_start_s": self.label.start_s,
            "label_end_s": self.label.end_s,
            "pred_start_s": round(self.pred.start_s, 3),
            "pred_end_s": round(self.pred.end_s, 3),
            "overlap_s": round(self.overlap_s, 3),
            "start_error_s": round(self.start_error_s, 3),
            "end_error_s": round(self.end_error_s, 3),
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The outcome of :func:`match_events`."""

    matches: tuple[Match, ...]
    false_positives: tuple[Event, ...]
    false_negatives: tuple[EventLabel, ...]
    flagged_normals: tuple[tuple[EventLabel, Event], ...] = field(default=())
    """Labelled normal manoeuvres that a detection overlapped (each detection is also a FP)."""
    types: tuple[str, ...] = field(default=())
    """Every event type that was predicted or labelled (normal excluded), sorted."""

    def per_type(self) -> dict[str, PRF]:
        out = {t: PRF(0, 0, 0) for t in self.types}
        for m in self.matches:
            out[m.label.type] = out[m.label.type] + PRF(1, 0, 0)
        for p in self.false_positives:
            out[p.type.value] = out[p.type.value] + PRF(0, 1, 0)
        for lab in self.false_negatives:
            out[lab.type] = out[lab.type] + PRF(0, 0, 1)
        return out

    @property
    def overall(self) -> PRF:
        return PRF(len(self.matches), len(self.false_positives), len(self.false_negatives))

    @property
    def n_normal_flagged(self) -> int:
        return len({id(lab) for lab, _ in self.flagged_normals})

    def to_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.to_dict(),
            "per_type": {t: prf.to_dict() for t, prf in self.per_type().items()},
            "normal_flagged": self.n_normal_flagged,
            "matches": [m.to_dict() for m in self.matches],
            "false_positives": [p.to_dict() for p in self.false_positives],
            "false_negatives": [lab.to_dict() for lab in self.false_negatives],
            "flagged_normals": [
                {"normal": lab.to_dict(), "pred": p.to_dict()} for lab, p in self.flagged_normals
            ],
        }


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _compatible(p: Event, lab: EventLabel) -> bool:
    if p.type.value != lab.type:
        return False
    return p.direction is None or lab.direction is None or p.direction == lab.direction


def match_events(
    pred: Sequence[Event],
    labels: Iterable[EventLabel],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    min_overlap_s: float = 0.0,
    types: Iterable[str] | None = None,
) -> MatchResult:
    """Match detections to labels one-to-one (see the module docstring).

    ``types`` restricts scoring to those event types (detections and labels of other types
    are ignored); by default every predicted or labelled type is scored.
    """
    if tolerance_s < 0 or min_overlap_s < 0:
        raise ValueError("tolerance_s and min_overlap_s must be >= 0")
    all_labels = list(labels)
    normals = [lab for lab in all_labels if lab.is_normal]
    events_l = [lab for lab in all_labels if not lab.is_normal]
    preds = list(pred)
    if types is not None:
        keep = set(types)
        events_l = [lab for lab in events_l if lab.type in keep]
        preds = [p for p in preds if p.type.value in keep]

    n, m = len(preds), len(events_l)
    score = np.zeros((n, m), dtype=np.float64)
    for i, p in enumerate(preds):
        for j, lab in enumerate(events_l):
            if not _compatible(p, lab):
                continue
            ov = _overlap(p.start_s, p.end_s, lab.start_s - tolerance_s, lab.end_s + tolerance_s)
            # A zero-length detection inside the window has overlap 0: count it as touching
            # (min_overlap_s >= 0, so a negative overlap, a gap, never passes).
            if ov >= min_overlap_s:
                score[i, j] = ov + 1e-6
    if n and m:
        # Count first, overlap second: each possible pair is worth 1 plus a share of its
        # overlap too small for any set of overlaps to outweigh one more match.
        possible = score > 0
        score = np.where(possible, 1.0 + score / (score.sum() + 1.0), 0.0)
    matches: list[Match] = []
    matched_p: set[int] = set()
    matched_l: set[int] = set()
    if n and m and score.max() > 0:
        # deferred on purpose: scipy.optimize costs ~0.6 s to import, and the config (hence
        # every CLI command) imports this module for DEFAULT_TOLERANCE_S
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(score, maximize=True)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if score[i, j] > 0:
                lab = events_l[j]
                ov = _overlap(preds[i].start_s, preds[i].end_s, lab.start_s, lab.end_s)
                matches.append(Match(preds[i], lab, max(0.0, ov)))
                matched_p.add(i)
                matched_l.add(j)
    fps = tuple(p for i, p in enumerate(preds) if i not in matched_p)
    fns = tuple(lab for j, lab in enumerate(events_l) if j not in matched_l)
    flagged = tuple(
        (lab, p)
        for lab in normals
        for p in fps
        if _overlap(p.start_s, p.end_s, lab.start_s, lab.end_s) >= 0
    )
    type_names = {p.type.value for p in preds} | {lab.type for lab in events_l}
    return MatchResult(
        matches=tuple(sorted(matches, key=lambda x: x.label.start_s)),
        false_positives=fps,
        false_negatives=fns,
        flagged_normals=flagged,
        types=tuple(sorted(type_names)),
    )
