"""The evaluation's HTML report: one self-contained file (plots embedded as PNG), rendered
with Jinja2; plots drawn by matplotlib's Agg backend."""

from __future__ import annotations

import base64
import io
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from saferoad.application.evaluation.compare import Comparison
from saferoad.application.evaluation.scoring import Scores


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_pr_bars(metrics: pd.DataFrame, types: list[str], other: pd.DataFrame | None = None) -> str:
    m = metrics.set_index("metric")
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(types) + 2), 3.6))
    x = np.arange(len(types))
    series = [("precision", m, "#4477aa", ""), ("recall", m, "#ee6677", "")]
    if other is not None:
        o = other.set_index("metric")
        series = [("precision", o, "#99bbdd", "baseline "), ("recall", o, "#f4b0b8", "baseline "), *series]
    width = 0.8 / len(series)
    for k, (what, src, color, prefix) in enumerate(series):
        vals = [src["value"].get(f"events.{t}.{what}", math.nan) for t in types]
        lo = [src["ci_low"].get(f"events.{t}.{what}", math.nan) for t in types]
        hi = [src["ci_high"].get(f"events.{t}.{what}", math.nan) for t in types]
        err = np.array([[v - a if math.isfinite(a) else 0 for v, a in zip(vals, lo, strict=True)],
                        [b - v if math.isfinite(b) else 0 for v, b in zip(vals, hi, strict=True)]])
        ax.bar(x + (k - (len(series) - 1) / 2) * width, vals, width, yerr=np.clip(err, 0, None),
               label=prefix + what, color=color, capsize=2)
    ax.set_xticks(x, [t.replace("_", "\n") for t in types], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("value")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("Precision and recall per event type (bars: bootstrap interval)")
    return _png(fig)


def plot_confusion(conf: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * conf.shape[1] + 3), max(3, 0.5 * conf.shape[0] + 2)))
    vals = conf.to_numpy()
    ax.imshow(vals, cmap="Blues")
    ax.set_xticks(range(conf.shape[1]), conf.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(conf.shape[0]), conf.index, fontsize=8)
    for i in range(conf.shape[0]):
        for j in range(conf.shape[1]):
            v = int(vals[i, j])
            if v:
                dark = v > 0.6 * vals.max()
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xlabel("predicted type")
    ax.set_ylabel("labelled type")
    ax.set_title("Confusion by type (time overlap)")
    return _png(fig)


def plot_timing(matches: pd.DataFrame) -> str:
    tp = matches[matches["outcome"] == "tp"]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bins = [float(b) for b in np.linspace(-3, 3, 31)]
    for col, color in (("start_error_s", "#4477aa"), ("end_error_s", "#ee6677")):
        ax.hist(np.clip(tp[col].to_numpy(float), -3, 3), bins=bins, alpha=0.6, label=col, color=color)
    ax.set_xlabel("detected minus labelled (s), clipped to ±3 s")
    ax.set_ylabel("matched events")
    ax.legend(fontsize=8)
    ax.set_title(f"Timing errors of {len(tp)} matched events")
    return _png(fig)


def worst_recordings(per_rec: pd.DataFrame, n: int) -> pd.DataFrame:
    if "f1" not in per_rec.columns:
        return per_rec.iloc[0:0]
    df = per_rec[per_rec["status"] != "failed"].copy()
    df = df[df["f1"].notna()]
    df["errors"] = df["fp"].fillna(0) + df["fn"].fillna(0)
    df = df[df["errors"] > 0]
    return df.sort_values(["f1", "errors", "recording_id"], ascending=[True, False, True]).head(n)


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _fmt_int(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return str(int(v))


def _interval(lo: Any, hi: Any) -> str:
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{lo:+.4f}, {hi:+.4f}]" if lo < 0 else f"[{lo:.4f}, {hi:.4f}]"


def render_report(
    path: Path,
    scores: Scores,
    *,
    title: str,
    dataset: str,
    manifest: str,
    runs: list[dict[str, Any]],
    code_version: str,
    confidence: float,
    bootstrap: int,
    seed: int,
    worst_n: int,
    comparison: Comparison | None = None,
    baseline: Scores | None = None,
    tolerance: float = 0.0,
) -> None:
    plots = []
    if scores.types:
        plots.append(
            {"title": "Precision and recall per type",
             "png": plot_pr_bars(scores.metrics, scores.types, baseline.metrics if baseline else None)}
        )
    if not scores.confusion.empty:
        plots.append({"title": "Confusion by type", "png": plot_confusion(scores.confusion)})
    if len(scores.matches) and (scores.matches["outcome"] == "tp").any():
        plots.append({"title": "Distribution of timing errors", "png": plot_timing(scores.matches)})
    worst = worst_recordings(scores.per_recording, worst_n)
    rows = []
    by_id = scores.by_id()
    for w in worst.to_dict("records"):
        rs = by_id[w["recording_id"]]
        link = os.path.relpath(rs.result_dir, path.parent) if rs.result_dir else None
        rows.append({**w, "link": link, "recording_link": rs.item.path.as_uri()})
    failures = [
        {"recording_id": r.item.id, "error": r.error} for r in scores.recordings if r.error is not None
    ]
    env = Environment(
        loader=PackageLoader("saferoad.application.evaluation", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    html = env.get_template("report.html.j2").render(
        title=title,
        dataset=dataset,
        manifest=manifest,
        n_recordings=len(scores.recordings),
        runs=runs,
        code_version=code_version,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        confidence=confidence,
        bootstrap=bootstrap,
        seed=seed,
        metrics=scores.metrics.to_dict("records"),
        plots=plots,
        worst=rows,
        failures=failures,
        gate=(
            None
            if comparison is None
            else {"passed": comparison.passed, "failed": comparison.failed,
                  "rows": comparison.table.to_dict("records")}
        ),
        changes=[] if comparison is None else comparison.changes.to_dict("records"),
        tolerance=tolerance,
        fmt=_fmt,
        fmt_int=_fmt_int,
        interval=_interval,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
