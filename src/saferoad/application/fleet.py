"""``saferoad analyze FLEET_DIR -o OUT``: every recording of a fleet folder, in parallel,
resumable.

* **Which recordings**: those ``FLEET_DIR/manifest.yaml`` lists (``saferoad simulate-fleet``
  writes one; docs/evaluation.md), else every folder below ``FLEET_DIR`` that is a recording
  (``meta.toml``, a driverBehaviorDataset trip or a comma2k19 segment), not looking inside a
  recording nor into hidden folders.
* **Where**: ``OUT/<the recording's path relative to FLEET_DIR>`` (or its manifest id), one
  output folder per recording, as ``saferoad analyze REC -o OUT`` writes it.
* **Resumable**: after a recording's outputs are written, ``OUT/<rec>/analyzed.json`` records
  what they were made from: the size and modification time of every input file, the config
  fingerprint and the saferoad version. A recording whose stamp still matches is skipped; one
  that was interrupted (no stamp: it is removed before a run starts) or changed is analysed again.
* **Parallel**: ``workers`` processes (``spawn``: no state shared with the parent); 1 runs in
  this process. A recording that fails does not stop the others: it is reported with its error.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saferoad._version import __version__
from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.manifest import resolve_manifest
from saferoad.config import SaferoadConfig
from saferoad.observability import configure_logging
from saferoad.ports.recordings import FormatDetector

STAMP = "analyzed.json"
"""Written last into each output folder: what the outputs were made from."""


@dataclass(frozen=True, slots=True)
class FleetItem:
    """One recording of a fleet folder and where its outputs go."""

    name: str
    source: Path
    out: Path


@dataclass
class FleetResult:
    analysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    events: int = 0

    @property
    def n(self) -> int:
        return len(self.analysed) + len(self.skipped) + len(self.failed)


def is_fleet_folder(path: Path, detect_format: FormatDetector) -> bool:
    """A folder that is not itself a recording: one with ``manifest.yaml``, or any other
    folder (its recordings are looked for below it)."""
    if not path.is_dir():
        return False
    if (path / "manifest.yaml").is_file():
        return True
    return detect_format(path) is None


def _recordings_below(root: Path, detect_format: FormatDetector) -> Iterator[Path]:
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        if d != root and detect_format(d) is not None:
            dirnames.clear()  # a recording's own subfolders are not recordings
            yield d
        else:
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))  # no hidden folders


def fleet_items(
    fleet_dir: Path, out: Path, detect_format: FormatDetector, layouts: str | None = None
) -> list[FleetItem]:
    """The recordings of ``fleet_dir`` (its manifest's, else every recording folder below it,
    as ``detect_format`` sees them) and their output folders under ``out``; ``ValueError`` when
    there are none: without a manifest the folder may have been meant as one recording, so the
    message says too that it is none of the known ``layouts`` (the registered formats' marks,
    as ``open_recording``'s "not a recording folder" error lists them)."""
    manifest = fleet_dir / "manifest.yaml"
    items: list[FleetItem] = []
    if manifest.is_file():
        for entry in resolve_manifest(manifest).items:
            items.append(FleetItem(entry.id, entry.path, out / entry.id))
    else:
        for rec in _recordings_below(fleet_dir, detect_format):
            rel = rec.relative_to(fleet_dir).as_posix()
            items.append(FleetItem(rel, rec, out / rel))
    if not items:  # no manifest (one lists at least one recording, or is a ManifestError)
        expected = f" (expected {layouts})" if layouts else ""
        raise ValueError(
            f"{fleet_dir}: not a recording folder of a known layout{expected}, and no recordings "
            "inside it (no manifest.yaml, and no folder below it is a recording): see "
            "docs/recording-format.md"
        )
    seen: dict[Path, str] = {}
    for it in items:
        if it.out.resolve() in seen:
            raise ValueError(
                f"{fleet_dir}: recordings {seen[it.out.resolve()]!r} and {it.name!r} would write "
                "the same output folder"
            )
        seen[it.out.resolve()] = it.name
    return items


def _inputs(source: Path) -> dict[str, list[int]]:
    """``{relative file: [size, mtime_ns]}`` of every file of a recording."""
    out: dict[str, list[int]] = {}
    for p in sorted(source.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(source).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def _stamp(item: FleetItem, fingerprint: str) -> dict[str, Any]:
    return {
        "source": str(item.source.resolve()),
        "inputs": _inputs(item.source),
        "config_fingerprint": fingerprint,
        "saferoad_version": __version__,
    }


def up_to_date(item: FleetItem, config: SaferoadConfig, fingerprint: str | None = None) -> bool:
    """The outputs of ``item`` are complete (stamp, summary and events written) and were made
    from the same inputs, config (``fingerprint``: ``config.fingerprint()``, computed once by
    callers that check many items) and version."""
    stamp = item.out / STAMP
    if not (stamp.is_file() and (item.out / "summary.json").is_file()):
        return False
    if not (item.out / "events.jsonl").is_file():
        return False
    try:
        old = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(old == _stamp(item, fingerprint or config.fingerprint()))


def analyze_item(item: FleetItem, config: SaferoadConfig, ports: AnalysisPorts) -> int:
    """Analyse one recording into its output folder; the stamp is written last. Returns the
    number of events."""
    # deferred on purpose: the stage stack (engines, pyarrow, scipy) loads where a recording
    # is analysed, not where `saferoad ingest` or `analyze` only list a fleet folder
    from saferoad.application.analyze import analyze_recording

    (item.out / STAMP).unlink(missing_ok=True)
    recording = ports.open_recording(item.source, max_file_mb=config.input.max_file_mb)
    result = analyze_recording(recording, config, item.out, ports=ports)
    ports.outputs.write_json(item.out / STAMP, _stamp(item, config.fingerprint()))
    return len(result.events)


def _attempt(item: FleetItem, config: SaferoadConfig, ports: AnalysisPorts) -> tuple[str, int | None, str | None]:
    """``(name, events, error)``; errors are returned, not raised, so that one bad recording
    does not stop the fleet."""
    try:
        return item.name, analyze_item(item, config, ports), None
    except (ValueError, OSError) as err:
        return item.name, None, str(err)


def _work(item: FleetItem, config: SaferoadConfig, ports: AnalysisPorts) -> tuple[str, int | None, str | None]:
    """Worker-process entry point: :func:`_attempt` with the worker's logging and warnings
    quietened (only in the spawned process: the in-process run keeps the caller's settings)."""
    configure_logging("ERROR")
    warnings.simplefilter("ignore")
    return _attempt(item, config, ports)


def analyze_fleet(
    items: Sequence[FleetItem],
    config: SaferoadConfig,
    *,
    ports: AnalysisPorts,
    workers: int = 1,
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
) -> FleetResult:
    """Analyse every item not already up to date (all of them with ``force``) with ``workers``
    processes; ``progress(name, status)`` is called once per item (``analysed``, ``skipped``,
    ``failed``); ``ports``: the adapters (``saferoad.entrypoints.wiring``), pickled to the
    worker processes."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    result = FleetResult()

    def done(name: str, events: int | None, error: str | None) -> None:
        if error is not None:
            result.failed[name] = error
            status = "failed"
        else:
            result.analysed.append(name)
            result.events += events or 0
            status = "analysed"
        if progress is not None:
            progress(name, status)

    todo: list[FleetItem] = []
    fingerprint = config.fingerprint()
    for it in items:
        if not force and up_to_date(it, config, fingerprint):
            result.skipped.append(it.name)
            if progress is not None:
                progress(it.name, "skipped")
        else:
            todo.append(it)
    if workers == 1 or len(todo) <= 1:
        for it in todo:
            done(*_attempt(it, config, ports))
        return result
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
        # at most 2 tasks a worker in flight: a killed run leaves few half-written folders
        pending: set[Future[tuple[str, int | None, str | None]]] = set()
        queue = iter(todo)
        for it in queue:
            pending.add(pool.submit(_work, it, config, ports))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    done(*f.result())
        for f in pending:
            done(*f.result())
    return result


# --- what `saferoad ingest OUT` finds ---------------------------------------------------

OUTPUT_MARKERS = ("summary.json", "events.jsonl", "timeline.parquet", "log.jsonl.partial", STAMP)
"""Files of an analyze output folder; a folder with some but not summary.json and events.jsonl
is an analysis that failed or was interrupted."""


@dataclass
class OutputScan:
    """The analyze output folders below a folder: complete ones, and incomplete ones (skipped,
    with the reason)."""

    complete: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def found(self) -> int:
        return len(self.complete) + len(self.skipped)


def scan_outputs(path: Path) -> OutputScan:
    """Every analyze output folder at or below ``path`` (hidden folders, such as runs never
    swapped in, are not looked at); ``ValueError`` when there is none at all."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    scan = OutputScan()
    folders = [path, *sorted(p for p in path.rglob("*") if p.is_dir())]
    for d in folders:
        if any(part.startswith(".") for part in d.relative_to(path).parts):
            continue
        present = [m for m in OUTPUT_MARKERS if (d / m).is_file()]
        if "summary.json" in present and "events.jsonl" in present:
            scan.complete.append(d)
        elif present:
            missing = [m for m in ("summary.json", "events.jsonl") if m not in present]
            scan.skipped[str(d)] = (
                f"incomplete, no {' or '.join(missing)} (the analysis failed or was interrupted: "
                "run saferoad analyze again)"
            )
    if not scan.found:
        raise ValueError(f"{path}: no analyze output here (no summary.json found)")
    return scan
