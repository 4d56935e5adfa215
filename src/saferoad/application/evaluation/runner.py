"""Replay a dataset through ``analyze``: hash each recording, reuse cached results, compute
the rest on an executor, and store each result as soon as it arrives (so a killed run
resumes where it stopped)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.cache import (
    ResultCache,
    analysis_fingerprint,
    code_version,
    content_hash,
    result_key,
)
from saferoad.application.evaluation.manifest import Dataset, DatasetItem
from saferoad.application.evaluation.task import TaskOutput, TaskSpec, run_batch
from saferoad.config import SaferoadConfig
from saferoad.observability import get_logger, span
from saferoad.ports.executor import TaskExecutor

Status = Literal["cached", "computed", "failed"]


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    item: DatasetItem
    key: str | None
    status: Status
    error: str | None = None
    compute_s: float | None = None


@dataclass
class RunRecord:
    """What one run did (a row of ``runs.parquet``)."""

    run_id: str
    role: str
    dataset: str
    manifest: str
    config_fingerprint: str
    code_version: str
    executor: str
    workers: int
    started_utc: str
    finished_utc: str = ""
    wall_s: float = 0.0
    n_recordings: int = 0
    computed: int = 0
    cached: int = 0
    failed: int = 0
    executor_startup_s: float | None = None
    outcomes: list[ItemOutcome] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "outcomes"}


MAX_BATCH = 8
"""Most recordings in one task. Ray costs 1.5 ms a task and the local pool 0.2 ms (no-op tasks,
docs/evaluation.md) against 20-150 ms to analyse a sensor-only trip; 8 trips make that at most
1 % and under 0.1 % of a task."""
TASKS_PER_WORKER = 4
"""Batches are small enough to leave at least this many tasks a worker, so that one slow
batch (a long trip, a video) does not leave the other workers idle at the end of a run."""


def batch_size(n_tasks: int, workers: int) -> int:
    """Recordings per task for ``n_tasks`` recordings on ``workers`` workers."""
    return max(1, min(MAX_BATCH, n_tasks // (TASKS_PER_WORKER * max(1, workers))))


@dataclass
class ProgressHooks:
    """Callbacks the CLI uses for its progress bar."""

    start: Callable[[int, int], None] = lambda total, cached: None
    advance: Callable[[ItemOutcome], None] = lambda outcome: None


def run_dataset(
    dataset: Dataset,
    config: SaferoadConfig,
    cache: ResultCache,
    executor: TaskExecutor,
    *,
    ports: AnalysisPorts,
    role: str = "single",
    hooks: ProgressHooks | None = None,
) -> RunRecord:
    """Make sure every recording of ``dataset`` has a cached result for ``config``; the
    executor must already be entered (``with executor:``). ``ports`` travel with each batch
    to the workers (plain module-level functions and classes: they pickle)."""
    log = get_logger("evaluate")
    hooks = hooks or ProgressHooks()
    t0 = time.perf_counter()
    version = code_version()
    fingerprint = analysis_fingerprint(config)
    started = datetime.now(UTC)
    record = RunRecord(
        run_id=f"{started:%Y%m%dT%H%M%S%fZ}-{role}",
        role=role,
        dataset=dataset.name,
        manifest=str(dataset.source),
        config_fingerprint=fingerprint,
        code_version=version,
        executor=executor.name,
        workers=executor.workers,
        started_utc=started.isoformat(),
        n_recordings=len(dataset),
        executor_startup_s=getattr(executor, "startup_s", None),
    )
    remote = bool(getattr(executor, "address", None))
    config_data = config.model_dump(mode="json")
    cache.clean_partial()
    outcomes: dict[int, ItemOutcome] = {}
    todo: list[tuple[int, TaskSpec]] = []
    with span("evaluate.hash", recordings=len(dataset)):
        for i, item in enumerate(dataset.items):
            try:
                key = result_key(content_hash(item.path), fingerprint, version)
            except (OSError, ValueError) as err:
                outcomes[i] = ItemOutcome(item, None, "failed", f"unreadable: {err}")
                continue
            if cache.has(key):
                outcomes[i] = ItemOutcome(item, key, "cached")
            else:
                spec = TaskSpec(key, item.id, str(item.path), config_data, version, remote)
                todo.append((i, spec))
    hooks.start(len(dataset), len(dataset) - len(todo))
    for o in outcomes.values():
        if o.status == "failed":
            hooks.advance(o)
    size = batch_size(len(todo), executor.workers)
    batches = [todo[k : k + size] for k in range(0, len(todo), size)]
    with span("evaluate.run", tasks=len(batches), recordings=len(todo), batch=size, executor=executor.name):
        for j, got in executor.map_unordered(run_batch, [([s for _, s in b], ports) for b in batches]):
            # a list of outputs, or one exception (the task or its worker died) for the batch
            results: list[Any] = got if isinstance(got, list) else [got] * len(batches[j])
            for (i, spec), res in zip(batches[j], results, strict=True):
                item = dataset.items[i]
                if isinstance(res, TaskOutput) and res.ok:
                    cache.put(spec.key, res.files, {**res.meta, "recording_id": item.id, "key": spec.key})
                    out = ItemOutcome(item, spec.key, "computed", compute_s=res.meta.get("compute_s"))
                else:
                    msg = res.error if isinstance(res, TaskOutput) else f"{type(res).__name__}: {res}"
                    log.info("recording_failed", recording=item.id, error=msg)
                    out = ItemOutcome(item, spec.key, "failed", msg)
                outcomes[i] = out
                hooks.advance(out)
    record.outcomes = [outcomes[i] for i in range(len(dataset))]
    record.computed = sum(o.status == "computed" for o in record.outcomes)
    record.cached = sum(o.status == "cached" for o in record.outcomes)
    record.failed = sum(o.status == "failed" for o in record.outcomes)
    record.wall_s = round(time.perf_counter() - t0, 3)
    record.finished_utc = datetime.now(UTC).isoformat()
    log.info("evaluate_run_done", **{k: v for k, v in record.row().items() if k in ("computed", "cached", "failed", "wall_s")})
    return record
