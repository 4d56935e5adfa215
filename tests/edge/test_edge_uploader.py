"""The uploader against a real HTTP ingest server on 127.0.0.1 (contract: device ingest API v1):
server down for 10 minutes of simulated time, then back: every trip, event and clip arrives
exactly once, in priority order, caps respected; resumable clips; final vs transient errors."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from saferoad.adapters.ingest_http.client import HttpIngestClient
from saferoad.adapters.spool import SqliteSpool
from saferoad.application.edge import SimulatedClock
from saferoad.application.uploader import Uploader
from saferoad.domain.event_specs import spec
from saferoad.domain.types import Event, EventType, Severity
from saferoad.ports.edge import IngestReply

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()
TRIP = "6f1c2a4e-0000-5000-8000-000000000001"
RANKS = {"collision": 0, "safety": 1, "device": 2}


def _event(typ: EventType, start: float) -> Event:
    return Event(typ, start, start + 1.5, Severity.MEDIUM, 0.9, peak={"x": 1.0})


def _fill(spool: SqliteSpool, rng: random.Random) -> dict[str, tuple[EventType, float]]:
    """A drive's worth of events in time order: 12 tailgating in the first hour (cap 5/h),
    harsh driving, two forward-collision warnings late in the drive, a blocked camera; clips
    (2.5 MiB, three PATCHes each) for some."""
    plan = [(EventType.TAILGATING, 60.0 + 240.0 * k) for k in range(12)]
    plan += [(EventType.HARSH_BRAKING, 100.0), (EventType.HARSH_CORNERING, 1500.0)]
    plan += [(EventType.FORWARD_COLLISION_WARNING, 3000.0), (EventType.FORWARD_COLLISION_WARNING, 3300.0)]
    plan += [(EventType.CAMERA_OBSTRUCTED, 200.0)]
    plan.sort(key=lambda p: p[1])
    ids = {}
    for k, (typ, start) in enumerate(plan):
        eid = f"00000000-0000-5000-8000-{k:012d}"
        clip = rng.randbytes(2_500_000) if typ in (EventType.FORWARD_COLLISION_WARNING, EventType.HARSH_BRAKING) else None
        assert spool.add_event(TRIP, eid, _event(typ, start), T0 + start, clip=clip)
        ids[eid] = (typ, start)
    spool.add_trip(TRIP, {"device_id": "D1", "driver": "X", "vehicle": "V", "fleet": "F",
                          "start_utc": "2026-11-20T08:00:00+00:00", "time_zone": "UTC", "summary": {"n_events": len(plan)}})  # fmt: skip
    return ids


def _uploader(spool: SqliteSpool, srv: Any, clock: SimulatedClock, token: str | None = None) -> Uploader:
    return Uploader(
        spool, HttpIngestClient(srv.url, token or srv.token, timeout_s=5.0), clock,
        backoff_base_s=1.0, backoff_max_s=60.0, chunk_bytes=1 << 20, rng=random.Random(7),
    )  # fmt: skip


class OutageClock(SimulatedClock):
    """Simulated time; the server comes up once 10 minutes have passed."""

    def __init__(self, srv: Any, down_s: float) -> None:
        super().__init__()
        self.srv, self.down_s = srv, down_s

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.t >= self.down_s and self.srv.httpd is None:
            self.srv.start()


def test_outage_then_everything_once_in_priority_order(tmp_path: Path, ingest_server: Any) -> None:
    spool = SqliteSpool(tmp_path / "spool.db", caps={"tailgating": (5, 10)})
    ids = _fill(spool, random.Random(1))
    clock = OutageClock(ingest_server, down_s=600.0)
    res = _uploader(spool, ingest_server, clock).run()
    st = ingest_server.state

    assert clock.now() >= 600.0 and res.transient_errors >= 5  # it was down, retried, came back
    assert res.stopped is None and res.failed == 0
    # caps: 5 of the 12 tailgating events (one hour), the other 7 stay on the device, with why
    sent_types = [ids[e][0] for e in st.events]
    assert sent_types.count(EventType.TAILGATING) == 5
    capped = [p for p in spool.status()["problems"] if p["state"] == "capped"]
    assert len(capped) == 7 and all("5 tailgating uploads per hour" in p["why"] for p in capped)
    # exactly once: each id PUT once (no lost answers here), every clip whole
    assert all(n == 1 for n in st.puts.values())
    assert len(st.events) == len(ids) - 7
    for eid, data in st.clips.items():
        assert eid in st.done and len(data) == 2_500_000
    # order: the trip, then event metadata by priority then time, then clips in that order
    kinds = [k for k, _ in st.arrivals]
    assert kinds[0] == "trip" and kinds.index("clip") > max(i for i, k in enumerate(kinds) if k == "event")
    ev_order = [ids[e] for k, e in st.arrivals if k == "event"]
    keys = [(RANKS[spec(t).priority.value], s) for t, s in ev_order]
    assert keys == sorted(keys)
    assert ev_order[0][0] == EventType.FORWARD_COLLISION_WARNING  # although it happened last
    clip_order = [ids[e] for k, e in st.arrivals if k == "clip"]
    assert [t for t, _ in clip_order] == [EventType.FORWARD_COLLISION_WARNING] * 2 + [EventType.HARSH_BRAKING]
    status = spool.status()
    assert status["events"] == {"sent": len(ids) - 7, "capped": 7} and status["clips"] == {"sent": 3}
    # running again sends nothing
    again = _uploader(spool, ingest_server, clock).run()
    assert again.sent == {"trip": 0, "event": 0, "clip": 0}


def test_backoff_is_exponential_with_jitter_and_bounded(tmp_path: Path, ingest_server: Any) -> None:
    spool = SqliteSpool(tmp_path / "spool.db")
    up = _uploader(spool, ingest_server, SimulatedClock())
    draws = []
    for n in range(1, 12):
        up.failures_in_a_row = n
        draws.append([up.backoff(IngestReply(503)) for _ in range(200)])
    for n, d in enumerate(draws, start=1):
        ceiling = min(60.0, 2.0 ** (n - 1))
        assert min(d) >= 0.0 and max(d) <= ceiling
        assert max(d) - min(d) > 0.5 * ceiling  # jittered over the whole range, not a fixed delay
    assert up.backoff(IngestReply(429, retry_after_s=30.0)) >= 30.0


def test_clip_resumes_where_the_server_stopped(tmp_path: Path, ingest_server: Any) -> None:
    spool = SqliteSpool(tmp_path / "spool.db")
    data = random.Random(3).randbytes(3_300_000)
    spool.add_event(TRIP, "e1", _event(EventType.HARSH_BRAKING, 10.0), T0 + 10, clip=data)
    spool.add_trip(TRIP, {"device_id": "D1", "summary": {}})
    ingest_server.start()
    st = ingest_server.state
    # the first chunk is stored, then the server is busy for two PATCHes
    up = _uploader(spool, ingest_server, SimulatedClock())
    orig = up.api.patch_clip
    calls = []

    def patch(*args: object) -> object:
        calls.append(args[2])
        if len(calls) == 2:
            st.fail_patches = 2
        return orig(*args)  # type: ignore[arg-type]

    up.api.patch_clip = patch  # type: ignore[method-assign]
    res = up.run()
    assert res.sent["clip"] == 1 and res.transient_errors == 2
    assert bytes(st.clips["e1"]) == data
    assert st.patch_bytes == len(data)  # nothing sent twice: resumed from the server's offset
    assert calls.count(0) == 1


def test_final_errors_are_marked_with_why_and_do_not_block(tmp_path: Path, ingest_server: Any) -> None:
    spool = SqliteSpool(tmp_path / "spool.db")
    spool.add_event(TRIP, "bad", _event(EventType.HARSH_BRAKING, 10.0), T0 + 10)
    spool.add_event(TRIP, "good", _event(EventType.HARSH_BRAKING, 20.0), T0 + 20)
    spool.add_trip(TRIP, {"device_id": "D1", "summary": {}})
    ingest_server.state.fail_event["bad"] = 422
    ingest_server.start()
    res = _uploader(spool, ingest_server, SimulatedClock()).run()
    assert res.failed == 1 and res.sent["event"] == 1 and res.transient_errors == 0
    (problem,) = spool.status()["problems"]
    assert problem["id"] == "bad" and problem["state"] == "failed" and "422" in problem["why"] and "event type" in problem["why"]


def test_a_refused_token_stops_without_marking_anything(tmp_path: Path, ingest_server: Any) -> None:
    spool = SqliteSpool(tmp_path / "spool.db")
    spool.add_event(TRIP, "e1", _event(EventType.HARSH_BRAKING, 10.0), T0 + 10)
    spool.add_trip(TRIP, {"device_id": "D1", "summary": {}})
    ingest_server.start()
    res = _uploader(spool, ingest_server, SimulatedClock(), token="wrong").run()
    assert res.stopped is not None and "401" in res.stopped
    assert spool.status()["trips"] == {"queued": 1} and not spool.status()["problems"]


def test_cli_records_then_uploads_every_event(tmp_path: Path, ingest_server: Any) -> None:
    import json
    import socket
    import time

    from typer.testing import CliRunner

    from saferoad.entrypoints.cli.app import app
    from saferoad.entrypoints.wiring import simulate

    rec = tmp_path / "demo"
    simulate("demo", rec, seed=6, video=False)
    spool = str(tmp_path / "spool.db")
    runner = CliRunner()
    res = runner.invoke(app, ["edge", "--replay", str(rec), "--speed", "0", "--spool", spool, "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    n = len((tmp_path / "out" / "events.jsonl").read_text().splitlines())
    assert n >= 4
    up = ["edge", "--upload", "--spool", spool, "--set", f"edge.ingest_url={ingest_server.url}"]
    # server not there yet: --upload-for bounds the run, everything stays queued
    t0 = time.monotonic()
    res = runner.invoke(app, [*up, "--upload-for", "2"], env={"SAFEROAD_DEVICE_TOKEN": ingest_server.token})
    assert res.exit_code == 0 and "time limit" in res.output, res.output
    assert time.monotonic() - t0 < 30
    assert json.loads(runner.invoke(app, ["edge", "--status", "--spool", spool]).output)["events"] == {"queued": n}
    ingest_server.start()
    res = runner.invoke(app, up, env={"SAFEROAD_DEVICE_TOKEN": ""})
    assert res.exit_code != 0 and "SAFEROAD_DEVICE_TOKEN" in res.output  # no token: a clear message
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    res = runner.invoke(app, [*up, "--set", f"edge.alert_udp=127.0.0.1:{sock.getsockname()[1]}"],
                        env={"SAFEROAD_DEVICE_TOKEN": ingest_server.token})  # fmt: skip
    assert res.exit_code == 0, res.output
    # the spool's counts go out on the status sinks (retained on MQTT): what the fleet sees
    msg = json.loads(sock.recv(65536))
    sock.close()
    assert msg["kind"] == "status" and msg["state"] == "uploaded" and msg["events"] == {"sent": n}
    st = ingest_server.state
    assert len(st.trips) == 1 and len(st.events) == n
    (trip,) = st.trips.values()
    assert trip["summary"]["n_events"] == n and trip["device_id"] == "SIM-DEVICE"
    status = json.loads(runner.invoke(app, ["edge", "--status", "--spool", spool]).output)
    assert status["events"] == {"sent": n} and status["trips"] == {"sent": 1}


def test_clip_stored_once_keeps_the_bytes_its_row_names(tmp_path: Path) -> None:
    """A replay after a restart cuts the clip again (the encoder need not give the same bytes):
    the stored file stays the one whose size and SHA-256 the row names, else every upload of
    it would fail the server's checksum."""
    import hashlib

    spool = SqliteSpool(tmp_path / "spool.db")
    eid = "00000000-0000-5000-8000-000000000001"
    assert spool.add_event(TRIP, eid, _event(EventType.HARSH_BRAKING, 10.0), T0 + 10.0, clip=b"first cut")
    assert not spool.add_clip(eid, b"second, different cut")
    row = spool.db.execute("SELECT path, size, sha256 FROM clips WHERE event_id = ?", (eid,)).fetchone()
    data = Path(row[0]).read_bytes()
    assert data == b"first cut" and row[1] == len(data) and row[2] == hashlib.sha256(data).hexdigest()


def test_ingest_server_restarts_on_its_port_and_leaves_the_stdlib_alone(ingest_server: Any) -> None:
    """The test server, stopped after a request (its side of the connection in TIME_WAIT), starts
    again on the same port: the stdlib's HTTPServer reuses the address itself, and its
    ThreadingHTTPServer is as it was for every other test (the fixture used to set the class
    attribute on it, needlessly)."""
    import socket
    from http.server import HTTPServer, ThreadingHTTPServer

    assert vars(HTTPServer)["allow_reuse_address"]  # what the restart relies on

    for _ in range(2):
        ingest_server.start()
        with socket.create_connection(("127.0.0.1", ingest_server.port), timeout=5) as s:
            s.sendall(b"GET /api/v1/ingest HTTP/1.0\r\n\r\n")
            assert s.recv(12).startswith(b"HTTP/1.")
        ingest_server.stop()
    assert "allow_reuse_address" not in vars(ThreadingHTTPServer)
