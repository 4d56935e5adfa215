"""Compare a candidate config with the baseline on the same recordings, and gate a release.

Differences get intervals from a *paired* bootstrap: each replicate resamples recordings once
and scores both configs on that same resample. The gate fails when a gated metric of the
candidate is worse than the baseline's by more than ``evaluation.gate_tolerance``
(absolute); a metric that is undefined on either side (no labels of that type) is not gated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from saferoad.application.evaluation.scoring import (
    Scores,
    _ci,
    _sums,
    bootstrap_weights,
    metric_defs,
)
from saferoad.config.evaluation import EvaluationConfig

_KEY = ("type", "direction", "label_start_s", "label_end_s")


@dataclass
class Comparison:
    table: pd.DataFrame
    changes: pd.DataFrame
    failed: list[str]
    """Gated metrics on which the candidate is worse beyond the tolerance."""
    n_recordings: int

    @property
    def passed(self) -> bool:
        return not self.failed


def _aligned(base: Scores, cand: Scores) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    ids = [i for i in base.stats.index if i in cand.stats.index]
    cols = sorted(set(base.stats.columns) | set(cand.stats.columns))
    b = base.stats.reindex(index=ids, columns=cols)
    c = cand.stats.reindex(index=ids, columns=cols)
    return b, c, ids


def gated_metrics(cfg: EvaluationConfig, types: list[str]) -> list[str]:
    names = list(cfg.gate_metrics)
    if cfg.gate_per_type_f1:
        names += [f"events.{t}.f1" for t in types if f"events.{t}.f1" not in names]
    return names


def compare(base: Scores, cand: Scores, cfg: EvaluationConfig) -> Comparison:
    types = sorted(set(base.types) | set(cand.types))
    b, c, ids = _aligned(base, cand)
    w = bootstrap_weights(len(ids), cfg.bootstrap_samples, cfg.bootstrap_seed) if cfg.bootstrap_samples and ids else None
    defs = metric_defs(b if len(b.columns) >= len(c.columns) else c, types)
    pb, pc = _sums(b, None), _sums(c, None)
    bb = _sums(b, w) if w is not None else None
    bc = _sums(c, w) if w is not None else None
    labelled_types = {t for t in types if float(pb.get(f"ev.{t}.tp", np.zeros(1))[0] + pb.get(f"ev.{t}.fn", np.zeros(1))[0]) > 0}
    gate = set(gated_metrics(cfg, [t for t in types if t in labelled_types]))
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for d in defs:
        vb, vc = float(d.fn(pb)[0]), float(d.fn(pc)[0])
        diff = vc - vb
        lo = hi = math.nan
        if bb is not None and bc is not None:
            lo, hi = _ci(d.fn(bc) - d.fn(bb), cfg.confidence)
        worse = diff < 0 if d.higher_is_better else diff > 0
        gated = d.name in gate and d.kind != "timing"
        fail = bool(gated and math.isfinite(diff) and worse and abs(diff) > cfg.gate_tolerance)
        if fail:
            failed.append(d.name)
        rows.append(
            {
                "metric": d.name,
                "kind": d.kind,
                "baseline": vb,
                "candidate": vc,
                "difference": diff,
                "diff_ci_low": lo,
                "diff_ci_high": hi,
                "higher_is_better": d.higher_is_better,
                "gated": gated,
                "verdict": "FAIL" if fail else ("worse" if worse and math.isfinite(diff) and diff != 0 else "ok"),
            }
        )
    if math.isfinite(base.map50) or math.isfinite(cand.map50):
        diff = cand.map50 - base.map50
        gated = "detection.map50" in gate
        fail = bool(gated and math.isfinite(diff) and diff < -cfg.gate_tolerance)
        if fail:
            failed.append("detection.map50")
        rows.append(
            {
                "metric": "detection.map50", "kind": "detection", "baseline": base.map50,
                "candidate": cand.map50, "difference": diff, "diff_ci_low": math.nan,
                "diff_ci_high": math.nan, "higher_is_better": True, "gated": gated,
                "verdict": "FAIL" if fail else "ok",
            }
        )
    return Comparison(pd.DataFrame(rows), changed_recordings(base, cand), failed, len(ids))


def _ev_key(e: Any) -> tuple[Any, ...]:
    return (e.type.value, e.direction.value if e.direction else None, round(e.start_s, 3), round(e.end_s, 3))


def changed_recordings(base: Scores, cand: Scores) -> pd.DataFrame:
    """Recordings whose events differ between the configs, with what changed: new false
    positives (candidate FPs that overlap no baseline FP of their type), new misses (labels
    the baseline found and the candidate does not), and the reverse (fixed)."""
    rows = []
    bmap, cmap = base.by_id(), cand.by_id()
    for rid, br in bmap.items():
        cr = cmap.get(rid)
        if cr is None or br.error is not None or cr.error is not None:
            continue
        if [_ev_key(e) for e in br.events] == [_ev_key(e) for e in cr.events]:
            continue
        bm = pd.DataFrame(br.matches) if br.matches else pd.DataFrame(columns=["outcome", *_KEY, "pred_start_s", "pred_end_s"])
        cm = pd.DataFrame(cr.matches) if cr.matches else pd.DataFrame(columns=bm.columns)

        def hits(m: pd.DataFrame) -> set[tuple[Any, ...]]:
            return {tuple(r) for r in m.loc[m["outcome"] == "tp", list(_KEY)].itertuples(index=False)}

        def fps(m: pd.DataFrame) -> list[tuple[str, float, float]]:
            f = m.loc[m["outcome"] == "fp"]
            return list(zip(f["type"], f["pred_start_s"], f["pred_end_s"], strict=True))

        def new(a: list[tuple[str, float, float]], b: list[tuple[str, float, float]]) -> int:
            return sum(not any(t == u and min(e, f) >= max(s, g) for u, g, f in b) for t, s, e in a)

        hb, hc = hits(bm), hits(cm)
        fb, fc = fps(bm), fps(cm)
        rows.append(
            {
                "recording_id": rid,
                "baseline_events": len(br.events),
                "candidate_events": len(cr.events),
                "new_false_positives": new(fc, fb),
                "new_misses": len(hb - hc),
                "fixed_false_positives": new(fb, fc),
                "new_hits": len(hc - hb),
                "labelled": br.labels is not None,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "recording_id", "baseline_events", "candidate_events", "new_false_positives",
            "new_misses", "fixed_false_positives", "new_hits", "labelled",
        ],
    )
