"""``saferoad ingest OUT/``: load analyze outputs into the trip store and score them.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    console_err,
    load_cli_config,
    user_errors,
)

DbOption = typer.Option(
    None,
    "--db",
    help="Database URL (default: store.url from the config, or $SAFEROAD_DB_URL), e.g. "
    "sqlite:///saferoad.db or postgresql+psycopg://user@host/db.",
)


def database_url(db: str | None, config_url: str) -> str:
    """``--db``, else ``$SAFEROAD_DB_URL``, else the config's ``store.url``."""
    return db or os.environ.get("SAFEROAD_DB_URL") or config_url


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        path: Path = typer.Argument(..., help="An analyze output folder, or a folder of them."),
        driver: str | None = typer.Option(None, "--driver", help="Driver id (overrides meta)."),
        vehicle: str | None = typer.Option(None, "--vehicle", help="Vehicle id (overrides meta)."),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level (JSON on stderr)."),
    ) -> None:
        """Store trips, events and scores from `saferoad analyze` outputs: one output folder, or
        every one below PATH (e.g. `saferoad analyze FLEET_DIR -o OUT`'s OUT). Says how many it
        found, added, replaced, left unchanged and skipped (incomplete outputs).

        Idempotent (the same output twice changes nothing) and all-or-nothing (an error or
        an interrupted run leaves the database as it was).
        """
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            from saferoad.application.fleet import scan_outputs
            from saferoad.entrypoints.wiring import ingest_outputs

            cfg = load_cli_config(config, set_)
            scan = scan_outputs(path)
            outputs = scan.complete
            store = open_store(
                database_url(db, cfg.store.url), busy_timeout_s=cfg.store.sqlite_busy_timeout_s
            )
            try:
                res = (
                    ingest_outputs(store.unit_of_work, outputs, cfg, driver=driver, vehicle=vehicle)
                    if outputs
                    else None
                )
            finally:
                store.close()
        added = len(res.added) if res else 0
        replaced = len(res.replaced) if res else 0
        unchanged = len(res.unchanged) if res else 0
        console.print(
            f"found {scan.found} analyze output(s) in {path}: {added} added, {replaced} replaced, "
            f"{unchanged} unchanged, {len(scan.skipped)} skipped; database {store.url}"
        )
        for folder, why in scan.skipped.items():
            console_err.print(f"[yellow]skipped:[/] {escape(folder)}: {escape(why)}")
