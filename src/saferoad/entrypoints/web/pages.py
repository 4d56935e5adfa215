"""The HTML pages: login, fleet overview, driver, trip, review queue, event, media.

Each route checks the session, then asks a use case; what the user may not see is a 404.
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from saferoad.adapters.reports import plots
from saferoad.adapters.reports.render import render_html
from saferoad.application import web as uc
from saferoad.application.report import (
    ReportError,
    driver_week_context,
    fleet_context,
    trip_context,
    write,
)
from saferoad.domain.review import ReviewError, ReviewStatus, review_order
from saferoad.domain.scoring import safety_score, trip_score
from saferoad.entrypoints.web.common import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    CsrfFailed,
    check_csrf,
    config_of,
    current_user,
    render,
    store_of,
)
from saferoad.entrypoints.wiring import report_ports
from saferoad.ports.web import EventRef, UserInfo

router = APIRouter(include_in_schema=False)
QUEUE_LIMIT = 1000
"""The review queue sorts the newest this many events that match its filters."""


# --- login ---------------------------------------------------------------------------------


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html.j2", None, token, next=_safe_next(next), error=None)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return resp


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return HTMLResponse("CSRF check failed: reload the login page", status_code=403)
    throttle: uc.LoginThrottle = request.app.state.throttle
    client = request.client.host if request.client else "?"
    key = f"{username.strip().lower()}|{client}"
    wait = throttle.retry_after(key)
    if wait is not None:
        resp = render(
            request,
            "login.html.j2",
            None,
            csrf_token,
            next=_safe_next(next),
            error=f"Too many failed logins: try again in {wait / 60:.0f} min.",
        )
        resp.status_code = 429
        resp.headers["Retry-After"] = str(int(wait))
        return resp
    cfg = config_of(request)
    done = uc.login(store_of(request), username.strip(), password, cfg.web.session_hours)
    if done is None:
        throttle.failed(key)
        resp = render(
            request,
            "login.html.j2",
            None,
            csrf_token,
            next=_safe_next(next),
            error="Wrong user name or password.",
        )
        resp.status_code = 401
        return resp
    throttle.succeeded(key)
    out = RedirectResponse(_safe_next(next), status_code=303)
    out.set_cookie(
        COOKIE,
        done.token,
        max_age=int(cfg.web.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=cfg.web.cookie_secure,
    )
    out.delete_cookie(LOGIN_CSRF_COOKIE)
    return out


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    _user, csrf = current_user(request)
    _csrf(request, csrf, csrf_token)
    uc.logout(store_of(request), request.cookies.get(COOKIE, ""))
    out = RedirectResponse("/login", status_code=303)
    out.delete_cookie(COOKIE)
    return out


def _csrf(request: Request, csrf: str, sent: str | None) -> None:
    try:
        check_csrf(request, csrf, sent)
    except CsrfFailed:
        raise CsrfForbidden from None


class CsrfForbidden(Exception):
    """A POST without the session's CSRF token (answered 403)."""


# --- home and fleets -----------------------------------------------------------------------


def _fleets(request: Request, user: UserInfo) -> list[str]:
    with store_of(request).unit_of_work() as uow:
        known = uow.trips.fleets()
    return [f for f in known if user.sees_fleet(f)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    user, csrf = current_user(request)
    if user.role == "driver":
        return RedirectResponse(f"/fleets/{user.driver_fleet}/drivers/{user.driver_code}", 303)
    fleets = _fleets(request, user)
    if len(fleets) == 1:
        return RedirectResponse(f"/fleets/{fleets[0]}", 303)
    return render(request, "fleets.html.j2", user, csrf, fleets=fleets)


def _need_fleet(user: UserInfo, fleet: str) -> None:
    if not user.sees_fleet(fleet):
        raise uc.NotFound(f"fleet {fleet}")


@router.get("/fleets/{fleet}", response_class=HTMLResponse)
def fleet_page(request: Request, fleet: str, week: str | None = None) -> Response:
    user, csrf = current_user(request)
    _need_fleet(user, fleet)
    try:
        ctx = fleet_context(store_of(request), config_of(request), fleet, week, ports=report_ports())
    except ValueError as err:  # ReportError (no trips that week) or a malformed week
        raise uc.NotFound(str(err)) from None
    with store_of(request).unit_of_work() as uow:
        weeks = uow.trips.weeks(fleet)
        open_n = len(uc.web_repo(uow).events([fleet], status=ReviewStatus.NEEDS_REVIEW.value))
    return render(request, "fleet.html.j2", user, csrf, r=ctx, weeks=weeks, open_n=open_n)


@router.get("/fleets/{fleet}/false-positives.jsonl")
def false_positives(request: Request, fleet: str) -> Response:
    user, _ = current_user(request)
    rows = uc.false_positives(store_of(request), user, fleet)
    body = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    return Response(
        body,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{fleet}-false-positives.jsonl"'},
    )


# --- drivers -------------------------------------------------------------------------------


@router.get("/fleets/{fleet}/drivers/{driver}", response_class=HTMLResponse)
def driver_page(request: Request, fleet: str, driver: str, week: str | None = None) -> Response:
    user, csrf = current_user(request)
    if not user.sees_driver(fleet, driver):
        raise uc.NotFound(f"driver {fleet}/{driver}")
    ctx = uc.driver_overview(store_of(request), config_of(request), fleet, driver, week, plots.score_trend)
    if ctx is None:
        raise uc.NotFound(f"driver {fleet}/{driver}")
    with store_of(request).unit_of_work() as uow:
        events = uc.web_repo(uow).events([fleet], driver=driver, limit=200)
        notes = uc.web_repo(uow).notes(fleet, driver)
    return render(
        request,
        "driver.html.j2",
        user,
        csrf,
        r=ctx,
        week=ctx["week"],
        events=events,
        notes=notes,
        fleet=fleet,
        driver=driver,
    )


@router.get("/fleets/{fleet}/drivers/{driver}/report", response_class=HTMLResponse)
def driver_report(request: Request, fleet: str, driver: str, week: str) -> Response:
    user, _ = current_user(request)
    if not user.sees_driver(fleet, driver):
        raise uc.NotFound(f"driver {fleet}/{driver}")
    try:
        ctx = driver_week_context(store_of(request), config_of(request), driver, week, fleet, ports=report_ports())
    except (ReportError, ValueError) as err:
        raise uc.NotFound(str(err)) from None
    return HTMLResponse(render_html("driver_week.html.j2", ctx))


@router.get("/fleets/{fleet}/drivers/{driver}/report.pdf")
def driver_report_pdf(request: Request, fleet: str, driver: str, week: str) -> Response:
    """The weekly report as PDF (printed by headless Chromium, as `saferoad report` does)."""
    user, _ = current_user(request)
    if not user.sees_driver(fleet, driver):
        raise uc.NotFound(f"driver {fleet}/{driver}")
    try:
        ctx = driver_week_context(store_of(request), config_of(request), driver, week, fleet, ports=report_ports())
    except (ReportError, ValueError) as err:
        raise uc.NotFound(str(err)) from None
    with tempfile.TemporaryDirectory(prefix="saferoad-web-pdf-") as d:
        pdf = write(ctx, FsPath(d) / "report.pdf", ports=report_ports()).read_bytes()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{driver}-{week}.pdf"'},
    )


@router.post("/fleets/{fleet}/drivers/{driver}/notes", response_class=HTMLResponse)
def add_note(
    request: Request,
    fleet: str,
    driver: str,
    text: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    event_id: Annotated[int | None, Form()] = None,
) -> Response:
    user, csrf = current_user(request)
    _csrf(request, csrf, csrf_token)
    if not user.sees_driver(fleet, driver):
        raise uc.NotFound(f"driver {fleet}/{driver}")
    try:
        uc.add_note(store_of(request), user, fleet, driver, text, event_id)
    except ValueError as err:
        return HTMLResponse(str(err), status_code=422)
    back = f"/events/{event_id}" if event_id else f"/fleets/{fleet}/drivers/{driver}"
    return RedirectResponse(back, status_code=303)


# --- trips and media -----------------------------------------------------------------------


@router.get("/trips/{trip_id}", response_class=HTMLResponse)
def trip_page(request: Request, trip_id: int) -> Response:
    user, csrf = current_user(request)
    with store_of(request).unit_of_work() as uow:
        record = uow.trips.get(trip_id)
    if record is None or not user.sees_driver(record.ids.fleet, record.ids.driver):
        raise uc.NotFound(f"trip {trip_id}")
    ctx = trip_context(store_of(request), config_of(request), trip_id, ports=report_ports())
    events = [
        {**view, "id": ev.id, "status": ev.status}
        for view, ev in zip(ctx["trip"]["events"], record.events, strict=True)
    ]
    markers = [
        {
            "lat": e["lat"],
            "lon": e["lon"],
            "title": e["title"],
            "id": e["id"],
            "colour": e["colour"],
        }
        for e in events
        if e["lat"] is not None and e["lon"] is not None
    ]
    return render(
        request,
        "trip.html.j2",
        user,
        csrf,
        r=ctx,
        events=events,
        route_json=json.dumps(record.route),
        markers_json=json.dumps(markers),
    )


def _media(request: Request, event_id: int, kind: str) -> Response:
    user, _ = current_user(request)
    with store_of(request).unit_of_work() as uow:
        ref = uc.visible_event(uow, user, event_id)
    path = ref.clip_path if kind == "clip" else ref.snapshot_path
    if not path or not FsPath(path).is_file():
        raise uc.NotFound(f"{kind} of event {event_id}")
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return FileResponse(path, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/events/{event_id}/clip")
def event_clip(request: Request, event_id: int) -> Response:
    return _media(request, event_id, "clip")


@router.get("/events/{event_id}/snapshot")
def event_snapshot(request: Request, event_id: int) -> Response:
    return _media(request, event_id, "snapshot")


# --- review --------------------------------------------------------------------------------


def _sorted(events: list[EventRef], sort: str) -> list[EventRef]:
    if sort == "newest":
        return sorted(events, key=lambda e: (-e.start_utc.timestamp(), -e.id))
    return sorted(
        events, key=lambda e: (*review_order(e.type, e.severity), -e.start_utc.timestamp(), -e.id)
    )


@router.get("/fleets/{fleet}/review", response_class=HTMLResponse)
def review_queue(
    request: Request,
    fleet: str,
    status: Annotated[str, Query()] = "needs_review",
    type: Annotated[str, Query()] = "",
    driver: Annotated[str, Query()] = "",
    sort: Annotated[str, Query()] = "priority",
) -> Response:
    user, csrf = current_user(request)
    _need_fleet(user, fleet)
    with store_of(request).unit_of_work() as uow:
        events = uc.web_repo(uow).events(
            [fleet],
            status=status or None,
            event_type=type or None,
            driver=driver or None,
            limit=QUEUE_LIMIT,
        )
        partial = bool(request.headers.get("HX-Request"))  # the rows only: no filter lists
        types, drivers = ([], []) if partial else uc.web_repo(uow).event_facets(fleet)
    ctx = {
        "fleet": fleet,
        "events": _sorted(events, sort),
        "f": {"status": status, "type": type, "driver": driver, "sort": sort},
        "types": types,
        "drivers": drivers,
        "limit": QUEUE_LIMIT,
    }
    name = "review_rows.html.j2" if partial else "review.html.j2"
    return render(request, name, user, csrf, **ctx)


def _event_ctx(request: Request, user: UserInfo, event_id: int) -> dict[str, Any]:
    rules = config_of(request).scoring.rules()
    with store_of(request).unit_of_work() as uow:
        ref = uc.visible_event(uow, user, event_id)
        activity = uc.web_repo(uow).activity(event_id)
        exp = uow.trips.exposures(ref.fleet, ref.week).get(ref.driver)
        trip_exp = uc.web_repo(uow).trip_exposure(ref.trip_id)
    week_score = safety_score(exp, rules) if exp is not None else None
    return {
        "e": ref,
        "activity": activity,
        "week_score": week_score,
        "trip_score": trip_score(trip_exp, rules),
    }


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: int) -> Response:
    user, csrf = current_user(request)
    return render(request, "event.html.j2", user, csrf, **_event_ctx(request, user, event_id))


@router.post("/events/{event_id}/status", response_class=HTMLResponse)
def event_status(
    request: Request,
    event_id: int,
    status: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    user, csrf = current_user(request)
    _csrf(request, csrf, csrf_token)
    before = _event_ctx(request, user, event_id)
    error = None
    try:
        uc.change_status(store_of(request), config_of(request), user, event_id, status, reason)
    except ReviewError as err:
        error = str(err)
    ctx = _event_ctx(request, user, event_id)
    ctx.update(error=error, before=before["week_score"])
    if request.headers.get("HX-Request"):
        # 200 even for a refused change: htmx swaps only 2xx answers, and the panel shows why
        return render(request, "event_panel.html.j2", user, csrf, **ctx)
    if error:
        resp = render(request, "event.html.j2", user, csrf, **ctx)
        resp.status_code = 422
        return resp
    return RedirectResponse(f"/events/{event_id}", status_code=303)
