"""The ``evaluate`` use case: run a dataset for one config (or a baseline and a candidate),
score, and write the outputs.

Outputs under ``OUT`` (single config; a comparison writes ``baseline/`` and ``candidate/``
subfolders of these plus ``compare.parquet``, ``changes.parquet`` and ``report.html``):

- ``metrics.parquet`` / ``metrics.json``: dataset metrics with intervals;
- ``recordings.parquet``: per-recording status and metrics;
- ``matches.parquet``: every TP / FP / FN with its timing errors;
- ``runs.parquet``: one row per run, appended (``OUT/runs.parquet``);
- ``report.html``: self-contained report;
- ``cache/``: per-recording analyze results (shared by every run into ``OUT``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.cache import ResultCache, code_version
from saferoad.application.evaluation.compare import Comparison, compare
from saferoad.application.evaluation.manifest import Dataset
from saferoad.application.evaluation.report import render_report
from saferoad.application.evaluation.runner import ProgressHooks, RunRecord, run_dataset
from saferoad.application.evaluation.scoring import Scores, bootstrap_weights, score_all
from saferoad.config import SaferoadConfig
from saferoad.observability import span
from saferoad.ports.executor import TaskExecutor


@dataclass
class EvaluationOutcome:
    run: RunRecord
    scores: Scores


@dataclass
class ComparisonOutcome:
    baseline: EvaluationOutcome
    candidate: EvaluationOutcome
    comparison: Comparison


def _score(
    run: RunRecord, cache: ResultCache, cfg: SaferoadConfig, ports: AnalysisPorts, types: list[str] | None = None
) -> Scores:
    ecfg = cfg.evaluation
    items = [o.item for o in run.outcomes]
    with span("evaluate.score", recordings=len(items)):
        n_ok = sum(o.status != "failed" for o in run.outcomes)
        w = (
            bootstrap_weights(n_ok, ecfg.bootstrap_samples, ecfg.bootstrap_seed)
            if ecfg.bootstrap_samples and n_ok
            else None
        )
        return score_all(items, run.outcomes, cache, ecfg, w, types, ports=ports)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_tables(out: Path, scores: Scores) -> None:
    out.mkdir(parents=True, exist_ok=True)
    scores.metrics.to_parquet(out / "metrics.parquet", index=False)
    scores.per_recording.to_parquet(out / "recordings.parquet", index=False)
    scores.matches.to_parquet(out / "matches.parquet", index=False)
    (out / "metrics.json").write_text(
        json.dumps(
            {r["metric"]: {k: _clean(v) for k, v in r.items() if k != "metric"} for r in scores.metrics.to_dict("records")},
            indent=1,
        ),
        encoding="utf-8",
    )


def append_runs(out: Path, runs: list[RunRecord]) -> None:
    path = out / "runs.parquet"
    new = pd.DataFrame([r.row() for r in runs])
    if path.is_file():
        new = pd.concat([pd.read_parquet(path), new], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    new.to_parquet(path, index=False)


def evaluate_dataset(
    dataset: Dataset,
    config: SaferoadConfig,
    out: Path,
    executor: TaskExecutor,
    *,
    ports: AnalysisPorts,
    cache_dir: Path | None = None,
    hooks: ProgressHooks | None = None,
) -> EvaluationOutcome:
    """Run and score ``dataset`` with one config; ``executor`` must be entered; ``ports``:
    the adapters each analysis uses (``saferoad.entrypoints.wiring``)."""
    cache = ResultCache(cache_dir or out / "cache")
    run = run_dataset(dataset, config, cache, executor, ports=ports, hooks=hooks)
    scores = _score(run, cache, config, ports)
    write_tables(out, scores)
    append_runs(out, [run])
    ecfg = config.evaluation
    render_report(
        out / "report.html", scores, title=dataset.name, dataset=dataset.name,
        manifest=str(dataset.source), runs=[run.row()], code_version=run.code_version,
        confidence=ecfg.confidence, bootstrap=ecfg.bootstrap_samples, seed=ecfg.bootstrap_seed,
        worst_n=ecfg.worst_recordings,
    )
    return EvaluationOutcome(run, scores)


def compare_configs(
    dataset: Dataset,
    baseline: SaferoadConfig,
    candidate: SaferoadConfig,
    out: Path,
    executor: TaskExecutor,
    *,
    ports: AnalysisPorts,
    cache_dir: Path | None = None,
    hooks_for: Any = None,
) -> ComparisonOutcome:
    """Run ``dataset`` with both configs (results cached separately, one executor) and compare.
    The evaluation settings (bootstrap, gate) are the baseline's."""
    cache = ResultCache(cache_dir or out / "cache")
    rb = run_dataset(dataset, baseline, cache, executor, ports=ports, role="baseline", hooks=hooks_for("baseline") if hooks_for else None)
    rc = run_dataset(dataset, candidate, cache, executor, ports=ports, role="candidate", hooks=hooks_for("candidate") if hooks_for else None)
    sb = _score(rb, cache, baseline, ports)
    types = sorted(set(sb.types))
    sc = _score(rc, cache, baseline, ports, types=None)
    types = sorted(set(sb.types) | set(sc.types))
    if types != sb.types:
        sb = _score(rb, cache, baseline, ports, types)
    if types != sc.types:
        sc = _score(rc, cache, baseline, ports, types)
    cmp = compare(sb, sc, baseline.evaluation)
    write_tables(out / "baseline", sb)
    write_tables(out / "candidate", sc)
    cmp.table.to_parquet(out / "compare.parquet", index=False)
    cmp.changes.to_parquet(out / "changes.parquet", index=False)
    append_runs(out, [rb, rc])
    ecfg = baseline.evaluation
    render_report(
        out / "report.html", sc, title=f"{dataset.name}: candidate vs baseline", dataset=dataset.name,
        manifest=str(dataset.source), runs=[rb.row(), rc.row()], code_version=code_version(),
        confidence=ecfg.confidence, bootstrap=ecfg.bootstrap_samples, seed=ecfg.bootstrap_seed,
        worst_n=ecfg.worst_recordings, comparison=cmp, baseline=sb, tolerance=ecfg.gate_tolerance,
    )
    return ComparisonOutcome(EvaluationOutcome(rb, sb), EvaluationOutcome(rc, sc), cmp)
