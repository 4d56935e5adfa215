"""The unit of work of an evaluation: analyze one recording, return its outputs.

The same function runs in the local process pool and in Ray tasks. It returns the output
files as bytes rather than writing them to the cache itself, so Ray workers on other machines
need no shared cache folder: the driver stores what comes back.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.cache import code_version
from saferoad.config import config_from_dict
from saferoad.observability import configure_logging

KEPT_OUTPUTS = ("events.jsonl", "summary.json", "tracks.parquet", "cabin.parquet")
"""analyze outputs an evaluation keeps (clips and snapshots are left out: they are large and
metrics do not read them)."""
READER_LABELS = "reader_labels.jsonl"
"""The labels the recording's reader found, stored with the result (labels ``auto``)."""

_logging_ready = False


@dataclass(frozen=True, slots=True)
class TaskSpec:
    key: str
    recording_id: str
    path: str
    config: dict[str, Any]
    """The effective config as JSON data (``model_dump(mode="json")``), validated again in
    the worker: plain data travels to any worker, pickled pydantic classes do not."""
    code_version: str
    check_version: bool = False
    """Refuse to run when the worker's code differs from the driver's (set for clusters, whose
    workers run an image; local workers run the driver's own files)."""


@dataclass(slots=True)
class TaskOutput:
    key: str
    recording_id: str
    ok: bool
    error: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _quiet_logging() -> None:
    global _logging_ready
    if not _logging_ready:
        configure_logging(os.environ.get("SAFEROAD_EVAL_LOG_LEVEL", "ERROR"))
        _logging_ready = True


def run_task(spec: TaskSpec, ports: AnalysisPorts) -> TaskOutput:
    """Open and analyze ``spec.path`` with ``ports``. Never raises for a bad recording: the
    error comes back in the output so that one failing recording does not stop a run."""
    # deferred on purpose: the driver imports this module to plan tasks; the stage stack
    # (engines, pyarrow, scipy) loads in the worker that runs one
    from saferoad.application.analyze import analyze_recording

    _quiet_logging()
    started = time.perf_counter()
    mine = code_version()
    base_meta: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "code_version": mine}
    if spec.check_version and mine != spec.code_version:
        return TaskOutput(
            spec.key,
            spec.recording_id,
            ok=False,
            error=f"worker runs code {mine}, the driver {spec.code_version}: use the same image",
            meta=base_meta,
        )
    try:
        recording = ports.open_recording(Path(spec.path))
        with tempfile.TemporaryDirectory(prefix="saferoad-eval-") as tmp:
            out = Path(tmp)
            analyze_recording(recording, config_from_dict(spec.config, "<evaluation task>"), out, ports=ports)
            files = {n: (out / n).read_bytes() for n in KEPT_OUTPUTS if (out / n).is_file()}
        if recording.labels is not None:
            files[READER_LABELS] = "".join(
                json.dumps(lab.to_dict()) + "\n" for lab in recording.labels
            ).encode()
        meta = {
            **base_meta,
            "source_format": recording.source_format,
            "duration_s": round(recording.duration_s, 3),
            "reader_labels": recording.labels is not None,
            "detections": str(recording.detections) if recording.detections else None,
            "video": recording.video is not None,
            "compute_s": round(time.perf_counter() - started, 6),
        }
        return TaskOutput(spec.key, spec.recording_id, ok=True, files=files, meta=meta)
    except Exception as err:  # one bad recording must not stop the run
        tb = traceback.format_exc(limit=6)
        return TaskOutput(
            spec.key,
            spec.recording_id,
            ok=False,
            error=f"{type(err).__name__}: {err}",
            meta={**base_meta, "traceback": tb, "compute_s": round(time.perf_counter() - started, 6)},
        )


def run_tasks(specs: list[TaskSpec], ports: AnalysisPorts) -> list[TaskOutput]:
    """:func:`run_task` on several recordings in one task, in order (the runner batches short
    recordings so that a task's fixed cost, scheduling and moving its result, is shared)."""
    return [run_task(spec, ports) for spec in specs]


def run_batch(batch: tuple[list[TaskSpec], AnalysisPorts]) -> list[TaskOutput]:
    """:func:`run_tasks` on one ``(specs, ports)`` item of an executor's map (one argument:
    what ``map_unordered`` and Ray's remote functions take)."""
    specs, ports = batch
    return run_tasks(specs, ports)
