"""kill -9 at random points of ``saferoad analyze`` and ``saferoad ingest`` (issue #14, defect 3).

While runs are killed, a reader polls the output folder: whenever it finds one, it is a complete
run (its ``run.json`` and every file it lists, with their sizes; summary and events agree).
After each kill, the folder is the last complete run (or absent), and an uninterrupted run
afterwards gives the same result as one that was never interrupted. The database is the same:
each killed ``ingest`` stored all or nothing, and the final one matches a clean ingest.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from saferoad.adapters.outputs import IncompleteOutput, check_complete
from saferoad.adapters.sql.store import open_store
from saferoad.entrypoints.cli.app import app

SAFEROAD = [sys.executable, "-c", "from saferoad.entrypoints.cli.app import main; main()"]
VOLATILE = ("wall_s", "stages_s")
N_KILLS = 4


def _run(args: list[str], *, kill_after: float | None = None) -> int | None:
    """Run the CLI in its own process; kill -9 it after ``kill_after`` s (None: let it end)."""
    proc = subprocess.Popen([*SAFEROAD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        return 0
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None  # killed
    _, err = proc.communicate()
    if proc.returncode:
        print(err.decode()[-2000:])
    return proc.returncode


def _result(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    for k in VOLATILE:
        summary.pop(k, None)
    if isinstance(summary.get("road"), dict):
        summary["road"].pop("rules_s", None)  # a timing
    return events, summary


class Reader(threading.Thread):
    """Reads the output folder over and over, as ingest or a person would."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out, self.stop, self.seen, self.errors = out, threading.Event(), 0, []  # type: ignore[var-annotated]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                fd = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                continue
            try:
                pinned = Path(f"/proc/self/fd/{fd}")  # this folder, even if renamed meanwhile
                try:
                    check_complete(pinned, sizes=True)
                    events, summary = _result(pinned)
                    counts: dict[str, int] = {}
                    for ev in events:
                        counts[ev["type"]] = counts.get(ev["type"], 0) + 1
                    assert summary["event_counts"] == counts and summary["n_events"] == len(events)
                    self.seen += 1
                except (FileNotFoundError, IncompleteOutput, AssertionError, ValueError) as err:
                    try:
                        replaced = os.stat(self.out).st_ino != os.fstat(fd).st_ino
                    except FileNotFoundError:
                        replaced = True
                    if not replaced:  # the folder is still OUT: a reader would see this
                        self.errors.append(f"{type(err).__name__}: {err}")
            finally:
                os.close(fd)
            time.sleep(0.002)


@pytest.fixture(scope="module")
def short_drive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("kill9") / "rec"
    args = ["simulate", "harsh_braking", "-o", str(rec), "--seed", "2", "--set", "duration_s=12", "--set", "at_s=5", "--no-video"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return rec


def test_kill_9_during_analyze(short_drive: Path, tmp_path: Path) -> None:
    rng = random.Random(14)
    ref_out, out = tmp_path / "reference", tmp_path / "out"
    args = ["analyze", str(short_drive), "-q", "-o"]
    t0 = time.perf_counter()
    _run([*args, str(ref_out)])
    full_s = time.perf_counter() - t0
    reference = _result(ref_out)
    assert reference[0], "the drive has a harsh braking: an empty run could not show a mix"
    shutil.copytree(ref_out, out)  # a previous run that the killed ones would replace
    reader = Reader(out)
    reader.start()
    outcomes = {"killed": 0, "finished": 0}
    last: tuple[Any, Any] | None = None
    try:
        for _ in range(N_KILLS):
            delay = rng.uniform(0.2, 1.3 * full_s)  # some runs finish
            code = _run([*args, str(out)], kill_after=delay)
            outcomes["killed" if code is None else "finished"] += 1
            if out.exists():
                check_complete(out, sizes=True)
                now = _result(out)
                if code is None and last is not None:
                    # the last complete run, or a new one
                    assert now in (last, reference), f"after a kill at {delay:.2f} s OUT is neither run"
                elif code not in (None, 0):
                    pytest.fail(f"a run not killed ended with exit status {code}")
                last = now
    finally:
        reader.stop.set()
        reader.join()
    print(f"analyze kill -9: {outcomes}, reader saw {reader.seen} complete runs, {len(reader.errors)} partial")
    assert reader.errors == []
    _run([*args, str(out)])
    assert _result(out) == reference, "a rerun differs from the uninterrupted run"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.run-")]
    assert leftovers == [], f"run folders of killed runs left behind: {leftovers}"
    assert check_complete(out, sizes=True)["format_version"] == 1


def _db_state(url: str) -> tuple[tuple[int, int], int]:
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            return uow.trips.count(), uow.scores.count()
    finally:
        store.close()


def test_kill_9_during_ingest(short_drive: Path, tmp_path: Path) -> None:
    rng = random.Random(15)
    out = tmp_path / "out"
    _run(["analyze", str(short_drive), "-q", "-o", str(out)])
    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    t0 = time.perf_counter()
    _run(["ingest", str(out), "--db", ref_url])
    full_s = time.perf_counter() - t0
    reference = _db_state(ref_url)
    assert reference[0][0] == 1
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    outcomes = {"killed": 0, "finished": 0}
    for _ in range(N_KILLS - 1):
        code = _run(["ingest", str(out), "--db", url], kill_after=rng.uniform(0.2, 1.3 * full_s))
        outcomes["killed" if code is None else "finished"] += 1
        if (tmp_path / "killed.db").exists():
            state = _db_state(url)
            assert state in (((0, 0), 0), reference), state  # all or nothing
    print(f"ingest kill -9: {outcomes}")
    _run(["ingest", str(out), "--db", url])
    assert _db_state(url) == reference
