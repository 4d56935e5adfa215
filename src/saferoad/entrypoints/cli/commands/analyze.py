"""``saferoad analyze PATH -o OUT``: events, summary, timeline, log and trace of one drive.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    SetOption,
    console,
    console_err,
    load_cli_config,
    log_for_terminal,
    user_errors,
)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        path: Path = typer.Argument(..., help="A recording folder of a known layout (docs/recording-format.md), or a fleet folder: one with manifest.yaml, or with recordings below it."),
        output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
        trace: Path | None = typer.Option(None, "--trace", help="Write a Chrome trace-event file (open in Perfetto)."),
        detector: str | None = typer.Option(None, "--detector", help="Road detector: onnx, grpc or replay (= --set perception.detector=...)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the events table."),
        workers: int = typer.Option(
            min(4, os.cpu_count() or 1), "--workers", "-j", help="Fleet folder: recordings analysed in parallel (processes)."
        ),
        force: bool = typer.Option(False, "--force", help="Fleet folder: analyse again recordings whose outputs are up to date."),
        sink: list[str] | None = typer.Option(
            None, "--sink", metavar="NAME[:ARG]",
            help="Also hand each final event to this sink (repeatable), e.g. jsonl:- (JSON lines on stdout; the table then goes to stderr) or jsonl:PATH; an unknown name lists the registered sinks.",
        ),
    ) -> None:
        """Analyse one recording: write OUT/events.jsonl, summary.json, timeline.parquet, log.jsonl.

        A fleet folder (manifest.yaml, or recordings below it) writes one output folder per
        recording, OUT/<recording>, in parallel; a rerun skips recordings whose outputs are
        complete and up to date (same inputs, config and version)."""
        with user_errors():
            from saferoad.application.fleet import is_fleet_folder
            from saferoad.entrypoints import wiring

            if is_fleet_folder(path, wiring.detect_format):
                from saferoad.entrypoints.cli.fleet import analyze_fleet_cli

                if sink:
                    raise ValueError(
                        f"--sink takes one recording, and {path} is not a recording folder (a fleet "
                        "folder's recordings run in worker processes, which --sink does not reach)"
                    )

                fleet_cfg = load_cli_config(config, set_, {"perception.detector": detector})
                analyze_fleet_cli(path, output, fleet_cfg, workers=workers, force=force)
                return
            from saferoad.adapters.sinks import STDOUT_ARG, split_spec
            from saferoad.observability import (
                TraceRecorder,
                get_logger,
                recording_trace,
                span,
            )

            cfg = load_cli_config(config, set_, {"perception.detector": detector})
            # built before the run, so a bad --sink fails at once; closed at the end, even on error
            sinks = wiring.event_sinks(sink or [])
            to_stdout = any(split_spec(spec)[1] == STDOUT_ARG for spec in sink or [])
            # The run is written into a fresh folder swapped in whole as OUT when it succeeds
            # (saferoad.adapters.outputs): a run that fails or is killed keeps OUT as it was.
            # A run that fails leaves its log as OUT/log.jsonl.partial for whoever looks.
            rec_trace = TraceRecorder()
            try:
                with wiring.outputs().staged(output) as folder:
                    log_for_terminal(folder / "log.jsonl")
                    try:
                        with recording_trace(rec_trace):
                            with span("read", path=str(path)):
                                recording = wiring.open_recording(path, max_file_mb=cfg.input.max_file_mb)
                            result = wiring.analyze_into(recording, cfg, folder, sink=sinks, trace=rec_trace)
                        get_logger("cli").info("analyze_written", out=str(output), events=len(result.events))
                    except BaseException:
                        output.mkdir(parents=True, exist_ok=True)
                        (folder / "log.jsonl").replace(output / "log.jsonl.partial")
                        raise
            finally:
                if sinks is not None:
                    sinks.close()
            if trace is not None:
                rec_trace.write(trace)
        if not quiet:
            out_console = console_err if to_stdout else console  # stdout is the sink's
            table = Table(title=f"{len(result.events)} event(s) in {path}", title_justify="left")
            for col in ("type", "direction", "start_s", "end_s", "severity", "confidence", "peak"):
                table.add_column(col)
            for ev in result.events:
                pk = ev.peak.get("accel_g")
                table.add_row(
                    ev.type.value,
                    ev.direction.value if ev.direction else "",
                    f"{ev.start_s:.2f}",
                    f"{ev.end_s:.2f}",
                    ev.severity.value,
                    f"{ev.confidence:.2f}",
                    f"{pk:+.2f} g" if pk is not None else "",
                )
            out_console.print(table)
            out_console.print(f"outputs in {output}")
