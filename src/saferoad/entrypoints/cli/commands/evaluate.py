"""``saferoad evaluate``: replay a dataset manifest, score it, compare configs, gate releases;
``saferoad dataset check``: find unreadable or unlabelled recordings before a long run.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from saferoad.entrypoints.cli.common import (
    SetOption,
    UserError,
    console,
    console_err,
    load_cli_config,
    user_errors,
)


class _Bar:
    """Rich progress: done / total, failed, cached, ETA."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        self.label = label
        self.task: Any = None
        self.failed = 0
        self.cached = 0

    def start(self, total: int, cached: int) -> None:
        self.cached = cached
        self.task = self.progress.add_task(self.label, total=total, completed=cached, failed=0, cached=cached)

    def advance(self, outcome: Any) -> None:
        if outcome.status == "failed":
            self.failed += 1
            console_err.print(f"[red]failed[/] {outcome.item.id}: {outcome.error}")
        self.progress.update(self.task, advance=1, failed=self.failed)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/] · {task.fields[cached]} cached"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console_err,
        transient=False,
    )


def _hooks(progress: Progress, label: str) -> Any:
    from saferoad.application.evaluation.runner import ProgressHooks

    bar = _Bar(progress, label)
    return ProgressHooks(start=bar.start, advance=bar.advance)


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _ci(lo: Any, hi: Any) -> str:
    if lo is None or not (isinstance(lo, float) and math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{lo:.4f}, {hi:.4f}]" if lo >= 0 else f"[{lo:+.4f}, {hi:+.4f}]"


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        manifest: Path = typer.Argument(..., help="Dataset manifest (YAML, docs/evaluation.md)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder (tables, report, cache)."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Config TOML of a single evaluation."),
        baseline: Path | None = typer.Option(None, "--baseline", help="Baseline config TOML (compare mode)."),
        candidate: Path | None = typer.Option(None, "--candidate", help="Candidate config TOML (compare mode)."),
        executor: str | None = typer.Option(None, "--executor", help="local (process pool) or ray; default evaluation.executor."),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address (ray://host:10001 or auto)."),
        workers: int | None = typer.Option(None, "--workers", "-j", help="Workers / local Ray CPUs (0 = every core)."),
        cache: Path | None = typer.Option(None, "--cache", help="Result cache folder (default OUT/cache)."),
        split: str | None = typer.Option(None, "--split", help="Only recordings of this split."),
        tag: list[str] | None = typer.Option(None, "--tag", help="Only recordings with this tag (repeatable: all required)."),
        set_: list[str] | None = SetOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level of the console and OUT/log.jsonl."),
    ) -> None:
        """Run analyze on every recording of MANIFEST and score it against its labels.

        With --baseline and --candidate, run both configs, print each metric for both with the
        difference and its interval, list the recordings whose events changed, and exit 1 when
        the candidate is worse than the baseline beyond evaluation.gate_tolerance.
        """
        from saferoad.application.evaluation.manifest import Dataset, resolve_manifest
        from saferoad.application.evaluation.service import compare_configs, evaluate_dataset
        from saferoad.entrypoints import wiring
        from saferoad.entrypoints.wiring import make_executor

        compare_mode = baseline is not None or candidate is not None
        with user_errors():
            if compare_mode and (baseline is None or candidate is None):
                raise UserError("compare mode needs both --baseline and --candidate")
            if compare_mode and config is not None:
                raise UserError("--config is for a single evaluation; use --baseline/--candidate")
            base_cfg = load_cli_config(baseline if compare_mode else config, set_)
            cand_cfg = load_cli_config(candidate, set_) if compare_mode else None
            dataset = resolve_manifest(manifest)
            items = tuple(
                i for i in dataset.items
                if (split is None or i.split == split) and all(t in i.tags for t in (tag or []))
            )
            if not items:
                raise UserError(f"{manifest}: no recordings match --split/--tag")
            dataset = Dataset(dataset.source, dataset.name, items)
            ecfg = base_cfg.evaluation
            kind = executor or ecfg.executor
            n_workers = ecfg.workers if workers is None else workers
            ex = make_executor(kind, n_workers, address or (ecfg.ray_address if kind == "ray" else None))
        from saferoad.observability import configure_logging

        out.mkdir(parents=True, exist_ok=True)
        configure_logging(log_level, json_file=out / "log.jsonl")
        t0 = time.perf_counter()
        with _progress() as progress, ex:
            if cand_cfg is None:
                res = evaluate_dataset(
                    dataset, base_cfg, out, ex, ports=wiring.analysis_ports(), cache_dir=cache,
                    hooks=_hooks(progress, "evaluate"),
                )
                runs = [res.run]
            else:
                cmp_res = compare_configs(
                    dataset, base_cfg, cand_cfg, out, ex, ports=wiring.analysis_ports(), cache_dir=cache,
                    hooks_for=lambda role: _hooks(progress, role),
                )
                runs = [cmp_res.baseline.run, cmp_res.candidate.run]
        for r in runs:
            console.print(
                f"[bold]{r.role}[/]: {r.n_recordings} recordings — {r.computed} computed, "
                f"{r.cached} cached, {r.failed} failed ({r.executor}, {r.workers} workers, {r.wall_s:.1f} s)"
            )
        if cand_cfg is None:
            _print_metrics(res.scores.metrics)
            console.print(f"report: {out / 'report.html'}  (total {time.perf_counter() - t0:.1f} s)")
            if res.run.failed:
                raise typer.Exit(1)
            return
        cmp = cmp_res.comparison
        _print_compare(cmp.table)
        if len(cmp.changes):
            t = Table(title=f"Recordings whose events changed ({len(cmp.changes)})")
            for c in ("recording", "baseline events", "candidate events", "new FPs", "new misses", "fixed FPs", "new hits"):
                t.add_column(c, justify="left" if c == "recording" else "right")
            for ch in cmp.changes.to_dict("records"):
                t.add_row(*(str(ch[k]) for k in (
                    "recording_id", "baseline_events", "candidate_events", "new_false_positives",
                    "new_misses", "fixed_false_positives", "new_hits")))
            console.print(t)
        else:
            console.print("No recording's events changed.")
        console.print(f"report: {out / 'report.html'}")
        if cmp.failed:
            console.print(
                f"[bold red]GATE FAIL[/]: candidate worse than baseline by more than "
                f"{base_cfg.evaluation.gate_tolerance} on {', '.join(cmp.failed)}"
            )
            raise typer.Exit(1)
        if cmp_res.baseline.run.failed or cmp_res.candidate.run.failed:
            console.print("[bold red]GATE FAIL[/]: some recordings failed")
            raise typer.Exit(1)
        console.print("[bold green]GATE PASS[/]")

    def _print_metrics(metrics: Any) -> None:
        t = Table(title="Metrics")
        for c in ("metric", "value", "interval", "support"):
            t.add_column(c, justify="left" if c == "metric" else "right")
        for r in metrics.to_dict("records"):
            t.add_row(r["metric"], _fmt(r["value"]), _ci(r["ci_low"], r["ci_high"]),
                      "–" if not math.isfinite(r["support"]) else str(int(r["support"])))
        console.print(t)

    def _print_compare(table: Any) -> None:
        t = Table(title="Candidate vs baseline")
        for c in ("metric", "baseline", "candidate", "difference", "interval", "gate"):
            t.add_column(c, justify="left" if c in ("metric", "gate") else "right")
        for r in table.to_dict("records"):
            verdict = str(r["verdict"])
            style = {"FAIL": "bold red", "worse": "yellow"}.get(verdict, "")
            t.add_row(r["metric"], _fmt(r["baseline"]), _fmt(r["candidate"]), _fmt(r["difference"], True),
                      _ci(r["diff_ci_low"], r["diff_ci_high"]),
                      (f"[{style}]{verdict}[/]" if style else verdict) + (" (gated)" if r["gated"] else ""))
        console.print(t)

    dataset_app = typer.Typer(help="Dataset manifests for evaluation.", no_args_is_help=True)

    @dataset_app.command("check")
    def check(manifest: Path = typer.Argument(..., help="Dataset manifest (YAML).")) -> None:
        """Open every recording of MANIFEST; report unreadable and unlabelled entries
        (exit 1 if any recording cannot be read)."""
        from saferoad.application.evaluation.check import check_dataset
        from saferoad.application.evaluation.manifest import resolve_manifest
        from saferoad.entrypoints.wiring import analysis_ports

        with user_errors():
            dataset = resolve_manifest(manifest)
        with _progress() as progress:
            task = progress.add_task("check", total=len(dataset), failed=0, cached=0)
            bad = 0

            def advance(c: Any) -> None:
                nonlocal bad
                bad += not c.readable
                progress.update(task, advance=1, failed=bad)

            checks = check_dataset(dataset, analysis_ports(), advance)
        t = Table(title=f"{dataset.name}: {len(checks)} recordings")
        for col in ("recording", "format", "split", "tags", "duration s", "labels", "boxes", "status"):
            t.add_column(col, justify="right" if col in ("duration s", "labels", "boxes") else "left")
        for c in checks:
            if not c.readable:
                status = f"[red]unreadable: {c.error}[/]"
            elif c.error:
                status = f"[red]{c.error}[/]"
            elif not c.labelled:
                status = "[yellow]unlabelled[/]"
            else:
                status = "[green]ok[/]"
            t.add_row(
                c.item.id, c.source_format or "–", c.item.split, ",".join(c.item.tags),
                f"{c.duration_s:.1f}" if c.duration_s is not None else "–",
                "–" if c.n_labels is None else str(c.n_labels),
                "–" if c.n_boxes is None else str(c.n_boxes), status,
            )
        console.print(t)
        unreadable = sum(not c.readable for c in checks)
        bad_labels = sum(c.readable and c.error is not None for c in checks)
        unlabelled = sum(c.readable and not c.labelled for c in checks)
        console.print(f"{len(checks)} recordings: {unreadable} unreadable, {bad_labels} with bad labels, {unlabelled} unlabelled")
        if unreadable or bad_labels:
            raise typer.Exit(1)

    app.add_typer(dataset_app, name="dataset")
