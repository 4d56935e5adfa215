"""``saferoad demo``: a simulated drive, analysed end to end, events printed as a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from saferoad.entrypoints.cli.common import ConfigOption, console, load_cli_config, user_errors


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        output: Path = typer.Option(Path("demo-out"), "-o", "--output", help="Folder for the recording and the analysis."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the simulated drive."),
        video: bool = typer.Option(True, "--video/--no-video", help="Render and analyse the road-camera video."),
        config: Path | None = ConfigOption,
    ) -> None:
        """Simulate a 75-second drive (with video), analyse it end to end and print the events
        next to the simulator's ground truth. Needs no data and no arguments."""
        with user_errors():
            from saferoad.application.demo import run_demo

            cfg = load_cli_config(config)
            console.print(f"simulating the demo drive into [bold]{output / 'recording'}[/] ...")
            res = run_demo(output, seed=seed, video=video, config=cfg)
            matched = {id(m.pred) for m in res.match.matches}
            table = Table(title="Events found", title_justify="left")
            for col in ("type", "direction", "start s", "end s", "severity", "key figure", "ground truth"):
                table.add_column(col, justify="right" if col.endswith(" s") else "left")
            for ev in res.analysis.events:
                key = ", ".join(f"{k} {v:.2f}" for k, v in list(ev.peak.items())[:2] if isinstance(v, float))
                table.add_row(
                    ev.type.value,
                    ev.direction.value if ev.direction else "",
                    f"{ev.start_s:.1f}",
                    f"{ev.end_s:.1f}",
                    ev.severity.value,
                    key,
                    "[green]labelled[/]" if id(ev) in matched else "[red]not labelled[/]",
                )
            console.print(table)
            labelled = [lb for lb in res.labels if lb.type != "normal"]
            missed = res.match.false_negatives
            console.print(
                f"ground truth: {len(labelled)} event(s); found {len(res.match.matches)}"
                + (f"; not found: {', '.join(lb.type for lb in missed)}" if missed else "")
            )
            console.print(f"outputs: {res.analysis_dir} (events.jsonl, summary.json), recording: {res.recording_dir}")
            # Trip report (issue 8): the store helper adds ingest + report of res.analysis_dir here.
