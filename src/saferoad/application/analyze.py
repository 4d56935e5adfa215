"""``analyze``: one recording in, events and a summary out.

The same function serves the CLI, the analysis service, and the evaluation runners (local
process pool or Ray): the edge code, unchanged, at any scale.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saferoad import __version__
from saferoad.adapters.outputs import FILE_MODE, run_folder
from saferoad.adapters.recording.jsonl import iter_jsonl
from saferoad.application.context import AnalysisContext
from saferoad.application.stages import cabin, motion, road
from saferoad.config import SaferoadConfig
from saferoad.domain.recording import Recording
from saferoad.domain.scoring import Exposure, manoeuvre_counts, trip_score
from saferoad.domain.types import Event
from saferoad.observability import TraceRecorder, get_logger, recording_trace, span
from saferoad.ports.detector import Detector
from saferoad.ports.events import EventSink

STAGES = (motion, road, cabin)
"""Stage order: motion first (it sets the ego speed the others need)."""


@dataclass
class AnalysisResult:
    recording: Recording
    events: list[Event]
    summary: dict[str, Any]
    trace: TraceRecorder


def analyze_recording(
    recording: Recording,
    config: SaferoadConfig,
    out_dir: Path | None = None,
    *,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
) -> AnalysisResult:
    """Run every stage that applies to ``recording``; write outputs when ``out_dir`` is set.

    The outputs are written into a fresh folder and swapped in as ``out_dir`` whole when the
    run succeeds (:func:`saferoad.adapters.outputs.run_folder`): a reader sees the previous run
    or this one, and a run that fails or is killed leaves ``out_dir`` as it was.
    """
    if out_dir is None:
        return analyze_into(recording, config, None, detector=detector, sink=sink, trace=trace)
    with output_folder(out_dir) as folder:
        return analyze_into(recording, config, folder, detector=detector, sink=sink, trace=trace)


def output_folder(out_dir: Path) -> AbstractContextManager[Path]:
    """A fresh run folder swapped in as ``out_dir`` on success (its ``run.json`` names this
    saferoad's version)."""
    return run_folder(out_dir, saferoad_version=__version__)


def analyze_into(
    recording: Recording,
    config: SaferoadConfig,
    out_dir: Path | None,
    *,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
) -> AnalysisResult:
    """:func:`analyze_recording` writing straight into ``out_dir`` (a folder from
    :func:`~saferoad.adapters.outputs.run_folder` that the caller swaps in)."""
    log = get_logger("analyze")
    ctx = AnalysisContext(recording, config, out_dir, detector=detector, sink=sink)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with recording_trace(trace) as rec, span("analyze", recording=str(recording.path)):
        for stage in STAGES:
            stage.run(ctx)
        ctx.events.sort(key=lambda e: (e.start_s, e.type.value))
    counts: dict[str, int] = {}
    for ev in ctx.events:
        counts[ev.type.value] = counts.get(ev.type.value, 0) + 1
    summary = {
        "saferoad_version": __version__,
        "recording": str(recording.path),
        "source_format": recording.source_format,
        "meta": {
            "fleet_id": recording.meta.fleet_id,
            "vehicle_id": recording.meta.vehicle_id,
            "vehicle_type": recording.meta.vehicle_type,
            "driver_id": recording.meta.driver_id,
            "device_id": recording.meta.device_id,
            "start_utc": recording.meta.start_utc.isoformat() if recording.meta.start_utc else None,
            "timezone": recording.meta.timezone,
        },
        "duration_s": round(recording.duration_s, 3),
        **ctx.summary,
        "event_counts": counts,
        "n_events": len(ctx.events),
        "score": trip_score_summary(ctx.summary, counts, recording.duration_s, config),
        "config_fingerprint": config.fingerprint(),
        "stages_s": rec.stage_seconds(),
        "wall_s": round(time.perf_counter() - started, 6),
    }
    if out_dir is not None:
        write_events(out_dir / "events.jsonl", ctx.events)
        write_json_atomic(out_dir / "summary.json", summary)
    log.info("analyze_done", recording=str(recording.path), events=len(ctx.events))
    return AnalysisResult(recording, ctx.events, summary, rec)


def trip_score_summary(
    stage_summary: dict[str, Any], counts: dict[str, int], duration_s: float, config: SaferoadConfig
) -> dict[str, Any]:
    """The trip's safety score (docs/scoring.md) from its distance, events and graded
    manoeuvres: ``{"value", "reason", "rates", "impacts"}``; ``value``
    is ``None`` for a trip shorter than ``scoring.min_trip_distance_km`` or without distance."""
    graded = stage_summary.get("manoeuvres")
    if graded is not None and hasattr(graded, "to_dict"):
        graded = graded.to_dict()
    distance = stage_summary.get("distance_km")
    exposure = Exposure(
        float(distance) if isinstance(distance, int | float) else 0.0,
        counts,
        duration_s,
        1,
        manoeuvre_counts(graded),
    )
    score = trip_score(exposure, config.scoring.rules())
    return {
        "value": None if score.value is None else round(score.value, 2),
        "reason": score.reason,
        "rates": {k: round(v, 3) for k, v in score.rates.items()},
        "impacts": {k: round(v, 3) for k, v in score.impacts.items()},
    }


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and rename, so a reader never sees half a file."""
    _write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_events(path: Path, events: list[Event]) -> None:
    _write_atomic(path, "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in events))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; outputs have one mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_events(path: Path) -> list[Event]:
    """Read an ``events.jsonl`` file; errors name the file and line."""
    events = []
    for _, where, obj in iter_jsonl(path):
        try:
            events.append(Event.from_dict(obj))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{where}: not a valid event: {err}") from None
    return events
