"""kill -9 of the recorder while it uploads during the drive (``saferoad edge --replay REC
--speed 10 --upload``), restarted: events reached the server mid-drive, and in the end every
event arrived once, none lost, the trip opened and completed once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def test_kill9_while_uploading_during_the_drive_loses_and_duplicates_nothing(
    tmp_path: Path, ingest_server: Any
) -> None:
    """The recorder with its uploader (``saferoad edge --replay REC --speed 10 --upload``) as a
    real process, killed with SIGKILL at random moments of the drive and restarted: the server
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
    ingest_server.start()
    st = ingest_server.state
    db = tmp_path / "spool.db"
    cmd = [
        str(Path(sys.executable).parent / "saferoad"), "edge", "--replay", str(rec), "--speed", "SPEED",
        "--spool", str(db), "--upload", "--set", f"edge.ingest_url={ingest_server.url}",
        "--set", "edge.upload_poll_s=0.2",
    ]  # fmt: skip
    env = {**os.environ, "SAFEROAD_DEVICE_TOKEN": ingest_server.token}
    rng = random.Random(20261207)
    kills = 0
    seen_mid_drive = 0
    for attempt in range(6):
        # the runs to kill are paced at 10x (a kill lands at a random moment of the drive); the
        # run that completes need not be: unpaced (--speed 0) it uploads the same, 7.5 s sooner
        speed = "10" if attempt < 3 else "0"
        argv = [speed if a == "SPEED" else a for a in cmd]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
        if attempt < 3:
            # kill within the drive (75 s at 10x), once its trip is open on the server
            assert _wait(lambda p=proc: bool(st.trips) or p.poll() is not None, 120)
            time.sleep(rng.uniform(0.5, 7.0))
            if proc.poll() is None:
                with st.lock:
                    n_before = len(st.events)
                    done = ("summary", next(iter(st.trips))) in st.arrivals
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                seen_mid_drive += n_before > 0 and not done
                _check_spool(db)
                continue
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-2000:]
        break
    assert kills == 3 and seen_mid_drive >= 1  # events reached the server during a drive
    with st.lock:
        events = list(st.events.values())
        (trip_id,) = st.trips
        arrivals = list(st.arrivals)
    assert sorted((e["type"], round(e["start_s"], 3)) for e in events) == expected  # all, each once
    assert [a for a in arrivals if a[0] != "event"] == [("trip", trip_id), ("summary", trip_id)]
    assert len({a for a in arrivals}) == len(arrivals)  # nothing stored twice
    assert st.trips[trip_id]["summary"]["n_events"] == len(expected)
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
