"""``saferoad demo``: a simulated drive, analysed end to end, events printed as a table.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table

from saferoad.entrypoints.cli.common import (
    ConfigOption,
    console,
    load_cli_config,
    log_for_terminal,
    user_errors,
)


def key_figure(peak: dict[str, float]) -> str:
    """The one figure a reader wants first, with its unit: the first of the event's peak
    figures that the reports show (their labels and units, ``application.report.figure``)."""
    from saferoad.application.report import figure

    for key, value in peak.items():
        fig = figure(key, value)
        if fig is not None:
            return " ".join(fig)
    return ""


def _edge_demo(res: Any, cfg: Any, output: Path, speed: float) -> None:
    """The same drive through the edge recorder, as if live (docs/edge.md)."""
    from saferoad.adapters.recording import open_recording
    from saferoad.application.edge import CallbackSink, EdgeRecorder
    from saferoad.domain.alerts import Alert
    from saferoad.entrypoints.wiring import analysis_ports, cabin_ports, open_spool

    def show(a: Alert) -> None:
        kind = "early alert" if a.provisional else "alert"
        console.print(
            f"  [bold]{kind}[/] {a.event.type.value} {a.event.start_s:.1f}-{a.event.end_s:.1f} s "
            f"(raised at {a.completed_s:.1f} s of the drive)"
        )

    spool_path = output / "edge-spool.db"
    console.print(f"edge recorder: replaying the drive at {speed:g}x real time ...")
    spool = open_spool(cfg.edge, spool_path)
    try:
        rep = EdgeRecorder(
            cfg, ports=analysis_ports(), sinks=[CallbackSink(show)], spool=spool, clip_dir=output / "edge-spool.db.cutting",
            cabin_ports=cabin_ports(),
        ).replay(open_recording(res.recording_dir), speed=speed)
    finally:
        spool.close()
    got = Counter(e.type.value for e in rep.events)
    want = Counter(e.type.value for e in res.analysis.events)
    diff = (want - got) + (got - want)
    console.print(
        f"edge recorder: {len(rep.events)} event(s), {len(rep.alerts)} alert(s), spool {spool_path}: "
        + ("the same events as analyze" if not diff else f"differs from analyze by {dict(diff)}")
    )


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        output: Path = typer.Option(Path("demo-out"), "-o", "--output", help="Folder for the recording and the analysis."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the simulated drive."),
        video: bool = typer.Option(True, "--video/--no-video", help="Render and analyse the road-camera video."),
        config: Path | None = ConfigOption,
        pdf: bool = typer.Option(
            False, "--pdf", help="Also print the trip report to PDF (needs Chromium)."
        ),
        edge: float | None = typer.Option(
            None, "--edge", help="Then replay the drive through the edge recorder at N times real time (0: as fast as it runs): alerts as they happen, events into OUT/edge-spool.db, compared with analyze's.",
        ),
    ) -> None:
        """Simulate a 75-second drive (road video, IMU, GPS and a cabin signal track), analyse it
        end to end and print the events next to the simulator's ground truth. Needs no data and
        no arguments."""
        with user_errors():

            from saferoad.application.demo import run_demo
            from saferoad.entrypoints import wiring

            log_for_terminal(output / "log.jsonl")
            cfg = load_cli_config(config)
            console.print(f"simulating the demo drive into [bold]{output / 'recording'}[/] ...")
            res = run_demo(
                output, seed=seed, video=video, config=cfg, ports=wiring.analysis_ports(),
                writer=wiring.recording_writer(),
            )
            matched = {id(m.pred) for m in res.match.matches}
            table = Table(
                title="Events found", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0)
            )
            for col in ("event", "time s", "severity", "key figure", "in truth"):
                # every header whole; the key figure wraps if the terminal is narrow
                table.add_column(col, no_wrap=col != "key figure", min_width=len(col))
            for ev in res.analysis.events:
                table.add_row(
                    ev.type.value + (f" ({ev.direction.value})" if ev.direction else ""),
                    f"{ev.start_s:.1f}-{ev.end_s:.1f}",
                    ev.severity.value,
                    key_figure(ev.peak),
                    "[green]yes[/]" if id(ev) in matched else "[red]no[/]",
                )
            console.print(table)
            labelled = [lb for lb in res.labels if lb.type != "normal"]
            missed = res.match.false_negatives
            console.print(
                f"ground truth: {len(labelled)} event(s); found {len(res.match.matches)}"
                + (f"; not found: {', '.join(lb.type for lb in missed)}" if missed else "")
            )
            console.print(
                f"outputs: {res.analysis_dir} (events.jsonl, summary.json), recording: {res.recording_dir}, "
                f"log: {output / 'log.jsonl'}"
            )
            from saferoad.entrypoints.wiring import trip_report_from_output

            report = trip_report_from_output(
                res.analysis_dir, output / "trip-report.html", pdf=pdf, config=cfg
            )
            console.print(f"trip report: [bold]{report}[/]" + (" (+ .pdf)" if pdf else ""))
            if edge is not None:
                _edge_demo(res, cfg, output, edge)
