"""``saferoad cabin SOURCE -o OUT``: driver monitoring on a cabin video or signal track."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    load_cli_config,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("cabin")
    def cabin(
        source: str = typer.Argument(
            ...,
            help="Cabin video, GIF, image folder, a cabin.csv signal track, or a recording folder (its cabin.mp4, else cabin.csv).",
        ),
        output: Path = typer.Option(
            ..., "-o", "--output", help="Output folder (cabin.parquet, events.jsonl)."
        ),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Driver monitoring: per-frame eye, mouth and head-pose signals and drowsiness,
        distraction and camera-obstructed events (the vehicle is taken to be moving)."""
        from saferoad.application.analyze import write_events, write_json_atomic
        from saferoad.application.cabin import run_cabin_track, run_cabin_video

        with user_errors():
            cfg = load_cli_config(config, set_)
            src = Path(source)
            if src.is_dir() and (src / "cabin.mp4").is_file():  # a recording folder
                src = src / "cabin.mp4"
                source = str(src)
            elif src.is_dir() and (src / "cabin.csv").is_file():
                src = src / "cabin.csv"
            if src.suffix.lower() == ".csv":
                result = run_cabin_track(src, cfg.cabin)
            else:
                if "://" not in source and not src.exists():
                    raise FileNotFoundError(f"{source}: not found")
                result = run_cabin_video(source, cfg.cabin)
            output.mkdir(parents=True, exist_ok=True)
            result.write(output)
            write_events(output / "events.jsonl", result.events)
            write_json_atomic(output / "cabin_summary.json", result.summary)
        console.print(
            f"{len(result.samples)} frames, face in {result.summary['face_share']:.0%}, "
            f"{len(result.events)} event(s) -> {output}"
        )
