"""``saferoad ingest OUT/``: load analyze outputs into the trip store and score them."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
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
        """Store trips, events and scores from `saferoad analyze` outputs.

        Idempotent (the same output twice changes nothing) and all-or-nothing (an error or
        an interrupted run leaves the database as it was).
        """
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            from saferoad.application.ingest import find_outputs, ingest_outputs

            cfg = load_cli_config(config, set_)
            outputs = find_outputs(path)
            store = open_store(
                database_url(db, cfg.store.url), busy_timeout_s=cfg.store.sqlite_busy_timeout_s
            )
            try:
                res = ingest_outputs(
                    store.unit_of_work, outputs, cfg, driver=driver, vehicle=vehicle
                )
            finally:
                store.close()
        console.print(
            f"ingested {res.n_outputs} output(s) into {store.url}: "
            f"{len(res.added)} added, {len(res.replaced)} replaced, "
            f"{len(res.unchanged)} unchanged"
        )
