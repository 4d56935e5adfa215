"""The web app through FastAPI's TestClient on both databases: login, pages, who sees what,
the review queue moving the score, coaching notes, CSRF and the login throttle."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from saferoad.adapters.recording.labels import read_labels_jsonl
from saferoad.adapters.sql.store import SqlStore
from saferoad.application.web import LoginThrottle, add_user
from saferoad.domain.event_specs import SPECS
from saferoad.domain.review import review_order
from saferoad.domain.scoring import trip_score
from saferoad.entrypoints.web import create_app


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
build_store, csrf_of, log_in = wh.build_store, wh.csrf_of, wh.log_in
web_config, write_other_fleet = wh.web_config, wh.write_other_fleet

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def web(
    db_url: str, week_outputs: Path, make_output: Any, tmp_path: Path
) -> Iterator[tuple[SqlStore, Any]]:
    cfg = web_config(tmp_path)
    store = build_store(db_url, week_outputs, write_other_fleet(make_output, tmp_path), cfg)
    yield store, create_app(store, cfg)
    store.close()


def _client(app: Any, user: str | None = None) -> TestClient:
    c = TestClient(app)
    if user is not None:
        r = log_in(c, user)
        assert r.status_code == 303, r.text
    return c


def _ids(store: SqlStore) -> dict[str, Any]:
    """A trip and an event with a clip of each fleet, and an event of another driver."""
    with store.unit_of_work() as uow:
        out: dict[str, Any] = {}
        for b in uow.trips.briefs():
            t = uow.trips.get(b.id)
            assert t is not None
            for e in t.events:
                key = (b.ids.fleet, b.ids.driver)
                if e.clip_path and ("clip", key[0]) not in out:
                    out["clip", key[0]] = e.id
                out.setdefault(("trip", key), b.id)
                out.setdefault(("event", key), e.id)
    return out


def test_login_and_every_page_renders(web: tuple[SqlStore, Any]) -> None:
    store, app = web
    anon = _client(app)
    r = anon.get("/fleets/tokyo-taxi", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert log_in(anon, "mgr-a", "wrong password").status_code == 401
    c = _client(app, "mgr-a")
    ids = _ids(store)
    home = c.get("/")
    assert home.status_code == 200 and "Drivers ranked" in home.text
    for name in ("D-careful", "D-average", "D-aggressive"):
        assert f"/fleets/tokyo-taxi/drivers/{name}" in home.text
    assert "Events per 1,000 km" in home.text and "Habitual risks" in home.text
    drv = c.get("/fleets/tokyo-taxi/drivers/D-aggressive")
    assert drv.status_code == 200 and "2026-W46" in drv.text and "2026-W47" in drv.text
    trip_id = ids["trip", ("tokyo-taxi", "D-aggressive")]
    trip = c.get(f"/trips/{trip_id}")
    assert trip.status_code == 200 and "leaflet.js" in trip.text and 'id="map"' in trip.text
    report = c.get("/fleets/tokyo-taxi/drivers/D-aggressive/report?week=2026-W47")
    assert report.status_code == 200 and "D-aggressive" in report.text
    q = c.get("/fleets/tokyo-taxi/review")
    assert q.status_code == 200 and 'data-part="queue"' in q.text
    clip = c.get(f"/events/{ids['clip', 'tokyo-taxi']}/clip")
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert clip.content[4:8] == b"ftyp"
    for asset in ("/static/htmx/htmx.min.js", "/static/leaflet/leaflet.js"):
        assert c.get(asset).status_code == 200


def test_manager_of_one_fleet_gets_404_for_the_other(web: tuple[SqlStore, Any]) -> None:
    store, app = web
    ids = _ids(store)
    c = _client(app, "mgr-b")
    for url in (
        "/fleets/tokyo-taxi",
        "/fleets/tokyo-taxi/review",
        "/fleets/tokyo-taxi/drivers/D-average",
        f"/trips/{ids['trip', ('tokyo-taxi', 'D-average')]}",
        f"/events/{ids['event', ('tokyo-taxi', 'D-average')]}",
        f"/events/{ids['clip', 'tokyo-taxi']}/clip",
        f"/events/{ids['clip', 'tokyo-taxi']}/snapshot",
        "/fleets/tokyo-taxi/false-positives.jsonl",
    ):
        assert c.get(url).status_code == 404, url
    page = c.get("/fleets/osaka-vans")
    csrf = csrf_of(page.text)
    r = c.post(
        f"/events/{ids['event', ('tokyo-taxi', 'D-average')]}/status",
        data={"status": "dismissed", "reason": "x", "csrf_token": csrf},
    )
    assert r.status_code == 404
    assert c.get(f"/events/{ids['clip', 'osaka-vans']}/clip").status_code == 200


def test_driver_sees_only_their_own(web: tuple[SqlStore, Any]) -> None:
    store, app = web
    ids = _ids(store)
    c = _client(app, "drv")
    home = c.get("/")
    assert home.url.path == "/fleets/tokyo-taxi/drivers/D-aggressive"
    assert "Add note" not in home.text  # read-only
    assert c.get(f"/trips/{ids['trip', ('tokyo-taxi', 'D-aggressive')]}").status_code == 200
    own_event = ids["event", ("tokyo-taxi", "D-aggressive")]
    page = c.get(f"/events/{own_event}")
    assert page.status_code == 200 and "New status" not in page.text
    for url in (
        "/fleets/tokyo-taxi",
        "/fleets/tokyo-taxi/review",
        "/fleets/tokyo-taxi/drivers/D-average",
        f"/trips/{ids['trip', ('tokyo-taxi', 'D-average')]}",
        f"/events/{ids['event', ('tokyo-taxi', 'D-average')]}",
    ):
        assert c.get(url).status_code == 404, url
    r = c.post(
        f"/events/{own_event}/status",
        data={"status": "dismissed", "reason": "not me", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 404


def _week_score(html: str) -> float:
    m = re.search(r'data-part="week-score">([0-9.]+)<', html)
    assert m, "no week score"
    return float(m.group(1))


def test_dismiss_needs_a_reason_and_moves_the_score_at_once(
    web: tuple[SqlStore, Any], tmp_path: Path
) -> None:
    store, app = web
    c = _client(app, "mgr-a")
    ids = _ids(store)
    event_id = ids["event", ("tokyo-taxi", "D-aggressive")]
    page = c.get(f"/events/{event_id}")
    before = _week_score(page.text)
    csrf = csrf_of(page.text)
    no_csrf = c.post(f"/events/{event_id}/status", data={"status": "reviewed"})
    assert no_csrf.status_code == 403
    refused = c.post(
        f"/events/{event_id}/status", data={"status": "dismissed", "reason": " ", "csrf_token": csrf}
    )
    assert refused.status_code == 422 and "needs a reason" in refused.text
    done = c.post(
        f"/events/{event_id}/status",
        data={"status": "dismissed", "reason": "pothole, not braking", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200
    after = _week_score(done.text)
    assert after > before + 1e-6, (before, after)
    assert 'data-part="score-change"' in done.text
    # the stored driver-week score moved too, and the fleet page shows the event gone
    with store.unit_of_work() as uow:
        ref = uow.web.event(event_id)
        stored = uow.scores.get("driver_week", "tokyo-taxi", "D-aggressive", ref.week)
    assert stored is not None and stored.score.value == pytest.approx(after, abs=0.051)
    # the stored trip score is what ingest would give the trip without the dismissed event
    with store.unit_of_work() as uow:
        trip = uow.trips.get(ref.trip_id)
        trip_stored = uow.scores.get("trip", "tokyo-taxi", trip.trip_key, ref.week)
    rules = app.state.config.scoring.rules()
    want = trip_score(trip.exposure(), rules)
    assert trip_stored.score.raw == pytest.approx(want.raw, abs=1e-3)
    assert trip_stored.score.n_events == want.n_events == len(trip.events) - 1
    log = c.get(f"/events/{event_id}").text
    assert "needs_review → dismissed: pothole, not braking" in log
    exported = c.get("/fleets/tokyo-taxi/false-positives.jsonl")
    rows = [json.loads(x) for x in exported.text.splitlines()]
    assert [r["event_id"] for r in rows] == [event_id]
    assert rows[0]["label"] == "false_positive" and rows[0]["reason"] == "pothole, not braking"
    assert Path(rows[0]["source"]).is_dir()
    # the lines are saferoad labels: a `normal` stretch where the dismissed detection was
    labels_file = tmp_path / "fp-labels.jsonl"
    labels_file.write_text(exported.text)
    (label,) = read_labels_jsonl(labels_file)
    assert label.type == "normal" and rows[0]["event_type"] == ref.type
    assert label.start_s == pytest.approx(rows[0]["start_s"]) and label.end_s >= label.start_s
    # back in: the score returns
    back = c.post(
        f"/events/{event_id}/status",
        data={"status": "needs_coaching", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert _week_score(back.text) == pytest.approx(before, abs=1e-6)


def test_queue_filters_and_priority_sort(web: tuple[SqlStore, Any]) -> None:
    _, app = web
    c = _client(app, "mgr-a")
    allq = c.get("/fleets/tokyo-taxi/review?status=&sort=priority", headers={"HX-Request": "true"})
    assert "<html" not in allq.text  # htmx gets the rows only
    n_all = allq.text.count("data-event=")
    assert n_all > 5
    only = c.get("/fleets/tokyo-taxi/review?status=&type=tailgating&driver=D-aggressive")
    rows = re.findall(r'<tr data-event="\d+">.*?</tr>', only.text, re.S)
    assert rows and all("Tailgating" in r and "D-aggressive" in r for r in rows)
    # the filter lists hold the fleet's types and drivers, the chosen ones selected
    assert '<option value="tailgating" selected>' in only.text
    assert "<option selected>D-aggressive</option>" in only.text
    ordered = re.findall(r"<td>([A-Z][^<]+)</td><td>(low|medium|high)</td>", allq.text)
    by_title = {spec.title: t for t, spec in SPECS.items()}
    keys = [review_order(by_title[t], sev)[:2] for t, sev in ordered]
    assert len(keys) == n_all and len(set(keys)) > 1
    assert keys == sorted(keys)  # priority class, then severity


def test_coaching_notes(web: tuple[SqlStore, Any]) -> None:
    _, app = web
    c = _client(app, "mgr-a")
    page = c.get("/fleets/tokyo-taxi/drivers/D-average")
    r = c.post(
        "/fleets/tokyo-taxi/drivers/D-average/notes",
        data={"text": "Talked about following distance.", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 200 and "Talked about following distance." in r.text
    drv = _client(app, "drv")
    assert drv.get("/fleets/tokyo-taxi/drivers/D-average").status_code == 404


def test_login_throttle(web: tuple[SqlStore, Any]) -> None:
    _, app = web
    c = _client(app)
    codes = [log_in(c, "mgr-a", "nope-nope").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert log_in(c, "mgr-a").status_code == 429  # even the right password, until the window ends
    clock = [0.0]
    t = LoginThrottle(2, 60.0, clock=lambda: clock[0])
    t.failed("k")
    t.failed("k")
    assert t.retry_after("k") == pytest.approx(60.0)
    clock[0] = 61.0
    assert t.retry_after("k") is None


def test_users_are_checked(web: tuple[SqlStore, Any]) -> None:
    store, _ = web
    with pytest.raises(ValueError, match="exists already"):
        add_user(store, "admin", "another-pass", "admin")
    with pytest.raises(ValueError, match="field 'password'"):
        add_user(store, "x", "short", "admin")
    with pytest.raises(ValueError, match="field 'fleet'"):
        add_user(store, "x", "long-enough", "manager")
    with pytest.raises(ValueError, match="field 'role'"):
        add_user(store, "x", "long-enough", "owner")


def test_migration_0002_matches_the_models_and_goes_both_ways(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from saferoad.adapters.sql import open_store
    from saferoad.adapters.sql.migrate import current_revision, downgrade, head_revision, upgrade
    from saferoad.adapters.sql.models import Base

    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        downgrade(store.engine, "0001")
        assert current_revision(store.engine) == "0001"
        upgrade(store.engine)
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()


def test_odd_requests_get_4xx_not_5xx(web: tuple[SqlStore, Any]) -> None:
    store, app = web
    c = TestClient(app, raise_server_exceptions=False)
    assert log_in(c, "admin").status_code == 303
    ids = _ids(store)
    event = ids["event", ("tokyo-taxi", "D-average")]
    odd = [
        "/fleets/tokyo-taxi?week=garbage",
        "/fleets/tokyo-taxi?week=2031-W01",
        "/fleets/nope",
        "/fleets/tokyo-taxi/drivers/D-average?week=2026-W99",
        "/fleets/tokyo-taxi/drivers/nobody",
        "/fleets/tokyo-taxi/drivers/D-average/report?week=bad",
        "/fleets/tokyo-taxi/drivers/D-average/report",
        "/fleets/tokyo-taxi/review?status=bogus&type=nap&sort=sideways",
        "/trips/999999",
        "/trips/abc",
        "/events/999999",
        "/events/-1/clip",
        "/login?next=//evil.example/",
    ]
    for url in odd:
        r = c.get(url, follow_redirects=False)
        assert r.status_code < 500, (url, r.status_code)
    csrf = csrf_of(c.get(f"/events/{event}").text)
    for data in (
        {"status": "bogus", "csrf_token": csrf},
        {"status": "dismissed", "reason": "x" * 600, "csrf_token": csrf},
        {"csrf_token": csrf},
    ):
        r = c.post(f"/events/{event}/status", data=data)
        assert 400 <= r.status_code < 500, (data, r.status_code)
    r = c.post("/fleets/tokyo-taxi/drivers/D-average/notes", data={"text": " ", "csrf_token": csrf})
    assert r.status_code == 422
    page = c.get("/login?next=//evil.example/")
    assert 'value="//evil.example/"' not in page.text  # no open redirect after login


def test_reanalysed_trip_keeps_its_review(web: tuple[SqlStore, Any], tmp_path: Path) -> None:
    import shutil

    from saferoad.application.web import change_status
    from saferoad.entrypoints.wiring import ingest_outputs

    store, app = web
    cfg = app.state.config
    ids = _ids(store)
    event_id = ids["event", ("tokyo-taxi", "D-aggressive")]
    with store.unit_of_work() as uow:
        ref = uow.web.event(event_id)
        admin = uow.web.user("admin")
    change_status(store, cfg, admin, event_id, "dismissed", "curb, not a swerve")
    with store.unit_of_work() as uow:
        before = uow.scores.get("driver_week", "tokyo-taxi", "D-aggressive", ref.week)
    copy = shutil.copytree(ref.trip_source, tmp_path / "reanalysed")
    summary = json.loads((copy / "summary.json").read_text())
    (copy / "summary.json").write_text(json.dumps({**summary, "note": "analysed again"}))
    res = ingest_outputs(store.unit_of_work, [copy], cfg)
    assert len(res.replaced) == 1
    with store.unit_of_work() as uow:
        trip = uow.trips.get(next(iter(res.trip_ids.values())))
        after = uow.scores.get("driver_week", "tokyo-taxi", "D-aggressive", ref.week)
    same = [e for e in trip.events if e.type == ref.type and abs(e.start_s - ref.start_s) < 1e-6]
    assert len(same) == 1
    assert (same[0].status, same[0].dismiss_reason) == ("dismissed", "curb, not a swerve")
    assert sum(e.status == "dismissed" for e in trip.events) == 1
    assert after.score.value == pytest.approx(before.score.value, abs=1e-6)


def test_users_and_devices_commands(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from saferoad.adapters.sql import open_store
    from saferoad.application.device_ingest import authenticate
    from saferoad.application.web import login
    from saferoad.entrypoints.cli.app import app as cli

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner().invoke
    ok = run(cli, ["users", "add", "maria", "--role", "manager", "--fleet", "f1", "--fleet",
                   "f2", "--password", "maria-pass", "--db", db])
    assert ok.exit_code == 0, ok.output
    bad = run(cli, ["users", "add", "x", "--role", "driver", "--password", "long-enough",
                    "--db", db])
    assert bad.exit_code != 0 and "--driver FLEET/DRIVER" in bad.output
    dev = run(cli, ["devices", "add", "SR-9", "--fleet", "f1", "--db", db])
    assert dev.exit_code == 0, dev.output
    token = dev.output.strip().splitlines()[-1]
    with open_store(db) as store:
        session = login(store, "maria", "maria-pass", 1.0)
        assert session is not None and session.user.fleets == ("f1", "f2")
        assert login(store, "maria", "wrong-pass", 1.0) is None
        assert authenticate(store, f"Bearer {token}").device == "SR-9"
