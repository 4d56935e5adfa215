"""kill -9 of the recorder while it uploads during the drive (``saferoad edge --replay REC
--speed 10 --upload``), restarted: events reached the server mid-drive, and in the end every
event arrived once, none lost, the trip opened and completed once.

The kills land where an upload can go wrong, found by watching the server, not by sleeping: the
trip's PUT stored but its answer held back (the device never learns it), an event's PUT stored
and its answer held back (the same, mid-drive, events on the server), and an event's answer
just sent (the device is marking it sent in its spool). Each killed run lasts until its point,
no longer. Before, each kill came after a seeded random sleep (6.7, 5.6, 6.5 s); the second and
third counted from the process's start (the trip was open on the server already), and under
load the recorder takes ~10 s to reach its drive, so those two died in start-up. Measured in one
pytest run, load ~7 on 2 cores: 42.8 s before, 38.6 s now (four processes' start-up is most of it)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import EdgeRecorder
from saferoad.config import SaferoadConfig
from saferoad.entrypoints.wiring import analysis_ports, simulate


def _wait(cond: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


class KillPoint:
    """Where the server stops the run: at the first PUT of ``kind`` (``trip`` or ``event``) that
    it stores (201), either before its answer (``held``: the answer waits until :meth:`release`,
    so the device never has it) or just after it. :attr:`reached` is set there."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.held = False
        self.reached = threading.Event()
        self._release = threading.Event()

    def arm(self, kind: str, *, held: bool) -> None:
        self.kind, self.held = kind, held
        self.reached.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _matches(self, handler: Any, status: int, routes: Any) -> bool:
        if handler.command != "PUT" or status != 201 or self.kind is None:
            return False
        pattern = routes.TRIP if self.kind == "trip" else routes.EVENT
        return pattern.match(handler.path) is not None

    def handler(self, base: type[Any], routes: Any) -> type[Any]:
        """``base`` (the ingest server's handler) stopping here; ``routes``: its module."""
        point = self

        class Stopping(base):  # type: ignore[misc, valid-type]
            def _reply(self, status: int, body: Any = None, headers: Any = None) -> None:
                hit = point._matches(self, status, routes)
                if hit:
                    point.kind = None  # once per arming
                    if point.held:
                        point.reached.set()
                        point._release.wait(60)  # the device is killed meanwhile
                try:
                    super()._reply(status, body, headers)
                except OSError:  # the device is gone: nobody reads the answer
                    return
                if hit and not point.held:
                    point.reached.set()

        return Stopping


def test_kill9_while_uploading_during_the_drive_loses_and_duplicates_nothing(
    tmp_path: Path, ingest_server: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The recorder with its uploader (``saferoad edge --replay REC --speed 10 --upload``) as a
    real process, killed with SIGKILL at three points of its upload and restarted: the server
    saw events before any drive finished; in the end it holds the drive's events, each once
    (by id and by type and start), and the trip completed once."""
    rec = tmp_path / "demo"
    simulate("demo", rec, seed=4, video=False)
    # the drive's events, recorded once without interruption (equal to analyze's:
    # test_edge_equals_batch)
    expected = sorted(
        (e.type.value, round(e.start_s, 3))
        for e in EdgeRecorder(SaferoadConfig(), ports=analysis_ports()).replay(open_recording(rec), speed=0).events
    )
    assert len(expected) >= 4
    point = KillPoint()
    request.addfinalizer(point.release)  # a held answer does not outlive a failed check
    server = sys.modules[type(ingest_server).__module__]  # tests/edge/conftest.py, as pytest loaded it
    real_handler = server._handler
    monkeypatch.setattr(server, "_handler", lambda state: point.handler(real_handler(state), server))
    ingest_server.start()
    st = ingest_server.state
    db = tmp_path / "spool.db"
    cmd = [
        str(Path(sys.executable).parent / "saferoad"), "edge", "--replay", str(rec), "--speed", "SPEED",
        "--spool", str(db), "--upload", "--set", f"edge.ingest_url={ingest_server.url}",
        "--set", "edge.upload_poll_s=0.2",
    ]  # fmt: skip
    env = {**os.environ, "SAFEROAD_DEVICE_TOKEN": ingest_server.token}
    # (kind, held): the trip stored, unanswered; the first new event stored, unanswered; the
    # next new event answered, the device marking it sent
    points = [("trip", True), ("event", True), ("event", False)]
    kills = 0
    seen_mid_drive = 0
    for attempt in range(len(points) + 1):
        # the runs to kill are paced at 10x (their uploads happen during the drive); the run that
        # completes need not be: unpaced (--speed 0) it uploads the same, 7.5 s sooner
        speed = "10" if attempt < len(points) else "0"
        argv = [speed if a == "SPEED" else a for a in cmd]
        if attempt < len(points):
            kind, held = points[attempt]
            point.arm(kind, held=held)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
        if attempt < len(points):
            assert _wait(lambda p=proc: point.reached.is_set() or p.poll() is not None, 120)
            assert proc.poll() is None and point.reached.is_set(), (points[attempt], proc.communicate()[1].decode()[-2000:])
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            point.release()  # the held answer goes to a closed connection
            with st.lock:  # the run is dead: what the server holds now is what it held at the kill
                n_before = len(st.events)
                done = ("summary", next(iter(st.trips))) in st.arrivals
            kills += 1
            seen_mid_drive += n_before > 0 and not done
            _check_spool(db)
            continue
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-2000:]
    # events reached the server during a drive, at both event kills
    assert kills == 3 and seen_mid_drive == 2
    with st.lock:
        events = list(st.events.values())
        (trip_id,) = st.trips
        arrivals = list(st.arrivals)
    assert sorted((e["type"], round(e["start_s"], 3)) for e in events) == expected  # all, each once
    assert [a for a in arrivals if a[0] != "event"] == [("trip", trip_id), ("summary", trip_id)]
    assert len({a for a in arrivals}) == len(arrivals)  # nothing stored twice
    assert st.trips[trip_id]["summary"]["n_events"] == len(expected)
    # the unanswered trip and first event were sent again by the next run (answered 200: stored)
    assert arrivals[1][0] == "event" and st.puts[trip_id] >= 2 and st.puts[arrivals[1][1]] >= 2
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT state, summary_state FROM trips").fetchall() == [("sent", "sent")]
        assert con.execute("SELECT DISTINCT state FROM events").fetchall() == [("sent",)]
    finally:
        con.close()


def _check_spool(db: Path) -> None:
    if not db.exists():
        return
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
