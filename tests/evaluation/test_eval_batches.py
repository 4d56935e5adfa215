"""Short recordings travel to the workers in batches: how many a task holds, and a batch
whose one recording fails still returns the others."""

from __future__ import annotations

import shutil
from pathlib import Path

from saferoad.application.evaluation.runner import MAX_BATCH, TASKS_PER_WORKER, batch_size
from saferoad.application.evaluation.task import TaskSpec, run_tasks
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analysis_ports


def test_batch_size_shares_task_cost_and_keeps_workers_busy() -> None:
    assert batch_size(1000, 2) == MAX_BATCH  # 125 tasks of 8
    assert batch_size(24, 2) == 24 // (TASKS_PER_WORKER * 2)  # 3: still 4 tasks a worker
    assert batch_size(7, 2) == 1  # too few to batch
    assert batch_size(0, 2) == batch_size(5, 0) == 1


def test_a_batch_returns_every_recording_in_order_even_a_failed_one(synth_trips: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(synth_trips / "trip-002", bad)
    with (bad / "imu.csv").open("a") as fh:
        fh.write("50.0,abc,0,9.8,0,0,0\n")
    cfg = load_config().model_dump(mode="json")
    specs = [
        TaskSpec(f"k{i}", rid, str(path), cfg, "v")
        for i, (rid, path) in enumerate([("a", synth_trips / "trip-000"), ("bad", bad), ("b", synth_trips / "trip-001")])
    ]
    out = run_tasks(specs, analysis_ports())
    assert [o.recording_id for o in out] == ["a", "bad", "b"]
    assert [o.ok for o in out] == [True, False, True]
    assert "imu.csv" in (out[1].error or "") and "events.jsonl" in out[0].files
