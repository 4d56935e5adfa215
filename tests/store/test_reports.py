"""Reports: rendered in headless Chromium and checked for their parts; PDFs as page images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from saferoad.adapters.sql import open_store
from saferoad.adapters.sql.store import SqlStore
from saferoad.application import report as rep
from saferoad.config import load_config
from saferoad.domain.scoring import safety_score
from saferoad.entrypoints import wiring
from saferoad.entrypoints.wiring import find_outputs, ingest_outputs, report_ports

CFG = load_config(overrides={"scoring": {"min_distance_km": 50.0}})


@pytest.fixture(scope="module")
def chromium_bin() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: scripts/system-deps.sh installs it")
        pytest.skip("chromium not installed (scripts/system-deps.sh)")
    return found


@pytest.fixture(scope="module")
def fleet_store(week_outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    db = tmp_path_factory.mktemp("reports") / "fleet.db"
    store = open_store(f"sqlite:///{db}")
    ingest_outputs(store.unit_of_work, find_outputs(week_outputs), CFG)
    yield store
    store.close()


def _open(chromium: str, html: Path) -> Any:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=chromium,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    return pw, browser, page


def _all_images_decoded(page: Any) -> None:
    sizes = page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
    )
    assert sizes, "no images"
    broken = [alt for alt, complete, width in sizes if not complete or width == 0]
    assert not broken, f"images that did not decode: {broken}"


def _week_events(week_outputs: Path, driver: str, day_tag: str) -> list[dict[str, Any]]:
    events = []
    for o in find_outputs(week_outputs):
        summary = json.loads((o / "summary.json").read_text())
        if summary["meta"]["driver_id"] == driver and day_tag in o.name:
            events += [json.loads(x) for x in (o / "events.jsonl").read_text().splitlines() if x]
    return events


@pytest.mark.browser
def test_driver_week_report_in_chromium(
    fleet_store: SqlStore, chromium_bin: str, week_outputs: Path, tmp_path: Path
) -> None:
    ctx = rep.driver_week_context(fleet_store, CFG, "D-average", "2026-W47", ports=report_ports())
    html = rep.write(ctx, tmp_path / "driver.html", ports=report_ports())
    expected = _week_events(week_outputs, "D-average", "2026-11-16")
    with fleet_store.unit_of_work() as uow:
        exp = uow.trips.exposures("tokyo-taxi", "2026-W47")["D-average"]
    score = safety_score(exp, CFG.scoring.rules())
    pw, browser, page = _open(chromium_bin, html)
    try:
        for part in (
            "summary",
            "score",
            "trend",
            "habits",
            "trend-chart",
            "events-vs-fleet",
            "week",
            "trips",
            "trip",
            "route-map",
            "speed-profile",
            "timeline",
        ):
            assert page.locator(f"[data-part='{part}']").count() >= 1, part
        shown = page.locator("[data-part='score'] .v").inner_text()
        assert shown == f"{score.value:.0f}"
        cards = page.locator("[data-part='event']")
        n_detailed = sum(t["n_events"] for t in ctx["detailed_trips"])
        assert cards.count() == n_detailed == len(expected)
        with_video = [e for e in expected if e["evidence"].get("snapshot")]
        assert page.locator("[data-part='snapshot']").count() == len(with_video) > 0
        views = [e for t in ctx["detailed_trips"] for e in t["events"]]
        plotted = [e for e in views if not e["snapshot"] and e["n"] <= rep.MAX_EVENT_PLOTS]
        assert page.locator("[data-part='event-plot']").count() == len(plotted) > 0
        hrefs = page.eval_on_selector_all("[data-part='clip']", "els => els.map(e => e.href)")
        assert len(hrefs) == len(with_video)
        assert all(h.startswith("file://") and Path(h[7:]).is_file() for h in hrefs)
        times = page.locator("[data-part='event-time']").all_inner_texts()
        assert all("JST" in t for t in times)  # local time of Asia/Tokyo
        habits = page.locator("[data-part='habits'] li").all_inner_texts()
        assert habits == [h["sentence"] for h in ctx["habits"]]
        _all_images_decoded(page)
        page.screenshot(path=str(tmp_path / "driver.png"), full_page=True)
    finally:
        browser.close()
        pw.stop()
    img = np.asarray(Image.open(tmp_path / "driver.png").convert("L"))
    assert img.shape[0] > 2000 and img.std() > 20


@pytest.mark.browser
def test_trip_and_fleet_reports_in_chromium(
    fleet_store: SqlStore, chromium_bin: str, tmp_path: Path
) -> None:
    with fleet_store.unit_of_work() as uow:
        briefs = uow.trips.briefs("tokyo-taxi", "2026-W47", "D-aggressive")
    trip = max(briefs, key=lambda b: b.n_events)
    html = rep.write(rep.trip_context(fleet_store, CFG, str(trip.id), ports=report_ports()), tmp_path / "trip.html", ports=report_ports())
    fleet_html = rep.write(rep.fleet_context(fleet_store, CFG, "tokyo-taxi", ports=report_ports()), tmp_path / "f.html", ports=report_ports())
    pw, browser, page = _open(chromium_bin, html)
    try:
        for part in ("route-map", "speed-profile", "timeline", "events-vs-fleet", "habits"):
            assert page.locator(f"[data-part='{part}']").count() == 1, part
        assert page.locator("[data-part='event']").count() == trip.n_events
        assert page.locator("[data-part='only-trip']").count() == 0  # a fleet of many trips
        _all_images_decoded(page)
        page.goto(fleet_html.resolve().as_uri())
        rows = page.locator("[data-part='drivers'] tr").all_inner_texts()[1:]
        assert [r.split()[1] for r in rows] == ["D-careful", "D-average", "D-aggressive"]
        for part in ("ranking", "heatmap", "trend-chart", "types"):
            assert page.locator(f"[data-part='{part}']").count() == 1, part
        _all_images_decoded(page)
    finally:
        browser.close()
        pw.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_pdf_pages_are_not_blank(fleet_store: SqlStore, chromium_bin: str, tmp_path: Path) -> None:
    ctx = rep.driver_week_context(fleet_store, CFG, "D-average", "2026-W47", ports=report_ports())
    pdf = rep.write(ctx, tmp_path / "report.pdf", ports=report_ports())
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    # the summary, the week and its trips, then each trip with events starts a new page
    n_trips = len(ctx["detailed_trips"])
    assert n_trips >= 3
    assert 1 + n_trips <= len(pages) <= 3 + 2 * n_trips
    for p in pages:
        g = np.asarray(Image.open(p).convert("L"), dtype=float)
        inked = float((g < 200).mean())
        assert inked > 0.01, f"{p.name} is blank ({inked:.4f} of pixels inked)"


def test_trip_report_from_output(make_output: Any, tmp_path: Path) -> None:
    out = make_output(tmp_path / "trip", style="aggressive", seed=11)
    html = wiring.trip_report_from_output(out, tmp_path / "report" / "trip.html")
    text = html.read_text()
    for part in ("route-map", "speed-profile", "timeline", "habits"):
        assert f'data-part="{part}"' in text
    n = len((out / "events.jsonl").read_text().splitlines())
    assert text.count('data-part="event"') == n
    assert "Points lost to:" in text  # a scored trip says what cost it points
    assert 'data-part="only-trip"' in text  # the store holds this trip alone


def test_unscored_trip_report_gives_the_reason_not_points_lost(make_output: Any, tmp_path: Path) -> None:
    """Two minutes are too few kilometres for a score: the report says so, and lists no
    "points lost" (the per-1,000-km rates of a short trip would read as hundreds of points)."""
    import numpy as np

    from .conftest import style_events

    events = style_events("aggressive", np.random.default_rng(11), 1200.0, 0)[:3]
    for i, ev in enumerate(events):  # the first three of an aggressive trip, in two minutes
        ev["start_s"], ev["end_s"] = 10.0 + 30.0 * i, 12.0 + 30.0 * i
    out = make_output(tmp_path / "trip", seed=11, duration_s=120.0, events=events)
    text = wiring.trip_report_from_output(out, tmp_path / "report" / "trip.html").read_text()
    assert text.count('data-part="event"') == 3
    assert "km needed for a score" in text
    assert "Points lost" not in text


def test_report_errors_are_plain(fleet_store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(rep.ReportError, match="no trips in the store"):
        rep.driver_week_context(fleet_store, CFG, "D-nobody", "2026-W47", ports=report_ports())
    with pytest.raises(
        rep.ReportError, match=r"no trips in 2026-W30 \(weeks with trips: 2026-W46, 2026-W47\)"
    ):
        rep.driver_week_context(fleet_store, CFG, "D-careful", "2026-W30", ports=report_ports())
    with pytest.raises(ValueError, match="expected an ISO week"):
        rep.driver_week_context(fleet_store, CFG, "D-careful", "47", ports=report_ports())
    with pytest.raises(ValueError, match=r"must end in \.html or \.pdf"):
        rep.write(rep.fleet_context(fleet_store, CFG, "tokyo-taxi", ports=report_ports()), tmp_path / "r.docx", ports=report_ports())


def test_report_cli(fleet_store: SqlStore, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from saferoad.entrypoints.cli.app import app

    db = str(fleet_store.engine.url)
    ok = CliRunner().invoke(
        app,
        [
            "report",
            "--fleet",
            "tokyo-taxi",
            "--week",
            "2026-W47",
            "-o",
            str(tmp_path / "f.html"),
            "--db",
            db,
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "f.html").stat().st_size > 10_000
    bad = CliRunner().invoke(
        app, ["report", "--driver", "D-careful", "-o", str(tmp_path / "x.html"), "--db", db]
    )
    assert bad.exit_code == 2 and "--week" in bad.output
    listing = CliRunner().invoke(app, ["trips", "--driver", "D-careful", "--db", db])
    assert listing.exit_code == 0 and listing.output.count("D-careful") == 12


def test_fleet_week_snapshot(fleet_store: SqlStore, approx_snapshot: Any) -> None:
    """Scores, ranks and habits of the synthetic week must not change silently."""
    ctx = rep.fleet_context(fleet_store, CFG, "tokyo-taxi", "2026-W47", ports=report_ports())
    rows = [
        {
            "driver": d["driver"],
            "rank": d["rank"],
            "score": None if d["score"]["value"] is None else round(d["score"]["value"], 4),
            "km": round(d["distance_km"], 4),
            "events": d["n_events"],
            "habit": d["habit"],
        }
        for d in ctx["drivers"]
    ]
    assert rows == approx_snapshot(keys={"score": 0.02, "km": 0.01})


def _event(etype: str, peak: dict[str, Any], evidence: dict[str, Any] | None = None, speed: float | None = None) -> Any:
    from datetime import UTC, datetime

    from saferoad.ports.store import EventRecord

    return EventRecord(
        seq=0, type=etype, start_s=10.0, end_s=12.5, start_utc=datetime(2026, 11, 17, tzinfo=UTC),
        severity="medium", confidence=0.9,
        direction=None, lat=None, lon=None, speed_mps=speed, peak=peak, evidence=evidence or {},
        clip_path=None, snapshot_path=None,
    )


@pytest.mark.parametrize(
    ("event", "figures"),
    [
        (
            _event("harsh_braking", {"accel_mps2": -5.0, "accel_g": -0.51, "t_s": 52.4, "speed_mps": 16.15, "yaw_rate_dps": 0.1}, {"threshold_g": 0.38, "mode": "signed"}),
            [("peak", "0.51 g"), ("speed", "58 km/h"), ("threshold", "0.38 g"), ("duration", "2.5 s")],
        ),
        (
            _event("rolling_stop", {"min_speed_mps": 3.335, "approach_speed_mps": 13.58}, {"key_frame": 140, "frames_seen": 70, "first_seen_s": 52.9}),
            [("slowest", "12 km/h"), ("approach speed", "49 km/h"), ("duration", "2.5 s")],
        ),
        (
            _event("drowsiness", {"longest_closure_s": 0.8, "perclos": 0.314}, {"slow_closures": 4, "trigger": "perclos", "face_ok": True}, speed=20.0),
            [("longest closure", "0.8 s"), ("PERCLOS", "31%"), ("slow eye closures", "4"), ("speed", "72 km/h"), ("duration", "2.5 s")],
        ),
        (
            _event("tailgating", {"min_headway_s": 0.499, "distance_m_at_min": 9.03, "speed_mps_at_min": 18.1}, {"min_headway_s": 0.6, "speed_mps": 19.0}),
            [("headway", "0.50 s"), ("gap", "9.0 m"), ("speed", "65 km/h"), ("duration", "2.5 s")],
        ),
    ],
    ids=["braking", "rolling_stop", "drowsiness", "tailgating"],
)
def test_key_figures_are_labelled_with_units_and_skip_internals(event: Any, figures: list[tuple[str, str]]) -> None:
    """Times, frame numbers, yaw diagnostics and flags stay in events.jsonl; each label once
    (the peak's value wins over the evidence's); speeds in km/h, PERCLOS in percent."""
    assert rep.key_figures(event) == figures
