"""``saferoad web`` (the fleet web app and device ingest API), ``saferoad users add`` and
``saferoad devices add``.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.commands.ingest import DbOption, database_url
from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    load_cli_config,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("web")
    def web(
        db: str | None = DbOption,
        host: str | None = typer.Option(None, "--host", help="Address (default web.host)."),
        port: int | None = typer.Option(None, "--port", help="TCP port (default web.port)."),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
        log_level: str = typer.Option("WARNING", "--log-level", help="Log level (JSON on stderr)."),
    ) -> None:
        """Serve the fleet web app and the device ingest API (HTTP).

        Pages for managers and drivers (log in with a user made by `saferoad users add`), and
        /api/v1/ingest for devices (tokens from `saferoad devices add`); the OpenAPI schema is
        at /api/openapi.json. Listens on 127.0.0.1 unless --host says otherwise.
        """
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.entrypoints.web import create_app
            from saferoad.entrypoints.web.server import run_web
            from saferoad.observability import configure_logging

            configure_logging(log_level)
            cfg = load_cli_config(config, set_)
            store = open_store(
                database_url(db, cfg.store.url), busy_timeout_s=cfg.store.sqlite_busy_timeout_s
            )
            h, p = host or cfg.web.host, port or cfg.web.port
            console.print(f"saferoad web on http://{h}:{p} (store {store.url})")
            try:
                run_web(create_app(store, cfg), h, p, log_level.lower())  # SIGTERM: exit 0
            finally:
                store.close()

    users = typer.Typer(help="Users of the web app.", no_args_is_help=True)

    @users.command("add")
    def users_add(
        username: str = typer.Argument(..., help="Login name."),
        role: str = typer.Option(..., "--role", help="admin, manager or driver."),
        fleet: list[str] | None = typer.Option(
            None, "--fleet", help="A fleet the manager manages (repeat for several)."
        ),
        driver: str | None = typer.Option(
            None, "--driver", help="For a driver user: FLEET/DRIVER whose data they see."
        ),
        password: str = typer.Option(
            ...,
            "--password",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="SAFEROAD_NEW_PASSWORD",
            help="Password (prompted when not given).",
        ),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Create a web user: an admin (every fleet), a manager (--fleet, repeatable) or a
        driver (--driver FLEET/DRIVER, read-only view of their own events)."""
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.application.web import add_user

            cfg = load_cli_config(config, set_)
            store = open_store(database_url(db, cfg.store.url))
            try:
                add_user(store, username, password, role, fleets=tuple(fleet or ()), driver=driver)
            finally:
                store.close()
        console.print(f"user {username!r} ({role}) added to {store.url}")

    devices = typer.Typer(help="Devices that send trips to the ingest API.", no_args_is_help=True)

    @devices.command("add")
    def devices_add(
        device: str = typer.Argument(..., help="The device id (as in its meta.toml)."),
        fleet: str = typer.Option(..., "--fleet", help="The fleet the device sends to."),
        db: str | None = DbOption,
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Make a bearer token for a device; it is printed once (only its hash is stored)."""
        with user_errors():
            from saferoad.adapters.sql import open_store
            from saferoad.application.web import add_device

            cfg = load_cli_config(config, set_)
            store = open_store(database_url(db, cfg.store.url))
            try:
                token = add_device(store, fleet, device)
            finally:
                store.close()
        typer.echo(token)

    app.add_typer(users, name="users")
    app.add_typer(devices, name="devices")
