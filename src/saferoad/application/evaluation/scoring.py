"""Score cached results against labels: per-recording statistics, dataset metrics with
bootstrap confidence intervals over recordings.

Every metric is a function of *additive* per-recording statistics (TP/FP/FN per event type,
sums of timing errors, CLEAR-MOT counts, distance-error sums ...). The point value uses the
sums over all recordings; a bootstrap replicate uses the sums over a resample of recordings
drawn with replacement (weights ``W``, ``B x n``), so thousands of replicates cost one matrix
product. A comparison uses the *same* resamples for both configs (a paired bootstrap), which
is what makes the interval of a difference meaningful.

mAP is not additive; it is reported as a point value without an interval.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.boxes import (
    DIST_STATS,
    MOT_STATS,
    map50,
    mot_stats,
    read_box_labels,
    read_tracks,
)
from saferoad.application.evaluation.cache import ResultCache, content_hash
from saferoad.application.evaluation.manifest import DatasetItem
from saferoad.application.evaluation.runner import ItemOutcome
from saferoad.application.evaluation.task import READER_LABELS
from saferoad.config.evaluation import EvaluationConfig
from saferoad.domain.matching import PRF, match_events
from saferoad.domain.types import Event, EventLabel

NONE = "(none)"


@dataclass
class RecordingScore:
    item: DatasetItem
    outcome: ItemOutcome
    events: list[Event] = field(default_factory=list)
    labels: tuple[EventLabel, ...] | None = None
    stats: dict[str, float] = field(default_factory=dict)
    matches: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    gt_boxes: pd.DataFrame | None = None
    pred_boxes: pd.DataFrame | None = None
    result_dir: Path | None = None
    error: str | None = None


@dataclass
class Scores:
    """Everything an evaluation of one config measured."""

    recordings: list[RecordingScore]
    types: list[str]
    stats: pd.DataFrame
    """Additive statistics, one row per scored recording (index: recording id)."""
    metrics: pd.DataFrame
    matches: pd.DataFrame
    per_recording: pd.DataFrame
    confusion: pd.DataFrame
    map50: float

    def by_id(self) -> dict[str, RecordingScore]:
        return {r.item.id: r for r in self.recordings}


def _labels_for(item: DatasetItem, result_dir: Path, ports: AnalysisPorts) -> tuple[EventLabel, ...] | None:
    if item.labels is None:
        return None
    if item.labels == "auto":
        p = result_dir / READER_LABELS
        return tuple(ports.read_labels(p)) if p.is_file() else None
    return tuple(ports.read_labels(item.labels))


def _boxes_path(item: DatasetItem, meta: dict[str, Any]) -> Path | None:
    if item.boxes is None:
        return None
    if item.boxes == "auto":
        det = meta.get("detections")
        return Path(det) if det and Path(det).suffix == ".json" else None
    return Path(item.boxes)


def cached_mot_stats(
    result_dir: Path, boxes: Path, gt: pd.DataFrame, pred: pd.DataFrame, iou_threshold: float
) -> dict[str, float]:
    """:func:`~saferoad.application.evaluation.boxes.mot_stats` of a cached result, kept
    beside it (``box_stats-<key>.json``) so that scoring the same result again reads it. The
    key covers what the result's own key does not: the box labels' bytes and the IoU
    threshold (the tracks are part of the result; the code version is in the result's key).
    A cache that cannot be written (read-only) is only not kept."""
    key = hashlib.blake2b(f"{content_hash(boxes)}|{iou_threshold!r}".encode(), digest_size=8).hexdigest()
    memo = result_dir / f"box_stats-{key}.json"
    try:
        kept = json.loads(memo.read_text("utf-8"))
        if isinstance(kept, dict) and all(k in kept for k in MOT_STATS + DIST_STATS):
            return {k: float(kept[k]) for k in MOT_STATS + DIST_STATS}
    except (OSError, ValueError):
        pass
    stats = mot_stats(gt, pred, iou_threshold)
    tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(stats), "utf-8")
        os.replace(tmp, memo)  # atomic: a concurrent reader sees the old state or the whole file
    except OSError:
        tmp.unlink(missing_ok=True)
    return stats


def _event_rows(rid: str, split: str, kind: str, ev: Event | None, lab: EventLabel | None) -> dict[str, Any]:
    return {
        "recording_id": rid,
        "split": split,
        "outcome": kind,
        "type": (lab.type if lab is not None else ev.type.value if ev is not None else None),
        "direction": (
            (lab.direction.value if lab.direction else None)
            if lab is not None
            else (ev.direction.value if ev is not None and ev.direction else None)
        ),
        "label_start_s": lab.start_s if lab is not None else math.nan,
        "label_end_s": lab.end_s if lab is not None else math.nan,
        "pred_start_s": ev.start_s if ev is not None else math.nan,
        "pred_end_s": ev.end_s if ev is not None else math.nan,
        "start_error_s": (ev.start_s - lab.start_s) if ev is not None and lab is not None else math.nan,
        "end_error_s": (ev.end_s - lab.end_s) if ev is not None and lab is not None else math.nan,
        "confidence": ev.confidence if ev is not None else math.nan,
        "severity": ev.severity.value if ev is not None else None,
    }


def score_recording(
    item: DatasetItem, outcome: ItemOutcome, cache: ResultCache, cfg: EvaluationConfig, ports: AnalysisPorts
) -> RecordingScore:
    """Read one cached result (``ports.read_outputs``) and match it against its labels
    (``ports.read_labels``; the shared matcher)."""
    rs = RecordingScore(item, outcome)
    if outcome.status == "failed" or outcome.key is None:
        rs.error = outcome.error
        return rs
    d = cache.path(outcome.key)
    rs.result_dir = d
    meta = cache.load_meta(outcome.key)
    read = ports.read_outputs
    rs.events = read.read_events(d / "events.jsonl") if (d / "events.jsonl").is_file() else []
    summary = d / "summary.json"
    rs.summary = read.read_json(summary, error=ValueError, missing="missing") if summary.is_file() else {}
    rs.labels = _labels_for(item, d, ports)
    st: dict[str, float] = {"rec.n": 1.0, "time.wall_s": float(rs.summary.get("wall_s", math.nan))}
    for stage, secs in (rs.summary.get("stages_s") or {}).items():
        st[f"time.{stage}"] = float(secs)
    if rs.labels is not None:
        res = match_events(
            rs.events,
            rs.labels,
            tolerance_s=cfg.match_tolerance_s,
            min_overlap_s=cfg.match_min_overlap_s,
            types=cfg.event_types or None,
        )
        st["ev.labelled"] = 1.0
        for t, prf in res.per_type().items():
            st[f"ev.{t}.tp"], st[f"ev.{t}.fp"], st[f"ev.{t}.fn"] = prf.tp, prf.fp, prf.fn
            st[f"ev.{t}.labels"] = prf.tp + prf.fn
        st["ev.labels"] = float(sum(not lab.is_normal for lab in rs.labels))
        st["ev.start_abs_sum"] = sum(abs(m.start_error_s) for m in res.matches)
        st["ev.end_abs_sum"] = sum(abs(m.end_error_s) for m in res.matches)
        st["ev.matched"] = float(len(res.matches))
        st["ev.normals"] = float(sum(lab.is_normal for lab in rs.labels))
        st["ev.normals_flagged"] = float(res.n_normal_flagged)
        rid, split = item.id, item.split
        rs.matches = (
            [_event_rows(rid, split, "tp", m.pred, m.label) for m in res.matches]
            + [_event_rows(rid, split, "fp", p, None) for p in res.false_positives]
            + [_event_rows(rid, split, "fn", None, lab) for lab in res.false_negatives]
        )
    # Box metrics need labelled boxes and a perception run to score: a recording without video
    # (sensor-only) is not scored on boxes even when its folder holds detections.json.
    has_tracks = (d / "tracks.parquet").is_file()
    boxes = _boxes_path(item, meta) if has_tracks or meta.get("video") else None
    if boxes is not None:
        gt = read_box_labels(boxes, ports.read_boxes)
        rs.gt_boxes = gt
        tp = d / "tracks.parquet"
        pred = read_tracks(tp, read) if tp.is_file() else gt.iloc[0:0].copy()
        rs.pred_boxes = pred
        st.update(cached_mot_stats(d, boxes, gt, pred, cfg.iou_threshold))
    rs.stats = st
    return rs


# ----------------------------------------------------------------------------- metrics

@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    kind: str  # events | tracking | distance | timing
    higher_is_better: bool
    fn: Callable[[dict[str, np.ndarray]], np.ndarray]
    support: str | None = None
    """Stat whose sum is the metric's support (how many labels / boxes it rests on)."""


def _div(a: np.ndarray, b: np.ndarray, empty: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), empty)


def _prf_fns(prefix: str, types: list[str]) -> tuple[Callable[..., np.ndarray], ...]:
    def counts(s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tp = sum((s[f"ev.{t}.tp"] for t in types), np.zeros(1))
        fp = sum((s[f"ev.{t}.fp"] for t in types), np.zeros(1))
        fn = sum((s[f"ev.{t}.fn"] for t in types), np.zeros(1))
        return tp, fp, fn

    # Same conventions as saferoad.domain.matching.PRF.
    def p(s: dict[str, np.ndarray]) -> np.ndarray:
        tp, fp, _ = counts(s)
        return _div(tp, tp + fp, 1.0)

    def r(s: dict[str, np.ndarray]) -> np.ndarray:
        tp, _, fn = counts(s)
        return _div(tp, tp + fn, 1.0)

    def f(s: dict[str, np.ndarray]) -> np.ndarray:
        pp, rr = p(s), r(s)
        return _div(2 * pp * rr, pp + rr, 0.0)

    return p, r, f


def metric_defs(stats: pd.DataFrame, types: list[str]) -> list[MetricDef]:
    cols = set(stats.columns)
    defs: list[MetricDef] = []
    if "ev.labelled" in cols:
        for name, group in [("events", types), *[(f"events.{t}", [t]) for t in types]]:
            p, r, f = _prf_fns(name, group)
            sup = "ev.labels" if name == "events" else f"ev.{group[0]}.labels"
            defs += [
                MetricDef(f"{name}.precision", "events", True, p, sup),
                MetricDef(f"{name}.recall", "events", True, r, sup),
                MetricDef(f"{name}.f1", "events", True, f, sup),
            ]
        defs += [
            MetricDef(
                "events.start_error_mae_s", "events", False,
                lambda s: _div(s["ev.start_abs_sum"], s["ev.matched"], math.nan), "ev.matched",
            ),
            MetricDef(
                "events.end_error_mae_s", "events", False,
                lambda s: _div(s["ev.end_abs_sum"], s["ev.matched"], math.nan), "ev.matched",
            ),
            MetricDef(
                "events.normals_flagged_rate", "events", False,
                lambda s: _div(s["ev.normals_flagged"], s["ev.normals"], math.nan), "ev.normals",
            ),
        ]
    if "mot.gt" in cols:
        defs += [
            MetricDef(
                "tracking.mota", "tracking", True,
                lambda s: 1.0 - _div(s["mot.fn"] + s["mot.fp"] + s["mot.idsw"], s["mot.gt"], math.nan), "mot.gt",
            ),
            MetricDef(
                "tracking.idf1", "tracking", True,
                lambda s: _div(2 * s["mot.idtp"], 2 * s["mot.idtp"] + s["mot.idfp"] + s["mot.idfn"], math.nan),
                "mot.gt",
            ),
        ]
    if "dist.n" in cols:
        defs += [
            MetricDef("distance.mae_m", "distance", False, lambda s: _div(s["dist.abs_sum"], s["dist.n"], math.nan), "dist.n"),
            MetricDef(
                "distance.mean_rel_error", "distance", False,
                lambda s: _div(s["dist.rel_sum"], s["dist.n"], math.nan), "dist.n",
            ),
        ]
    for c in sorted(c for c in cols if c.startswith("time.")):
        defs.append(
            MetricDef(
                f"{c}.mean_s", "timing", False,
                (lambda col: lambda s: _div(s[col], s[f"{col}#n"], math.nan))(c), f"{c}#n",
            )
        )
    return defs


def _sums(stats: pd.DataFrame, weights: np.ndarray | None) -> dict[str, np.ndarray]:
    vals = stats.to_numpy(dtype=float)
    present = ~np.isnan(vals)
    vals = np.nan_to_num(vals, nan=0.0)
    if weights is None:
        tot, cnt = vals.sum(axis=0)[None, :], present.sum(axis=0)[None, :].astype(float)
    else:
        tot, cnt = weights @ vals, weights @ present.astype(float)
    out = {c: tot[:, j] for j, c in enumerate(stats.columns)}
    out.update({f"{c}#n": cnt[:, j] for j, c in enumerate(stats.columns)})
    return out


def bootstrap_weights(n: int, samples: int, seed: int) -> np.ndarray:
    """``samples x n`` resampling counts (each row sums to ``n``)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    w = np.zeros((samples, n))
    np.add.at(w, (np.repeat(np.arange(samples), n), idx.ravel()), 1.0)
    return w


def _ci(x: np.ndarray, conf: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    a = (1 - conf) / 2
    lo, hi = np.quantile(x, [a, 1 - a])
    return float(lo), float(hi)


def compute_metrics(
    stats: pd.DataFrame, types: list[str], cfg: EvaluationConfig, weights: np.ndarray | None
) -> pd.DataFrame:
    defs = metric_defs(stats, types)
    point = _sums(stats, None)
    boot = _sums(stats, weights) if weights is not None else None
    rows = []
    for d in defs:
        v = float(d.fn(point)[0])
        lo = hi = math.nan
        if boot is not None:
            lo, hi = _ci(d.fn(boot), cfg.confidence)
        rows.append(
            {
                "metric": d.name,
                "kind": d.kind,
                "value": v,
                "ci_low": lo,
                "ci_high": hi,
                "higher_is_better": d.higher_is_better,
                "support": float(point[d.support][0]) if d.support else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _confusion(recs: list[RecordingScore], tol: float) -> pd.DataFrame:
    """Label type (rows, ``normal`` and ``(none)`` included) against predicted type by time
    overlap (labels widened by the match tolerance): a diagnostic of which types the engine
    mistakes for which; precision and recall come from the matcher, not from this."""
    pairs: list[tuple[str, str]] = []
    for r in recs:
        if r.labels is None:
            continue
        hit = [False] * len(r.events)
        for lab in r.labels:
            found = False
            for i, ev in enumerate(r.events):
                if min(ev.end_s, lab.end_s + tol) - max(ev.start_s, lab.start_s - tol) >= 0:
                    pairs.append((lab.type, ev.type.value))
                    hit[i] = found = True
            if not found:
                pairs.append((lab.type, NONE))
        pairs += [(NONE, ev.type.value) for i, ev in enumerate(r.events) if not hit[i]]
    if not pairs:
        return pd.DataFrame()
    df = pd.DataFrame(pairs, columns=["label", "predicted"])
    return pd.crosstab(df["label"], df["predicted"])


def score_all(
    items: list[DatasetItem],
    outcomes: list[ItemOutcome],
    cache: ResultCache,
    cfg: EvaluationConfig,
    weights: np.ndarray | None = None,
    types: list[str] | None = None,
    *,
    ports: AnalysisPorts,
) -> Scores:
    recs = [score_recording(i, o, cache, cfg, ports) for i, o in zip(items, outcomes, strict=True)]
    ok = [r for r in recs if r.error is None]
    if cfg.event_types:  # the confusion diagnostic sees only the scored types too
        keep = {*cfg.event_types, "normal"}
        for r in ok:
            r.events = [e for e in r.events if e.type.value in keep]
            if r.labels is not None:
                r.labels = tuple(lab for lab in r.labels if lab.type in keep)
    if types is None:
        found: set[str] = set()
        for r in ok:
            found |= {k.split(".")[1] for k in r.stats if k.startswith("ev.") and k.endswith(".tp")}
        types = sorted(found)
    stats = pd.DataFrame([r.stats for r in ok], index=[r.item.id for r in ok])
    # Count columns of every type (a type absent from a recording sums as zero).
    for t in types:
        for c in ("tp", "fp", "fn", "labels"):
            if f"ev.{t}.{c}" not in stats.columns:
                stats[f"ev.{t}.{c}"] = np.nan
    stats = stats.reindex(sorted(stats.columns), axis=1)
    metrics = compute_metrics(stats, types, cfg, weights)
    gt = {r.item.id: r.gt_boxes for r in ok if r.gt_boxes is not None}
    pred = {r.item.id: r.pred_boxes for r in ok if r.pred_boxes is not None}
    m50 = map50(gt, pred, cfg.iou_threshold) if gt else math.nan
    if gt:
        metrics = pd.concat(
            [
                metrics,
                pd.DataFrame(
                    [{
                        "metric": "detection.map50", "kind": "detection", "value": m50,
                        "ci_low": math.nan, "ci_high": math.nan, "higher_is_better": True,
                        "support": float(sum(len(g) for g in gt.values())),
                    }]
                ),
            ],
            ignore_index=True,
        )
    match_rows = [m for r in ok for m in r.matches]
    matches = pd.DataFrame(match_rows, columns=list(_event_rows("", "", "", None, None).keys()))
    per_rec = pd.DataFrame([_per_recording_row(r, types) for r in recs])
    # Counts keep one schema whether or not some recordings lack them (nullable integers).
    for c in ("n_events", "n_labels", "tp", "fp", "fn", "normals_flagged"):
        if c in per_rec.columns:
            per_rec[c] = per_rec[c].astype("Int64")
    return Scores(recs, types, stats, metrics, matches, per_rec, _confusion(ok, cfg.match_tolerance_s), m50)


def _per_recording_row(r: RecordingScore, types: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "recording_id": r.item.id,
        "path": str(r.item.path),
        "split": r.item.split,
        "tags": ",".join(r.item.tags),
        "status": r.outcome.status,
        "error": r.error,
        "key": r.outcome.key,
        "source_format": r.summary.get("source_format"),
        "duration_s": r.summary.get("duration_s"),
        "n_events": len(r.events) if r.error is None else None,
        "n_labels": len(r.labels) if r.labels is not None else None,
        "wall_s": r.summary.get("wall_s"),
    }
    s = r.stats
    if "ev.labelled" in s:
        prf = PRF(
            int(sum(s.get(f"ev.{t}.tp", 0) for t in types)),
            int(sum(s.get(f"ev.{t}.fp", 0) for t in types)),
            int(sum(s.get(f"ev.{t}.fn", 0) for t in types)),
        )
        row.update(tp=prf.tp, fp=prf.fp, fn=prf.fn, precision=prf.precision, recall=prf.recall, f1=prf.f1)
        row["normals_flagged"] = s.get("ev.normals_flagged")
    if "mot.gt" in s:
        gt = s["mot.gt"]
        row["mota"] = 1 - (s["mot.fn"] + s["mot.fp"] + s["mot.idsw"]) / gt if gt else math.nan
        den = 2 * s["mot.idtp"] + s["mot.idfp"] + s["mot.idfn"]
        row["idf1"] = 2 * s["mot.idtp"] / den if den else math.nan
        row["distance_mae_m"] = s["dist.abs_sum"] / s["dist.n"] if s.get("dist.n") else math.nan
    return row
