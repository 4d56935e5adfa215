"""The recorder and uploader end to end against the fleet web app's own ingest API (issue #18's
server, uvicorn on 127.0.0.1, SQLite): a recorded drive (with a clip) arrives once; recording
the same drive again into a fresh spool and uploading it stores nothing new (idempotent ids)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.ingest_http.client import HttpIngestClient
from saferoad.adapters.recording import open_recording
from saferoad.adapters.spool import SqliteSpool
from saferoad.adapters.sql import open_store
from saferoad.application.edge import EdgeRecorder, SimulatedClock
from saferoad.application.uploader import Uploader
from saferoad.application.web import add_device
from saferoad.config import load_config
from saferoad.entrypoints.web import create_app
from saferoad.entrypoints.wiring import analysis_ports, simulate

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/v1/ingest"
    finally:
        server.should_exit = True
        thread.join(10)


def _record(rec: Path, spool_path: Path, cfg: Any) -> tuple[SqliteSpool, int]:
    spool = SqliteSpool(spool_path)
    report = EdgeRecorder(cfg, ports=analysis_ports(), spool=spool, clip_dir=tmp_cut(spool_path)).replay(open_recording(rec), speed=0)
    return spool, len(report.events)


def tmp_cut(spool_path: Path) -> Path:
    return spool_path.parent / (spool_path.name + ".cutting")


def test_recorded_drive_arrives_once_in_the_fleet_database(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=24", "at_s=9"], seed=2)
    meta = open_recording(rec).meta
    cfg = load_config(overrides={"web": {"media_dir": str(tmp_path / "media")}})
    store = open_store(f"sqlite:///{tmp_path / 'fleet.db'}")
    token = add_device(store, meta.fleet_id, meta.device_id)
    try:
        with _serve(create_app(store, cfg)) as url:
            spool, n = _record(rec, tmp_path / "a" / "spool.db", cfg)
            assert n == 1
            res = Uploader(spool, HttpIngestClient(url, token), SimulatedClock()).run()
            assert res.to_dict()["sent"] == {"trip": 1, "event": 1, "clip": 1} and res.failed == 0, res.to_dict()
            assert spool.status()["problems"] == []
            with store.unit_of_work() as uow:
                assert uow.trips.count() == (1, 1)
            # the same drive recorded again (a device restored from its loop): same ids, the
            # server holds them all, nothing stored twice
            again, _ = _record(rec, tmp_path / "b" / "spool.db", cfg)
            res = Uploader(again, HttpIngestClient(url, token), SimulatedClock()).run()
            assert res.to_dict()["sent"] == {"trip": 1, "event": 1, "clip": 1} and res.failed == 0, res.to_dict()
            with store.unit_of_work() as uow:
                assert uow.trips.count() == (1, 1)
    finally:
        store.close()
