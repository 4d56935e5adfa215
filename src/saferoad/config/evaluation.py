"""Evaluation at scale: matching tolerance, release gate."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from saferoad.config.base import Section
from saferoad.domain.matching import DEFAULT_TOLERANCE_S
from saferoad.domain.types import EventType

_GATEABLE = re.compile(
    r"^(events(\.(?P<type>[a-z][a-z0-9_]*))?\.(precision|recall|f1)"
    r"|events\.(start_error_mae_s|end_error_mae_s|normals_flagged_rate)"
    r"|detection\.map50|tracking\.(mota|idf1)|distance\.(mae_m|mean_rel_error))$"
)


def gateable(metric: str) -> bool:
    """Whether the release gate can check this metric name (a typo must not silently gate
    nothing). A per-type metric names a type defined NOW (``EventType`` is open: a rule
    module defines its type when imported, after this module may have been)."""
    m = _GATEABLE.match(metric)
    return m is not None and (m.group("type") is None or m.group("type") in EventType)


class EvaluationConfig(Section):
    """Evaluation at scale: matching tolerance, release gate."""

    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where `saferoad evaluate` runs analyze: a local process pool or Ray (local instance or cluster).",
    )
    workers: int = Field(
        0,
        ge=0,
        description="Worker processes (local pool) or CPUs (local Ray instance); 0 = one per CPU core.",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster address (`ray://host:10001` or `auto`); unset = start a local instance with node address 127.0.0.1.",
    )
    match_tolerance_s: float = Field(
        DEFAULT_TOLERANCE_S,
        ge=0,
        description="Slack (s) added to both sides of a label before testing overlap; the shared matcher's default (saferoad.domain.matching, as `score-events`).",
    )
    match_min_overlap_s: float = Field(
        0.0, ge=0, description="Least overlap (s) a detection needs with a widened label to match it."
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="Score only these event types (e.g. the inertial ones for sensor-only trips); empty = every type predicted or labelled.",
    )

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in EventType]  # the types defined now (EventType is open)
        if bad:
            raise ValueError(f"unknown event types: {', '.join(bad)}")
        return v

    bootstrap_samples: int = Field(
        1000,
        ge=0,
        description="Bootstrap resamples over recordings for confidence intervals (Efron & Tibshirani 1993; 1,000 is their usual figure for percentile intervals). 0 = no intervals.",
    )
    bootstrap_seed: int = Field(
        20261125, description="Seed of the bootstrap, so a report's intervals are reproducible."
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="Coverage of the percentile bootstrap intervals."
    )
    iou_threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="IoU a box must reach to match a labelled box, for mAP and MOTA/IDF1 (PASCAL VOC / COCO mAP@0.5, CLEAR-MOT practice).",
    )
    gate_metrics: list[str] = Field(
        default_factory=lambda: ["events.f1", "events.precision", "events.recall"],
        description="Metrics the release gate checks (names as in metrics.parquet, e.g. `events.f1`, `events.harsh_braking.f1`, `detection.map50`, `tracking.mota`).",
    )
    gate_per_type_f1: bool = Field(
        True, description="Also gate the F1 of every event type that has labels in the manifest."
    )
    gate_tolerance: float = Field(
        0.02,
        ge=0,
        description="The gate fails when a gated metric of the candidate is below the baseline's by more than this (absolute, metrics in [0, 1]).",
    )
    @field_validator("gate_metrics")
    @classmethod
    def _gateable(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if not gateable(m)]
        if bad:
            raise ValueError(f"not metrics the gate can check: {', '.join(bad)}")
        return v

    worst_recordings: int = Field(
        10, ge=0, description="How many worst recordings the report and the console list."
    )
