"""The web app in Debian's Chromium (Playwright drives the system browser; none is
downloaded), served by uvicorn on 127.0.0.1: log in, fleet -> driver -> trip -> play a clip;
dismiss an event with a reason and see the score change; a manager of another fleet gets 404;
a driver sees only their own.

With ``SAFEROAD_WEB_SCREENSHOTS=DIR`` each page is saved as ``DIR/<page>.png`` (``make
web-screenshots`` refreshes docs/web/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.sql.store import SqlStore
from saferoad.entrypoints.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


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
SHOTS = os.environ.get("SAFEROAD_WEB_SCREENSHOTS")


@pytest.fixture(scope="module")
def chromium_bin() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: scripts/system-deps.sh installs it")
        pytest.skip("chromium not installed (scripts/system-deps.sh)")
    return found


@pytest.fixture(scope="module")
def site(
    week_outputs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SqlStore, str]]:
    tmp = tmp_path_factory.mktemp("web-browser")
    outputs = wh.browser_outputs(week_outputs, tmp / "outputs")
    other = wh.write_analyze_output(tmp / "osaka", **wh.OTHER_FLEET)
    cfg = wh.web_config(tmp)
    store = wh.build_store(f"sqlite:///{tmp / 'web.db'}", outputs, other, cfg)
    with wh.serve(create_app(store, cfg)) as base:
        yield store, base
    store.close()


@pytest.fixture(scope="module")
def browser(chromium_bin: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(
        executable_path=chromium_bin,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    yield b
    b.close()
    pw.stop()


def _page(browser: Any, base: str, user: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    page = ctx.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url)
        if not r.url.startswith((base, "data:", "blob:"))
        else None,
    )
    page.outside = outside
    page.goto("/login")
    _shot(page, "login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", wh.PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    return page


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _clip_trip(store: SqlStore) -> tuple[int, int, int]:
    """(trip id, event id with a clip, an event without a clip) of D-aggressive in W47."""
    with store.unit_of_work() as uow:
        for b in uow.trips.briefs("tokyo-taxi", "2026-W47", "D-aggressive"):
            t = uow.trips.get(b.id)
            assert t is not None
            clips = [e for e in t.events if e.clip_path]
            plain = [e for e in t.events if not e.clip_path]
            if clips and plain:
                return b.id, int(clips[0].id or 0), int(plain[0].id or 0)
    raise AssertionError("no W47 trip of D-aggressive with a clip and a plain event")


def test_manager_walks_fleet_driver_trip_and_plays_a_clip(browser: Any, site: Any) -> None:
    store, base = site
    trip_id, clip_event, _ = _clip_trip(store)
    page = _page(browser, base, "mgr-a")
    assert page.url.endswith("/fleets/tokyo-taxi")
    assert page.locator("[data-part=ranking] tr").count() == 4  # header + 3 drivers
    _shot(page, "fleet")
    page.click("[data-part=ranking] a:text('D-aggressive')")
    page.wait_for_load_state("load")
    assert "/fleets/tokyo-taxi/drivers/D-aggressive" in page.url
    assert page.locator("[data-part=weekly-scores] tr").count() == 3  # header + 2 weeks
    _shot(page, "driver")
    # The PDF is rendered by a second Chromium on the server; at load 8 on 2 cores (a check run
    # beside other work) it ran past Playwright's 30 s default request timeout
    pdf = page.request.get(page.locator("[data-part=weekly-report-pdf]").get_attribute("href"), timeout=120_000)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    assert page.request.get(base + "/").headers["x-frame-options"] == "DENY"
    page.click(f"[data-part=trips] a[href='/trips/{trip_id}']")
    page.wait_for_load_state("load")
    page.wait_for_selector("#map path.leaflet-interactive")
    n_paths = page.locator("#map path.leaflet-interactive").count()
    assert n_paths >= 3  # the route, start and end (and events with a position)
    assert page.locator("img[data-part=speed]").evaluate("i => i.naturalWidth") > 0
    video = page.locator(f"#event-{clip_event} video")
    video.scroll_into_view_if_needed()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "v => v.currentTime > 0.3 && v.videoWidth > 0", arg=video.element_handle(), timeout=15000
    )
    assert video.evaluate("v => v.error") is None
    _shot(page, "trip")
    assert page.outside == []  # nothing fetched from the internet (no CDN, no tiles)


def test_dismissing_an_event_moves_the_score(browser: Any, site: Any) -> None:
    store, base = site
    _, _, event_id = _clip_trip(store)
    page = _page(browser, base, "mgr-a")
    page.goto("/fleets/tokyo-taxi/review")
    page.select_option("select[name=driver]", "D-aggressive")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-part=queue] tr[data-event]')]"
        ".every(r => r.textContent.includes('D-aggressive'))"
    )
    _shot(page, "review")
    page.goto(f"/events/{event_id}")
    before = float(page.locator("[data-part=week-score]").inner_text())
    page.select_option("select[name=status]", "dismissed")
    page.click("#panel button[type=submit]")
    page.wait_for_selector("#panel [role=alert]")
    assert "needs a reason" in page.locator("#panel [role=alert]").inner_text()
    page.select_option("select[name=status]", "dismissed")
    page.fill("input[name=reason]", "speed bump, not harsh braking")
    page.click("#panel button[type=submit]")
    page.wait_for_selector("[data-part=score-change]")
    after = float(page.locator("[data-part=week-score]").inner_text())
    assert after > before
    assert "speed bump" in page.locator("[data-part=activity]").inner_text()
    _shot(page, "event")
    page.goto("/fleets/tokyo-taxi/drivers/D-aggressive")
    shown = float(page.locator("[data-part=driver-score]").inner_text())
    assert shown == pytest.approx(after, abs=0.051)


def test_manager_of_fleet_b_gets_404_for_fleet_a(browser: Any, site: Any) -> None:
    store, base = site
    trip_id, clip_event, _ = _clip_trip(store)
    page = _page(browser, base, "mgr-b")
    assert page.url.endswith("/fleets/osaka-vans")
    for url in (
        "/fleets/tokyo-taxi",
        f"/trips/{trip_id}",
        f"/events/{clip_event}",
        f"/events/{clip_event}/clip",
    ):
        assert page.goto(url).status == 404, url
    assert "Not found" in page.content()


def test_driver_sees_only_their_own(browser: Any, site: Any) -> None:
    store, base = site
    trip_id, _, _ = _clip_trip(store)
    page = _page(browser, base, "drv")
    assert page.url.endswith("/fleets/tokyo-taxi/drivers/D-aggressive")
    assert page.locator("textarea").count() == 0  # read-only: no coaching form
    _shot(page, "driver-own-view")
    assert page.goto(f"/trips/{trip_id}").status == 200
    with store.unit_of_work() as uow:
        others = uow.trips.briefs("tokyo-taxi", "2026-W47", "D-careful")
    for url in ("/fleets/tokyo-taxi", "/fleets/tokyo-taxi/drivers/D-careful",
                f"/trips/{others[0].id}", "/fleets/tokyo-taxi/review"):
        assert page.goto(url).status == 404, url
