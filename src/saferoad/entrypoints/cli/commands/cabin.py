"""``saferoad cabin SOURCE -o OUT``: driver monitoring on a cabin video or signal track.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    load_cli_config,
    log_for_terminal,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("cabin")
    def cabin(
        source: str = typer.Argument(
            ...,
            help="Cabin video, GIF, image folder, a cabin.csv signal track, or a recording folder (its cabin.mp4, else cabin.csv; head pose then uses meta.toml \\[cabin_camera]).",
        ),
        output: Path = typer.Option(
            ..., "-o", "--output", help="Output folder (cabin.parquet, events.jsonl, cabin_summary.json, log.jsonl)."
        ),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Driver monitoring: per-frame eye, mouth and head-pose signals and drowsiness,
        distraction and camera-obstructed events (the vehicle is taken to be moving)."""
        from saferoad.adapters.outputs.files import write_events, write_json_atomic
        from saferoad.entrypoints.wiring import (
            cabin_ports,
            resolve_cabin_source,
            run_cabin_track,
            run_cabin_video,
        )

        with user_errors():
            cfg = load_cli_config(config, set_)
            src = resolve_cabin_source(source)  # a bad source is an error before OUT exists
            output.mkdir(parents=True, exist_ok=True)
            log_for_terminal(output / "log.jsonl")
            if src.track:
                result = run_cabin_track(Path(src.source), cfg.cabin)
            else:
                if src.intrinsics is not None:
                    console.print(f"cabin camera intrinsics from {src.meta}")
                result = run_cabin_video(src.source, cfg.cabin, intrinsics=src.intrinsics)
            result.write(output, cabin_ports())
            write_events(output / "events.jsonl", result.events)
            write_json_atomic(output / "cabin_summary.json", result.summary)
        console.print(
            f"{len(result.samples)} frames, face in {result.summary['face_share']:.0%}, "
            f"{len(result.events)} event(s) -> {output}"
        )
