"""``saferoad detect SOURCE... -o OUT``: road users, tracks and distances from video or images.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import typer
from rich.markup import escape

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    UserError,
    console,
    console_err,
    load_cli_config,
    log_for_terminal,
    user_errors,
)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[list[int]]:
    """SIGTERM and SIGINT raise ``KeyboardInterrupt("SIGTERM")`` / ``("SIGINT")`` in the main
    thread while the block runs (the signals caught are appended to the list it yields), so
    that a run stopped by either ends as one stopped by an error: the frames processed so far
    are put in ``tracks.parquet``, its temporary removed, ``detect.json`` written
    (application/detect.py). Python's default for SIGTERM is to die at once, leaving the
    temporary beside the output. The previous handlers are put back after the block; outside
    the main thread (where Python cannot set handlers) nothing changes."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect_cmd(
        sources: list[str] = typer.Argument(..., help="A video file or URL, an image folder, or one or more images."),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder (tracks.parquet, detect.json, annotated.mp4)."),
        model: str | None = typer.Option(None, "--model", help="Model card: yolox-nano, fastestdet, a card .toml, a folder with card.toml, or an Ultralytics .onnx export."),
        camera: Path | None = typer.Option(None, "--camera", help="Camera file: camera.toml, KITTI calib, or a 3x3 intrinsic matrix."),
        render: bool = typer.Option(False, "--render", help="Also write OUT/annotated.mp4."),
        stride: int | None = typer.Option(None, "--stride", min=1, help="Detect on every n-th frame."),
        detector: str | None = typer.Option(None, "--detector", help="onnx, grpc or replay."),
        replay: Path | None = typer.Option(None, "--replay", help="Labels file for --detector replay (detections.json or MOT text)."),
        tiles: int | None = typer.Option(None, "--tiles", min=0, help="Small-object windows (see docs/perception.md)."),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Detect and track road users; write OUT/tracks.parquet (frame, t_s, track_id, cls,
        score, x1..y2, distance_m, is_lead)."""
        with user_errors():
            import gc
            import sys

            # What the imports of a run create (~150k objects: modules, classes, functions)
            # lives as long as the process: a collection during them finds next to nothing,
            # and the interpreter's collections at exit walk it all again (0.14 s). Frozen,
            # neither happens (measured: docs/perception.md, "Whole saferoad detect"). The
            # collector is off from here until the last of them (the frame loop's, imported
            # while the model builds: application/detect.py) is in, after one collection
            # (10-20 ms) so that no garbage of the caller's is frozen with them (a second
            # command in the same process, tests).
            first = "saferoad.entrypoints.detect_wiring" not in sys.modules
            enabled = gc.isenabled()
            collector_off = first
            if first:
                gc.collect()
                gc.disable()

            def imported() -> None:
                nonlocal collector_off
                if collector_off:
                    gc.freeze()
                    collector_off = False
                    if enabled:
                        gc.enable()

            try:
                from saferoad.entrypoints.detect_wiring import detect_sources

                log_for_terminal(None, "WARNING")

                cfg = load_cli_config(
                    config,
                    set_,
                    {
                        "perception.model": model,
                        "perception.stride": stride,
                        "perception.detector": detector,
                        "perception.replay_path": str(replay) if replay else None,
                        "perception.tiles": tiles,
                    },
                )
                with _signals_interrupt() as caught:
                    try:
                        result = detect_sources(
                            sources, output, cfg, camera_file=camera, render=render, imported=imported
                        )
                    except KeyboardInterrupt:
                        signum = caught[-1] if caught else signal.SIGINT
                        console_err.print(
                            f"[bold red]interrupted[/] ({signal.Signals(signum).name}): the frames "
                            f"processed before it, if any, are in {escape(str(output / 'tracks.parquet'))}"
                        )
                        raise typer.Exit(128 + signum) from None
            finally:
                if collector_off and enabled:  # stopped before the frame loop's imports
                    gc.enable()
            s = result.summary
            console.print(
                f"{s['frames']} frame(s), {s['tracks']} track(s), lead in {s['lead_frames']} frame(s), "
                f"{s['fps']} fps -> {output}"
            )
            if result.error:
                raise UserError(
                    f"{result.error} — the {s['frames']} frame(s) before it are in {output}"
                )
