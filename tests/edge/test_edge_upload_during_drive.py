"""Events reach the fleet during the drive: the recorder opens its trip in the spool at the
start, an uploader on its own thread sends the trip and each confirmed event at once, and the
trip's summary (duration, distance) completes it at the end (device ingest API v1,
``PUT /trips/{id}`` without summary, then ``PUT /trips/{id}/summary``). Against the contract
server of ``conftest.py`` on 127.0.0.1; kill -9 mid-drive: test_edge_upload_kill9.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from saferoad.adapters.ingest_http.client import HttpIngestClient
from saferoad.adapters.recording import open_recording
from saferoad.adapters.spool import SqliteSpool
from saferoad.application.edge import EdgeRecorder, EdgeReport, SimulatedClock
from saferoad.application.uploader import BackgroundUploader, Uploader
from saferoad.config import SaferoadConfig
from saferoad.entrypoints.wiring import analysis_ports, simulate


def _wait(cond: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return bool(cond())


def test_events_reach_the_server_before_the_drive_ends(tmp_path: Path, ingest_server: Any) -> None:
    rec = tmp_path / "demo"
    simulate("demo", rec, seed=6, video=False)
    recording = open_recording(rec)
    ingest_server.start()
    st = ingest_server.state
    db = tmp_path / "spool.db"
    spool = SqliteSpool(db)
    api = HttpIngestClient(ingest_server.url, ingest_server.token)
    during = BackgroundUploader(lambda: SqliteSpool(db), api, poll_s=0.02).start()
    seen_at: dict[str, float] = {}  # event id -> sensor time of the step when the server had it

    def on_tick(t: float, report: EdgeReport) -> None:
        # each newly confirmed event: wait (wall time) until the server holds it, while the
        # drive is still at this step - the recorder is as fast as it runs, the uploader is not
        if report.new_in_spool > len(seen_at):
            ids = {e["event_id"] for e in spool.events()}
            assert _wait(lambda: ids <= set(st.events)), f"not uploaded during the drive: {ids - set(st.events)}"
            for i in ids - set(seen_at):
                seen_at[i] = t

    report = EdgeRecorder(SaferoadConfig(), ports=analysis_ports(), spool=spool).replay(recording, speed=0, on_tick=on_tick)
    during_result = during.stop()
    assert during.error is None
    t_end = recording.duration_s
    assert len(report.events) >= 4 and len(seen_at) >= 3
    assert max(seen_at.values()) < t_end - 5.0  # well before the drive's end
    with st.lock:
        assert ("summary", report.trip_id) not in st.arrivals  # the drive had not ended
        trip = st.trips[report.trip_id]
        assert trip.get("summary") is None and trip["device_id"] == "SIM-DEVICE"
    assert during_result.sent["trip"] == 1 and during_result.sent["event"] >= 3
    # after the drive: the rest, and the summary completing the trip
    res = Uploader(spool, api, SimulatedClock()).run()
    assert res.failed == 0 and res.sent.get("summary") == 1, res.to_dict()
    assert st.arrivals[0] == ("trip", report.trip_id) and st.arrivals[-1] == ("summary", report.trip_id)
    assert st.trips[report.trip_id]["summary"]["n_events"] == len(report.events)
    assert st.trips[report.trip_id]["summary"]["distance_km"] > 0
    ids = {e["event_id"] for e in spool.events()}
    assert set(st.events) == ids and all(st.puts[i] == 1 for i in ids)  # each sent once
    assert spool.status()["trip_summaries"] == {"sent": 1} and spool.status()["events"] == {"sent": len(ids)}
