"""``saferoad scores --week W``: each driver's score, km, events and rate for an ISO week.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.commands.ingest import DbOption, database_url
from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    load_cli_config,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("scores")
    def scores(
        week: str = typer.Option(
            ..., "--week", help="ISO week, e.g. 2026-W47 (local to each trip)."
        ),
        fleet: str | None = typer.Option(
            None, "--fleet", help="Only this fleet (default: every fleet)."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print a JSON list of objects (driver, score, ...)."
        ),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Each driver's safety score for --week, ranked within the fleet, with km driven,
        trips, events and events per 1,000 km (scored with the current scoring settings)."""
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.application.scores import week_scores

            cfg = load_cli_config(config, set_)
            store = open_store(
                database_url(db, cfg.store.url), busy_timeout_s=cfg.store.sqlite_busy_timeout_s
            )
            try:
                with store.unit_of_work() as uow:
                    rows = week_scores(uow, week, cfg.scoring.rules(), fleet)
            finally:
                store.close()
        if as_json:
            typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
            return
        if not rows:
            console.print(f"no trips in week {week}" + (f" for fleet {fleet}" if fleet else ""))
            return
        table = Table(title=f"Safety scores, week {rows[0].week}", title_justify="left")
        table.add_column("fleet")
        table.add_column("rank", justify="right")
        table.add_column("driver")
        for col in ("score", "km", "trips", "events", "per 1,000 km"):
            table.add_column(col, justify="right")
        table.add_column("note")
        for r in rows:
            table.add_row(
                r.fleet,
                "" if r.rank is None else str(r.rank),
                r.driver,
                f"{r.score:.1f}" if r.score is not None else "–",
                f"{r.distance_km:.1f}",
                str(r.n_trips),
                str(r.n_events),
                "" if r.events_per_1000km is None else f"{r.events_per_1000km:.1f}",
                r.reason or "",
            )
        console.print(table)
