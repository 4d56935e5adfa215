"""``analyze``: one recording in, events and a summary out.

The same function serves the CLI, the analysis service, and the evaluation runners (local
process pool or Ray): the edge code, unchanged, at any scale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saferoad._version import __version__
from saferoad.application.context import AnalysisContext, AnalysisPorts
from saferoad.application.sinks import FanOut
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
AMENDING = frozenset({road})
"""Stages that amend events found before them: the road stage gives every event its clip and
snapshot paths and an IMU lane change the camera's direction. An event reaches the sinks after
the last of these has run (it is final then)."""


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
    ports: AnalysisPorts,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
) -> AnalysisResult:
    """Run every stage that applies to ``recording``; write outputs when ``out_dir`` is set.

    ``ports``: the adapters (``saferoad.entrypoints.wiring.analysis_ports``). The outputs are
    written into a fresh folder and swapped in as ``out_dir`` whole when the run succeeds
    (:meth:`~saferoad.ports.outputs.AnalysisOutputs.staged`): a reader sees the previous run
    or this one, and a run that fails or is killed leaves ``out_dir`` as it was.
    """
    if out_dir is None:
        return analyze_into(recording, config, None, ports=ports, detector=detector, sink=sink, trace=trace)
    with ports.outputs.staged(out_dir) as folder:
        return analyze_into(recording, config, folder, ports=ports, detector=detector, sink=sink, trace=trace)


def analyze_into(
    recording: Recording,
    config: SaferoadConfig,
    out_dir: Path | None,
    *,
    ports: AnalysisPorts,
    detector: Detector | None = None,
    sink: EventSink | None = None,
    trace: TraceRecorder | None = None,
) -> AnalysisResult:
    """:func:`analyze_recording` writing straight into ``out_dir`` (a folder from
    ``ports.outputs.staged`` that the caller swaps in)."""
    log = get_logger("analyze")
    events_file = ports.outputs.events_file(out_dir / "events.jsonl") if out_dir is not None else None
    sinks = FanOut([s for s in (events_file, sink) if s is not None])
    ctx = AnalysisContext(recording, config, out_dir, ports=ports, detector=detector, sink=sinks)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with recording_trace(trace) as rec, span("analyze", recording=str(recording.path)):
        for i, stage in enumerate(STAGES):
            stage.run(ctx)
            if not AMENDING.intersection(STAGES[i + 1 :]):
                ctx.publish()
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
        assert events_file is not None
        events_file.close()  # the caller's sink is the caller's to close
        ports.outputs.write_json(out_dir / "summary.json", summary)
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
