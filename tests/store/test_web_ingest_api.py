"""Device ingest API v1 (docs/ingest-api.md) on both databases: auth, idempotency, the same
checks as ``saferoad ingest``, resumable clips with SHA-256, size limits; and the edge
uploader's own HTTP client against the real server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saferoad.adapters.sql import open_store
from saferoad.adapters.sql.store import SqlStore
from saferoad.application.web import add_device, add_user
from saferoad.entrypoints.web import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
API = "/api/v1/ingest"


def _helpers() -> Any:
    import importlib.util
    import sys

    if "web_helpers" not in sys.modules:  # tests run in importlib mode: load it by path
        spec = importlib.util.spec_from_file_location(
            "web_helpers", Path(__file__).with_name("web_helpers.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["web_helpers"] = module
        spec.loader.exec_module(module)
    return sys.modules["web_helpers"]


wh = _helpers()


def trip_body(device: str = "SR-1", fleet: str = "tokyo-taxi", **summary: Any) -> dict[str, Any]:
    return {
        "device_id": device,
        "driver": "D-api",
        "vehicle": "TX-9",
        "fleet": fleet,
        "start_utc": "2026-11-17T00:30:00Z",
        "time_zone": "Asia/Tokyo",
        "summary": {"duration_s": 1200.0, "distance_km": 12.5, "event_counts": {}, **summary},
    }


def event_body(start_s: float = 100.0, etype: str = "harsh_braking") -> dict[str, Any]:
    return {
        "type": etype,
        "start_s": start_s,
        "end_s": start_s + 1.5,
        "severity": "high",
        "confidence": 0.9,
        "direction": None,
        "peak": {"long_acc_mps2": -5.1},
        "evidence": {"clip": "clips/event_000.mp4"},
    }


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[SqlStore, Any, dict[str, str]]]:
    cfg = wh.web_config(tmp_path, max_clip_bytes=4096)
    store = open_store(db_url)
    tokens = {
        "SR-1": add_device(store, "tokyo-taxi", "SR-1"),
        "SR-2": add_device(store, "tokyo-taxi", "SR-2"),
        "OS-1": add_device(store, "osaka-vans", "OS-1"),
    }
    yield store, create_app(store, cfg), tokens
    store.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_auth(api: tuple[SqlStore, Any, dict[str, str]]) -> None:
    _, app, tokens = api
    c = TestClient(app)
    assert c.get(f"{API}/health").json() == {"status": "ok"}
    assert c.put(f"{API}/trips/t1", json=trip_body()).status_code == 401
    r = c.put(f"{API}/trips/t1", json=trip_body(), headers=_auth("srd_wrong"))
    assert r.status_code == 401 and "token" in r.json()["detail"]
    r = c.put(f"{API}/trips/t1", json=trip_body(), headers=_auth(tokens["OS-1"]))
    assert r.status_code == 403 and "'fleet'" in r.json()["detail"]
    r = c.put(f"{API}/trips/t1", json=trip_body(device="SR-2"), headers=_auth(tokens["SR-1"]))
    assert r.status_code == 403 and "'device_id'" in r.json()["detail"]


def test_trip_and_event_idempotent_and_checked(api: tuple[SqlStore, Any, dict[str, str]]) -> None:
    store, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    assert c.put(f"{API}/trips/t1", json=trip_body()).status_code == 201
    again = c.put(f"{API}/trips/t1", json=trip_body())
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert c.put(f"{API}/trips/t1", json=trip_body(duration_s=1300.0)).status_code == 409
    # the same trip id from another device is another trip
    c2 = TestClient(app, headers=_auth(tokens["SR-2"]))
    assert c2.put(f"{API}/trips/t1", json=trip_body(device="SR-2")).status_code == 201
    for body, field in (
        ({**trip_body(), "start_utc": "yesterday"}, "start_utc"),
        ({**trip_body(), "start_utc": "2026-11-17T00:30:00"}, "start_utc"),
        ({**trip_body(), "time_zone": "Mars/Base"}, "timezone"),
        (trip_body(duration_s=-1), "duration_s"),
        (trip_body(event_counts={"harsh_braking": -1}), "event_counts"),
        ({k: v for k, v in trip_body().items() if k != "driver"}, "driver"),
    ):
        r = c.put(f"{API}/trips/t-bad", json=body)
        assert r.status_code == 422, (field, r.text)
        assert field in r.json()["detail"], (field, r.json())
    assert c.put(f"{API}/trips/bad id!", json=trip_body()).status_code == 422

    assert c.put(f"{API}/trips/nope/events/e1", json=event_body()).status_code == 404
    with store.unit_of_work() as uow:
        trip_id, _ = uow.web.ingest_trip("tokyo-taxi", "SR-1", "t1")
        before = uow.scores.get("trip", "tokyo-taxi", uow.trips.get(trip_id).trip_key, "2026-W47")
    assert c.put(f"{API}/trips/t1/events/e1", json=event_body()).status_code == 201
    assert c.put(f"{API}/trips/t1/events/e1", json=event_body()).status_code == 200
    assert c.put(f"{API}/trips/t1/events/e1", json=event_body(200.0)).status_code == 409
    for body, field in (
        (event_body(etype="nap"), "'type'"),
        (event_body(5000.0), "'start_s'"),
        ({**event_body(), "severity": "extreme"}, "'severity'"),
        ({**event_body(), "confidence": 2}, "'confidence'"),
    ):
        r = c.put(f"{API}/trips/t1/events/e-bad", json=body)
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    with store.unit_of_work() as uow:
        trip = uow.trips.get(trip_id)
        after = uow.scores.get("trip", "tokyo-taxi", trip.trip_key, "2026-W47")
        driver_week = uow.scores.get("driver_week", "tokyo-taxi", "D-api", "2026-W47")
    assert [e.type for e in trip.events] == ["harsh_braking"]
    assert before is not None and after is not None and driver_week is not None
    assert before.score.n_events == 0 and after.score.n_events == 1
    assert after.score.raw < before.score.raw


def test_graded_manoeuvres_count_in_the_trip_score(
    api: tuple[SqlStore, Any, dict[str, str]], tmp_path: Path
) -> None:
    """A trip's stored score after an event arrives is what ingest gives the same trip:
    events plus the graded manoeuvres of its summary."""
    from saferoad.domain.scoring import trip_score

    store, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    graded = {"braking": {"moderate": 6, "hard": 2, "harsh": 1},
              "cornering": {"moderate": 4, "hard": 0, "harsh": 0}}
    assert c.put(f"{API}/trips/g1", json=trip_body(manoeuvres=graded)).status_code == 201
    assert c.put(f"{API}/trips/g1/events/e1", json=event_body()).status_code == 201
    cfg = app.state.config
    with store.unit_of_work() as uow:
        trip_id, _ = uow.web.ingest_trip("tokyo-taxi", "SR-1", "g1")
        trip = uow.trips.get(trip_id)
        stored = uow.scores.get("trip", "tokyo-taxi", trip.trip_key, trip.local_week)
    want = trip_score(trip.exposure(), cfg.scoring.rules())
    assert trip.exposure().manoeuvres  # the summary's lower bands are there
    assert stored.score.raw == pytest.approx(want.raw, abs=1e-3)


def _patch(c: TestClient, url: str, data: bytes, offset: int, total: int, sha: str) -> Any:
    return c.patch(
        url,
        content=data,
        headers={
            "Upload-Offset": str(offset),
            "Upload-Length": str(total),
            "Clip-SHA256": sha,
            "Content-Type": "application/offset+octet-stream",
        },
    )


def test_resumable_clip_upload(api: tuple[SqlStore, Any, dict[str, str]], tmp_path: Path) -> None:
    store, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    c.put(f"{API}/trips/t1", json=trip_body())
    c.put(f"{API}/trips/t1/events/e1", json=event_body())
    url = f"{API}/trips/t1/events/e1/clip"
    clip = bytes(range(256)) * 12  # 3072 bytes
    sha = hashlib.sha256(clip).hexdigest()
    assert c.head(url).status_code == 404
    assert c.head(f"{API}/trips/t1/events/nope/clip").status_code == 404
    r = _patch(c, url, clip[:1000], 0, len(clip), sha)
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "1000"
    r = _patch(c, url, clip[500:1500], 500, len(clip), sha)  # a retried, stale chunk
    assert r.status_code == 409 and r.headers["Upload-Offset"] == "1000"
    head = c.head(url)
    assert head.status_code == 200
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("1000", "3072")
    assert _patch(c, url, clip[1000:2000], 1000, len(clip), sha).status_code == 204
    done = _patch(c, url, clip[2000:], 2000, len(clip), sha)
    assert done.status_code == 201 and done.headers["Upload-Offset"] == str(len(clip))
    assert _patch(c, url, clip[2000:], 2000, len(clip), sha).status_code == 200
    with store.unit_of_work() as uow:
        trip_id, _ = uow.web.ingest_trip("tokyo-taxi", "SR-1", "t1")
        ev = uow.trips.get(trip_id).events[0]
    assert ev.clip_path is not None and Path(ev.clip_path).read_bytes() == clip
    # a manager of the fleet plays it in the web app
    add_user(store, "m", "manager-pass", "manager", fleets=("tokyo-taxi",))
    web = TestClient(app)
    assert wh.log_in(web, "m", "manager-pass").status_code == 303
    assert web.get(f"/events/{ev.id}/clip").content == clip


def test_clip_checks(api: tuple[SqlStore, Any, dict[str, str]]) -> None:
    _, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    c.put(f"{API}/trips/t1", json=trip_body())
    c.put(f"{API}/trips/t1/events/e1", json=event_body())
    url = f"{API}/trips/t1/events/e1/clip"
    data = b"x" * 100
    sha = hashlib.sha256(data).hexdigest()
    assert _patch(c, url, data, 0, 5000, sha).status_code == 413  # limit is 4096 here
    r = c.patch(url, content=data, headers={"Upload-Offset": "0", "Upload-Length": "100",
                                            "Clip-SHA256": sha, "Content-Type": "video/mp4"})
    assert r.status_code == 415
    assert _patch(c, url, data, 0, 100, "abc").status_code == 422
    assert _patch(c, url, data, 0, 50, sha).status_code == 413  # chunk past Upload-Length
    bad = _patch(c, url, data, 0, 100, hashlib.sha256(b"other").hexdigest())
    assert bad.status_code == 422 and "discarded" in bad.json()["detail"]
    assert c.head(url).status_code == 404  # start again from 0
    assert _patch(c, url, data, 0, 100, sha).status_code == 201
    other = TestClient(app, headers=_auth(tokens["SR-2"]))
    assert other.head(url).status_code == 404  # another device's trip ids are not visible


def test_openapi_publishes_the_contract(api: tuple[SqlStore, Any, dict[str, str]]) -> None:
    _, app, _ = api
    schema = TestClient(app).get("/api/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        f"{API}/health",
        f"{API}/trips/{{trip_id}}",
        f"{API}/trips/{{trip_id}}/summary",
        f"{API}/trips/{{trip_id}}/events/{{event_id}}",
        f"{API}/trips/{{trip_id}}/events/{{event_id}}/clip",
    }
    clip = paths[f"{API}/trips/{{trip_id}}/events/{{event_id}}/clip"]
    assert {"head", "patch"} <= set(clip)
    assert "application/offset+octet-stream" in clip["patch"]["requestBody"]["content"]
    assert {"201", "200", "401", "403", "409", "422"} <= set(paths[f"{API}/trips/{{trip_id}}"]["put"]["responses"])
    summary = paths[f"{API}/trips/{{trip_id}}/summary"]["put"]["responses"]
    assert {"201", "200", "404", "409", "422"} <= set(summary)


def test_edge_uploader_client_against_the_server(
    api: tuple[SqlStore, Any, dict[str, str]],
) -> None:
    """The edge recorder's own HTTP client (issue #17) talks to this server over loopback."""
    from saferoad.adapters.ingest_http.client import HttpIngestClient

    store, app, tokens = api
    with wh.serve(app) as base:
        cl = HttpIngestClient(base + API, tokens["SR-1"])
        assert cl.put_trip("u-1", trip_body()).status == 201
        assert cl.put_trip("u-1", trip_body()).status == 200
        assert cl.put_event("u-1", "ev-1", event_body()).status == 201
        clip = b"\x00\x01" * 700
        sha = hashlib.sha256(clip).hexdigest()
        assert cl.clip_offset("u-1", "ev-1").status == 404
        first = cl.patch_clip("u-1", "ev-1", 0, len(clip), sha, clip[:600])
        assert (first.status, first.offset) == (204, 600)
        stale = cl.patch_clip("u-1", "ev-1", 0, len(clip), sha, clip[:600])
        assert (stale.status, stale.offset) == (409, 600)
        last = cl.patch_clip("u-1", "ev-1", 600, len(clip), sha, clip[600:])
        assert last.status == 201
        bad = HttpIngestClient(base + API, "srd_nope").put_trip("u-2", trip_body())
        assert bad.status == 401 and not bad.transient
    with store.unit_of_work() as uow:
        assert uow.trips.count() == (1, 1)


def test_malformed_bodies_are_named(api: tuple[SqlStore, Any, dict[str, str]]) -> None:
    _, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    r = c.put(f"{API}/trips/t1", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("body: not valid JSON")
    r = c.put(f"{API}/trips/t1", json=[1, 2])
    assert r.status_code == 422 and "body" in r.json()["detail"]
    r = c.put(f"{API}/trips/t1", json={**trip_body(), "firmware": "2.1"})  # extra: tolerated
    assert r.status_code == 201
    r = c.patch(f"{API}/trips/t1/events/e/clip", content=b"x",
                headers={"Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 422 and "Upload-Offset" in r.json()["detail"]


def test_trip_opened_at_the_start_of_the_drive_then_completed(
    api: tuple[SqlStore, Any, dict[str, str]],
) -> None:
    """A device opens its trip without a summary, sends events during the drive (not bounded by
    a duration yet), then completes the trip with its summary: distance and duration count
    from then on; the same summary again is 200, another 409; the open body again is 200."""
    store, app, tokens = api
    c = TestClient(app, headers=_auth(tokens["SR-1"]))
    opened = {k: v for k, v in trip_body().items() if k != "summary"}
    assert c.put(f"{API}/trips/live", json=opened).status_code == 201
    assert c.put(f"{API}/trips/live", json=opened).status_code == 200
    assert c.put(f"{API}/trips/live", json=trip_body()).status_code == 409
    # during the drive: an event 900 s in (past the open trip's zero duration) is accepted
    assert c.put(f"{API}/trips/live/events/e1", json=event_body(900.0)).status_code == 201
    with store.unit_of_work() as uow:
        tid, _ = uow.web.ingest_trip("tokyo-taxi", "SR-1", "live")
        head = uow.web.trip_head(tid)
        assert head is not None and head.in_progress and head.duration_s == 0.0
    summary = trip_body()["summary"]
    assert c.put(f"{API}/trips/nope/summary", json=summary).status_code == 404
    r = c.put(f"{API}/trips/live/summary", json={**summary, "duration_s": 600.0})
    assert r.status_code == 422 and "900" in r.json()["detail"], r.text  # the event lies past it
    r = c.put(f"{API}/trips/live/summary", json={**summary, "duration_s": -1})
    assert r.status_code == 422 and "duration_s" in r.json()["detail"], r.text
    r = c.put(f"{API}/trips/live/summary", json=summary)
    assert r.status_code == 201 and r.json()["status"] == "completed", r.text
    assert c.put(f"{API}/trips/live/summary", json=summary).status_code == 200
    other = {**summary, "distance_km": 3.0}
    assert c.put(f"{API}/trips/live/summary", json=other).status_code == 409
    assert c.put(f"{API}/trips/live", json=opened).status_code == 200
    # once complete, events are bounded by the duration again
    r = c.put(f"{API}/trips/live/events/e2", json=event_body(5000.0))
    assert r.status_code == 422 and "'start_s'" in r.json()["detail"]
    with store.unit_of_work() as uow:
        trip = uow.trips.get(tid)
        head = uow.web.trip_head(tid)
        score = uow.scores.get("trip", "tokyo-taxi", trip.trip_key, "2026-W47")
    assert head is not None and not head.in_progress
    assert trip.duration_s == pytest.approx(1200.0) and trip.distance_km == pytest.approx(12.5)
    assert (trip.end_utc - trip.start_utc).total_seconds() == pytest.approx(1200.0)
    assert [e.start_s for e in trip.events] == [900.0]
    assert score is not None and score.score.n_events == 1
    # a trip sent whole: its own summary again is 200, another one 409
    assert c.put(f"{API}/trips/whole", json=trip_body()).status_code == 201
    assert c.put(f"{API}/trips/whole/summary", json=summary).status_code == 200
    r = c.put(f"{API}/trips/whole/summary", json={**summary, "duration_s": 1300.0})
    assert r.status_code == 409
