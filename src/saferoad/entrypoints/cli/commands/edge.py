"""``saferoad edge``: the live drive recorder (streaming rules, in-cab alerts, spool, uploader).

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    load_cli_config,
    user_errors,
)


def _publish_upload_status(ecfg: Any, spool_db: Any) -> None:
    """The spool's counts on the status sinks (MQTT: retained, what the fleet sees)."""
    from saferoad.entrypoints.wiring import alert_sinks

    device = spool_db.device_id()
    if device is None:
        return
    st = spool_db.status()
    sinks = alert_sinks(ecfg, device)
    try:
        for sink in sinks:
            sink.status({"state": "uploaded", "events": st["events"], "clips": st["clips"], "trips": st["trips"],
                         "problems": len(st["problems"])})  # fmt: skip
    finally:
        for sink in sinks:
            sink.close()


def _upload_during_drive(cfg: Any) -> Any:
    """The uploader on its own thread while the recorder drives (its own spool connection)."""
    from saferoad.application.uploader import BackgroundUploader
    from saferoad.entrypoints.wiring import ingest_client, open_spool

    ecfg = cfg.edge
    api = ingest_client(cfg)
    return BackgroundUploader(
        lambda: open_spool(ecfg), api, poll_s=ecfg.upload_poll_s, backoff_base_s=ecfg.backoff_base_s,
        backoff_max_s=ecfg.backoff_max_s, chunk_bytes=ecfg.clip_chunk_bytes,
    ).start()  # fmt: skip


def register(app: typer.Typer) -> None:
    @app.command("edge")
    def edge_cmd(
        replay: Path | None = typer.Option(None, "--replay", help="Replay this recording as if live (= --set edge.recording=REC)."),
        speed: float | None = typer.Option(None, "--speed", help="Replay N times real time on a simulated clock; 0 = as fast as possible (= --set edge.speed=N)."),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
        check: bool = typer.Option(False, "--check", help="Validate the configuration and open the sources, then stop."),
        output: Path | None = typer.Option(None, "-o", "--output", help="Also write OUT/events.jsonl and OUT/edge.json (the run's figures)."),
        spool: Path | None = typer.Option(None, "--spool", help="On-device spool (SQLite) (= --set edge.spool=PATH)."),
        no_spool: bool = typer.Option(False, "--no-spool", help="Do not write the spool (alerts only)."),
        upload: bool = typer.Option(False, "--upload", help="Upload what the spool holds to edge.ingest_url until it is empty or only failed entries remain; with a drive, its trip and events go up during the drive, the rest after it."),
        upload_for: float | None = typer.Option(None, "--upload-for", help="Stop uploading after this many seconds (what is left stays queued for the next run)."),
        status: bool = typer.Option(False, "--status", help="Print the spool's upload status (queued, sent, capped, failed and why) and the live recorder's last status (heartbeats, drops, CPU and memory), then stop."),
        duration: float | None = typer.Option(None, "--duration", help="Live recorder (no recording given): stop after this many seconds (default: at Ctrl-C or SIGTERM)."),
    ) -> None:
        """Run the drive recorder: a recording fed in as if live (--replay) through the streaming rules, alerts to the sinks, events into the spool."""
        with user_errors():
            from saferoad.adapters.outputs.files import write_events, write_json_atomic
            from saferoad.adapters.recording import open_recording
            from saferoad.application.edge import EdgeRecorder
            from saferoad.entrypoints.wiring import alert_sinks, open_spool

            cfg = load_cli_config(
                config,
                set_,
                {
                    "edge.recording": None if replay is None else str(replay),
                    "edge.speed": speed,
                    "edge.spool": None if spool is None else str(spool),
                },
            )
            ecfg = cfg.edge
            spool_db = None
            if status or upload or not no_spool:
                spool_db = open_spool(ecfg)
            if status:
                assert spool_db is not None
                from saferoad.application.edge_live import read_status, status_path_for

                st = spool_db.status()
                if (live_status := read_status(status_path_for(spool_db.path))) is not None:
                    st["live"] = live_status
                typer.echo(json.dumps(st, indent=2))
                return
            from saferoad.entrypoints.edge_live import NO_SOURCE, has_live_sources

            live = ecfg.recording is None and has_live_sources(ecfg)
            if ecfg.recording is None and not upload and not live:
                raise ValueError(NO_SOURCE)
            recording = open_recording(Path(ecfg.recording)) if ecfg.recording is not None else None
            if check:
                if ecfg.camera is not None:
                    from saferoad.entrypoints.edge_live import check_camera

                    console.print(check_camera(ecfg))
                if ecfg.cabin_camera is not None:
                    from saferoad.entrypoints.edge_live import check_cabin_camera

                    console.print(check_cabin_camera(cfg))
                from saferoad.entrypoints.edge_live import check_feeds

                for line in check_feeds(ecfg):
                    console.print(line)
                console.print(
                    f"edge: configuration valid; source {ecfg.recording} opens "
                    f"({recording.source_format if recording else 'none'}); "
                    f"alert latency <= {ecfg.motion_guard_s + ecfg.motion_hop_s:.1f} s of sensor time"
                )
                return
            during_result: Any = None
            if recording is not None:
                sinks = alert_sinks(ecfg, recording.meta.device_id)
                try:
                    clip_dir = None if spool_db is None else spool_db.path.parent / (spool_db.path.name + ".cutting")
                    loop = None
                    if ecfg.loop_dir is not None:
                        from saferoad.adapters.loop.segments import LoopStore

                        start = recording.meta.start_utc
                        loop = LoopStore(
                            Path(ecfg.loop_dir), ecfg.loop_segment_s, int(ecfg.loop_budget_mb * 2**20),
                            start.timestamp() if start else 0.0,
                        )
                    from saferoad.entrypoints.wiring import analysis_ports, cabin_ports

                    rec = EdgeRecorder(
                        cfg, ports=analysis_ports(), sinks=sinks, spool=spool_db, clip_dir=clip_dir, loop=loop,
                        cabin_ports=cabin_ports(),
                    )  # fmt: skip
                    during = _upload_during_drive(cfg) if upload else None
                    try:
                        report = rec.replay(recording)
                    finally:
                        if during is not None:
                            during_result = during.stop(timeout_s=ecfg.request_timeout_s + 5)
                finally:
                    for s in sinks:
                        s.close()
                if output is not None:
                    output.mkdir(parents=True, exist_ok=True)
                    write_events(output / "events.jsonl", report.events)
                    write_json_atomic(output / "edge.json", report.summary())
                console.print(json.dumps(report.summary()))
            elif live:
                from saferoad.entrypoints.edge_live import run_live

                during = _upload_during_drive(cfg) if upload else None
                try:
                    live_report = run_live(cfg, spool_db, duration, output)
                finally:
                    if during is not None:
                        during_result = during.stop(timeout_s=ecfg.request_timeout_s + 5)
                console.print(json.dumps(live_report.summary()))
            if upload:
                from saferoad.application.uploader import UploadResult, upload_from_config
                from saferoad.entrypoints.wiring import ingest_client

                assert spool_db is not None
                result = upload_from_config(cfg, spool_db, ingest_client(cfg), max_s=upload_for)
                if during_result is None:
                    out = result.to_dict()
                else:
                    # one total a user reads first ("sent": what reached the fleet), then the split
                    total = UploadResult()
                    total.add(during_result)
                    total.add(result)
                    out = total.to_dict()
                    out["during_drive"] = during_result.to_dict()
                    out["after_drive"] = result.to_dict()
                console.print(json.dumps(out))
                _publish_upload_status(ecfg, spool_db)
