"""``saferoad up``: every cloud service as local processes on 127.0.0.1 (the product on one machine).

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from saferoad.entrypoints import up as supervisor
from saferoad.entrypoints.cli.commands.ingest import DbOption, database_url
from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    UserError,
    load_cli_config,
    user_errors,
)

SERVICES = ("web", "analysis", "model-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        state: Path = typer.Option(
            Path(".saferoad-up"),
            "--state",
            help="Folder for the local database (SQLite), media, spool.",
        ),
        db: str | None = DbOption,
        only: list[str] | None = typer.Option(
            None, "--only", help="Run only these services (repeat): web, analysis, model-server."
        ),
        web_port: int = typer.Option(
            8080, "--web-port", help="Port of `saferoad web` (0: any free port)."
        ),
        analysis_port: int = typer.Option(
            50051, "--analysis-port", help="Port of `saferoad serve` (0: any free)."
        ),
        model_port: int = typer.Option(
            8001, "--model-port", help="Port of `saferoad serve-model` (0: any free)."
        ),
        model: list[str] | None = typer.Option(
            None,
            "--model",
            "-m",
            help="Model(s) `saferoad serve-model` serves (default: yolox-nano).",
        ),
        with_edge: Path | None = typer.Option(
            None,
            "--with-edge",
            help="Also replay this recording with `saferoad edge` and upload it into the web app.",
        ),
        exit_after_edge: bool = typer.Option(
            False,
            "--exit-after-edge",
            help="With --with-edge: stop everything once the upload is done.",
        ),
        for_s: float | None = typer.Option(
            None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."
        ),
        start_timeout_s: float = typer.Option(
            60.0, "--start-timeout", help="Seconds a service may take to be healthy."
        ),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Run the cloud services as local processes on 127.0.0.1 with one config: the web app +
        ingest API (`saferoad web`), the analysis service (`saferoad serve`) and the model server
        (`saferoad serve-model`). The database is SQLite under --state unless --db or
        $SAFEROAD_DB_URL says otherwise. Each output line starts with its service name in brackets;
        Ctrl-C (SIGINT) or SIGTERM stops them all. --with-edge REC registers REC's device,
        replays REC through `saferoad edge` and uploads its trip, events and clips into the
        web app (docs/deploy.md)."""
        with user_errors():
            chosen = list(only) if only else list(SERVICES)
            unknown = sorted(set(chosen) - set(SERVICES))
            if unknown:
                raise UserError(
                    f"--only: unknown service {', '.join(unknown)} (one of {', '.join(SERVICES)})"
                )
            if with_edge is not None and "web" not in chosen:
                raise UserError(
                    "--with-edge needs the web service (it uploads into the ingest API)"
                )
            cfg = load_cli_config(config, set_)  # a bad config fails here, once, not in each child
            state.mkdir(parents=True, exist_ok=True)
            url = database_url(db, f"sqlite:///{(state / 'saferoad.db').resolve()}")
            common: list[str] = []
            if config is not None:
                common += ["--config", str(config)]
            for s in set_ or []:
                common += ["--set", s]
            ports = {
                "web": web_port or _free_port(),
                "analysis": analysis_port or _free_port(),
                "model-server": model_port or _free_port(),
            }
            services: list[supervisor.Service] = []
            argv = supervisor.saferoad_argv
            media = f"web.media_dir={(state / 'media').resolve()}"
            env = {"SAFEROAD_DB_URL": url}
            models = list(model) if model else ["yolox-nano"]
            if "model-server" in chosen:
                # the other services' remote detector (perception.detector=grpc) uses this server
                common += [
                    "--set",
                    f"inference.url=grpc://127.0.0.1:{ports['model-server']}/{models[0]}",
                ]
            if "model-server" in chosen:
                p = ports["model-server"]
                services.append(
                    supervisor.Service(
                        "model-server",
                        argv(
                            "serve-model",
                            *[a for m in models for a in ("--model", m)],
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(p),
                            *common,
                        ),
                        supervisor.grpc_health(f"127.0.0.1:{p}"),
                        env,
                    )
                )
            if "analysis" in chosen:
                p = ports["analysis"]
                services.append(
                    supervisor.Service(
                        "analysis",
                        argv("serve", "--host", "127.0.0.1", "--port", str(p), *common),
                        supervisor.grpc_health(f"127.0.0.1:{p}"),
                        env,
                    )
                )
            if "web" in chosen:
                p = ports["web"]
                services.append(
                    supervisor.Service(
                        "web",
                        argv(
                            "web",
                            "--db",
                            url,
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(p),
                            *common,
                            "--set",
                            media,
                        ),
                        supervisor.http_health(f"http://127.0.0.1:{p}/api/v1/ingest/health"),
                        env,
                    )
                )
            jobs: list[supervisor.Service] = []
            if with_edge is not None:
                jobs.append(
                    _edge_job(
                        with_edge, url, ports["web"], state, common, cfg.store.sqlite_busy_timeout_s
                    )
                )
            status = supervisor.run(
                services,
                jobs,
                for_s=for_s,
                start_timeout_s=start_timeout_s,
                stay=not (exit_after_edge and with_edge is not None),
            )
        raise typer.Exit(status)


def _edge_job(
    rec: Path, url: str, web_port: int, state: Path, common: list[str], busy_s: float
) -> supervisor.Service:
    """Register REC's device in the store (a fresh token each run) and the edge replay + upload job."""
    from saferoad.adapters.recording import open_recording
    from saferoad.adapters.sql import open_store
    from saferoad.application.web import add_device

    meta = open_recording(rec).meta
    store = open_store(url, busy_timeout_s=busy_s)
    try:
        token = add_device(store, meta.fleet_id, meta.device_id)
    finally:
        store.close()
    spool = (state / "edge" / "spool.db").resolve()
    spool.parent.mkdir(parents=True, exist_ok=True)
    ingest = f"http://127.0.0.1:{web_port}/api/v1/ingest"
    return supervisor.Service(
        "edge",
        supervisor.saferoad_argv(
            "edge",
            "--replay",
            str(rec),
            "--speed",
            "0",
            "--spool",
            str(spool),
            "--upload",
            "--upload-for",
            "120",
            *common,
            "--set",
            f"edge.ingest_url={ingest}",
        ),
        None,
        {"SAFEROAD_DEVICE_TOKEN": token},
    )
