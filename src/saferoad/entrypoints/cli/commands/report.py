"""``saferoad report``: a safe-driving report (HTML or PDF) per driver-week, trip or fleet,
and ``saferoad trips``: what the store holds.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.commands.ingest import DbOption, database_url
from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    UserError,
    console,
    load_cli_config,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        output: Path = typer.Option(..., "-o", "--output", help="report.html or report.pdf"),
        driver: str | None = typer.Option(
            None, "--driver", help="Driver id: a driver-week report."
        ),
        week: str | None = typer.Option(
            None, "--week", help="ISO week, e.g. 2026-W47 (driver: required; fleet: latest)."
        ),
        trip: str | None = typer.Option(None, "--trip", help="Trip id (or trip-key prefix)."),
        fleet: str | None = typer.Option(
            None, "--fleet", help="Fleet id: a fleet report (with --driver: the driver's fleet)."
        ),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level (JSON on stderr)."),
    ) -> None:
        """Write a safe-driving report: --driver D --week W, --trip T, or --fleet F [--week W]."""
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.application import report as rep
            from saferoad.entrypoints.wiring import report_ports
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            cfg = load_cli_config(config, set_)
            if output.suffix.lower() not in (".html", ".htm", ".pdf"):
                raise UserError(f"{output}: the report name must end in .html or .pdf")
            store = open_store(
                database_url(db, cfg.store.url), busy_timeout_s=cfg.store.sqlite_busy_timeout_s
            )
            try:
                if driver is not None:
                    if week is None:
                        raise UserError("--driver needs --week (an ISO week such as 2026-W47)")
                    ctx = rep.driver_week_context(store, cfg, driver, week, fleet, ports=report_ports())
                elif trip is not None:
                    ctx = rep.trip_context(store, cfg, trip, ports=report_ports())
                elif fleet is not None:
                    ctx = rep.fleet_context(store, cfg, fleet, week, ports=report_ports())
                else:
                    raise UserError(
                        "say what to report on: --driver D --week W, --trip T or --fleet F"
                    )
            finally:
                store.close()
            path = rep.write(ctx, output, ports=report_ports())
        console.print(f"wrote {path}")

    @app.command("trips")
    def trips(
        fleet: str | None = typer.Option(None, "--fleet"),
        driver: str | None = typer.Option(None, "--driver"),
        week: str | None = typer.Option(None, "--week"),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
    ) -> None:
        """List stored trips (id, start, driver, vehicle, km, events) for --trip reports."""
        with user_errors():
            from saferoad.adapters.sql import open_store

            cfg = load_cli_config(config, None)
            store = open_store(database_url(db, cfg.store.url))
            try:
                with store.unit_of_work() as uow:
                    rows = uow.trips.briefs(fleet, week, driver)
            finally:
                store.close()
        table = Table("id", "start (UTC)", "week", "fleet", "driver", "vehicle", "km", "events")
        for b in rows:
            table.add_row(
                str(b.id),
                b.start_utc.strftime("%Y-%m-%d %H:%M"),
                b.local_week,
                b.ids.fleet,
                b.ids.driver,
                b.ids.vehicle,
                f"{b.distance_km:.1f}",
                str(b.n_events),
            )
        console.print(table)
