"""``saferoad score-events PRED LABELS``: precision, recall and F1 per event type.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.common import console, user_errors


def register(app: typer.Typer) -> None:
    @app.command("score-events")
    def score_events_cmd(
        pred: Path = typer.Argument(..., help="events.jsonl or an analyze OUT folder."),
        labels: Path = typer.Argument(..., help="groundTruth.csv, labels.jsonl or a recording folder."),
        # no default here: it is the matcher's DEFAULT_TOLERANCE_S, and importing
        # saferoad.domain.matching (numpy) at start-up would slow every command's --help
        tolerance_s: float | None = typer.Option(
            None, "--tolerance", help="Slack (s) added to both sides of each label; default: the matcher's (1 s)."
        ),
        min_overlap_s: float = typer.Option(0.0, "--min-overlap", help="Minimum overlap (s) for a match."),
        types: list[str] | None = typer.Option(None, "--type", help="Score only this event type (repeatable)."),
        as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    ) -> None:
        """Match detected events to labels by type, direction and time overlap."""
        with user_errors():
            from saferoad.application.score_events import score_events
            from saferoad.domain.matching import DEFAULT_TOLERANCE_S
            from saferoad.entrypoints.wiring import analysis_ports

            if tolerance_s is None:
                tolerance_s = DEFAULT_TOLERANCE_S

            res = score_events(
                pred, labels, reader=analysis_ports().read_outputs, read_labels=analysis_ports().read_labels,
                tolerance_s=tolerance_s, min_overlap_s=min_overlap_s, types=types,
            )
        if as_json:
            typer.echo(json.dumps(res.to_dict(), indent=2))
            return
        table = Table(title=f"{pred.name} vs {labels.name}", title_justify="left")
        for col in ("type", "TP", "FP", "FN", "precision", "recall", "F1"):
            table.add_column(col, justify="right" if col != "type" else "left")
        rows = [*res.per_type().items(), ("overall", res.overall)]
        for name, prf in rows:
            style = "bold" if name == "overall" else None
            table.add_row(
                name, str(prf.tp), str(prf.fp), str(prf.fn),
                f"{prf.precision:.3f}", f"{prf.recall:.3f}", f"{prf.f1:.3f}", style=style,
            )
        console.print(table)
        console.print(f"labelled normal manoeuvres flagged: {res.n_normal_flagged}")
