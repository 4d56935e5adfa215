"""``saferoad analyze FLEET_DIR -o OUT``: the fleet form of ``analyze`` (a progress bar over
:func:`saferoad.application.fleet.analyze_fleet`).

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from saferoad.entrypoints.cli.common import console, console_err

if TYPE_CHECKING:
    from saferoad.config import SaferoadConfig


def analyze_fleet_cli(
    fleet_dir: Path, output: Path, cfg: SaferoadConfig, *, workers: int, force: bool
) -> None:
    """Analyse every recording of ``fleet_dir`` into ``output``; exit status 1 when one failed."""
    from saferoad.adapters.recording.registry import expected_layouts
    from saferoad.application.fleet import analyze_fleet, fleet_items
    from saferoad.entrypoints import wiring
    from saferoad.observability import configure_logging

    items = fleet_items(fleet_dir, output, wiring.detect_format, expected_layouts())
    output.mkdir(parents=True, exist_ok=True)
    progress = Progress(
        TextColumn("[bold]analyze"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[skipped]} up to date · [red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console_err,
    )
    counts = {"skipped": 0, "failed": 0}
    # the progress bar and the failures listed after it are the output: the recordings' logs
    # and warnings stay quiet here as in the worker processes
    configure_logging("ERROR")
    with progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = progress.add_task("analyze", total=len(items), skipped=0, failed=0)

        def tick(_name: str, status: str) -> None:
            if status in counts:
                counts[status] += 1
            progress.update(task, advance=1, skipped=counts["skipped"], failed=counts["failed"])

        res = analyze_fleet(
            items, cfg, ports=wiring.analysis_ports(), workers=workers, force=force, progress=tick
        )
    console.print(
        f"{res.n} recording(s) in {fleet_dir}: {len(res.analysed)} analysed "
        f"({res.events} events), {len(res.skipped)} up to date, {len(res.failed)} failed; "
        f"outputs in {output}"
    )
    for name, err in sorted(res.failed.items()):
        console_err.print(f"[bold red]failed:[/] {escape(name)}: {escape(err)}")
    if res.failed:
        raise typer.Exit(1)
