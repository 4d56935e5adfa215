"""Use cases of the web app: users and login sessions, the review queue (status changes that
move the score at once), coaching notes, the export of dismissed events as labelled false
positives, and device tokens for the ingest API.

Access rules live in :class:`saferoad.ports.web.UserInfo`; a use case asked for something the
user may not see raises :class:`NotFound` (the web answers 404, never 403, so that another
fleet's ids are not even confirmed to exist).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pwdlib import PasswordHash

from saferoad.application.ingest import _score_record, scoring_fingerprint
from saferoad.config import SaferoadConfig
from saferoad.domain.review import ReviewStatus, check_change, parse_status
from saferoad.domain.scoring import (
    habitual_risks,
    previous_week,
    rank,
    safety_score,
    total,
    trip_score,
)
from saferoad.domain.scoring import trend as week_trend
from saferoad.ports.charts import ScoreTrendChart
from saferoad.ports.store import Store, UnitOfWork
from saferoad.ports.web import ROLES, EventRef, UserInfo, WebRepository

_HASHER: PasswordHash | None = None
MIN_PASSWORD_CHARS = 8
"""NIST SP 800-63B 5.1.1.1: memorized secrets of at least 8 characters."""


class NotFound(LookupError):
    """Not there, or not for this user's eyes (both answered 404)."""


def hasher() -> PasswordHash:
    global _HASHER
    if _HASHER is None:
        _HASHER = PasswordHash.recommended()  # Argon2id with pwdlib's default parameters
    return _HASHER


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def web_repo(uow: UnitOfWork) -> WebRepository:
    """The unit of work's web repository (``ports.web.WebRepository``), typed."""
    web = getattr(uow, "web", None)
    if web is None:
        raise TypeError("this store has no web repository")
    return cast(WebRepository, web)


# --- users and sessions ------------------------------------------------------------------------


def add_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    *,
    fleets: tuple[str, ...] = (),
    driver: str | None = None,
) -> int:
    """Create a user. A manager needs ``fleets``; a driver needs ``driver`` as ``FLEET/CODE``."""
    username = username.strip()
    if not username or len(username) > 128:
        raise ValueError("field 'username': 1 to 128 characters")
    if role not in ROLES:
        raise ValueError(f"field 'role': {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"field 'password': at least {MIN_PASSWORD_CHARS} characters")
    driver_fleet = driver_code = None
    if role == "manager" and not fleets:
        raise ValueError("field 'fleet': a manager needs at least one fleet")
    if role == "driver":
        if not driver or "/" not in driver:
            raise ValueError("field 'driver': a driver user needs --driver FLEET/DRIVER")
        driver_fleet, driver_code = (p.strip() for p in driver.split("/", 1))
    with store.unit_of_work() as uow:
        uid: int = web_repo(uow).add_user(
            username, hasher().hash(password), role, tuple(fleets), driver_fleet, driver_code
        )
        uow.commit()
    return uid


@dataclass(frozen=True)
class Login:
    token: str
    csrf: str
    user: UserInfo
    expires_at: dt.datetime


def login(store: Store, username: str, password: str, hours: float) -> Login | None:
    """A new session for a right password, else ``None`` (the same time is spent hashing when
    the user does not exist, so timing does not tell which)."""
    with store.unit_of_work() as uow:
        web = web_repo(uow)
        user: UserInfo | None = web.user(username)
        if user is None:
            hasher().verify(password, _dummy_hash())
            return None
        if not hasher().verify(password, user.password_hash):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
        web.add_session(token_sha256(token), user.id, csrf, expires)
        uow.commit()
    return Login(token, csrf, user, expires)


_DUMMY: str | None = None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hasher().hash(secrets.token_hex(16))
    return _DUMMY


def session_user(store: Store, token: str) -> tuple[UserInfo, str] | None:
    """The user and CSRF token of a live session."""
    with store.unit_of_work() as uow:
        found = web_repo(uow).session(token_sha256(token))
    if found is None:
        return None
    user, csrf, expires = found
    if expires <= dt.datetime.now(dt.UTC):
        return None
    return user, csrf


def logout(store: Store, token: str) -> None:
    with store.unit_of_work() as uow:
        web_repo(uow).remove_session(token_sha256(token))
        uow.commit()


class LoginThrottle:
    """Failed logins per key (user name and client address) in a sliding window; in memory,
    per process (one ``saferoad web`` process serves the app)."""

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] | None = None
    ) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self.clock = clock or time.monotonic
        self._fails: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        kept = [t for t in self._fails.get(key, []) if now - t < self.window_s]
        self._fails[key] = kept
        return kept

    def retry_after(self, key: str) -> float | None:
        """Seconds to wait when ``key`` is locked out, else ``None``."""
        recent = self._recent(key)
        if len(recent) < self.max_failures:
            return None
        return max(1.0, self.window_s - (self.clock() - recent[0]))

    def failed(self, key: str) -> None:
        self._recent(key).append(self.clock())

    def succeeded(self, key: str) -> None:
        self._fails.pop(key, None)


# --- review ----------------------------------------------------------------------------------


def visible_event(uow: UnitOfWork, user: UserInfo, event_id: int) -> EventRef:
    ref: EventRef | None = web_repo(uow).event(event_id)
    if ref is None or not user.sees_driver(ref.fleet, ref.driver):
        raise NotFound(f"event {event_id}")
    return ref


def rescore_trip(uow: UnitOfWork, config: SaferoadConfig, trip_id: int) -> None:
    """Recompute, in ``uow``, the scores a change to one trip's counted events moves: the
    trip's, its driver's week and its fleet's week (the other drivers' are unchanged)."""
    rules = config.scoring.rules()
    fp = scoring_fingerprint(config)
    web = web_repo(uow)
    head = web.trip_head(trip_id)
    if head is None:
        raise NotFound(f"trip {trip_id}")
    fleet, week = head.fleet, head.week
    web.lock_fleet(fleet)
    exp = web.trip_exposure(trip_id)
    uow.scores.put(
        _score_record("trip", fleet, head.trip_key, week, trip_score(exp, rules), fp, trip_id)
    )
    exps = uow.trips.exposures(fleet, week)
    if head.driver in exps:
        uow.scores.put(
            _score_record(
                "driver_week", fleet, head.driver, week, safety_score(exps[head.driver], rules), fp
            )
        )
    uow.scores.put(
        _score_record(
            "fleet_week", fleet, fleet, week, safety_score(total(exps.values()), rules), fp
        )
    )


def change_status(
    store: Store,
    config: SaferoadConfig,
    user: UserInfo,
    event_id: int,
    status: str,
    reason: str | None = None,
) -> EventRef:
    """Move an event to ``status`` (a reason is required to dismiss), log it, and rescore at
    once when the event enters or leaves the score."""
    new = parse_status(status)
    kept_reason = check_change(new, reason)
    with store.unit_of_work() as uow:
        ref = visible_event(uow, user, event_id)
        if not user.can_review:
            raise NotFound(f"event {event_id}")
        old = ReviewStatus(ref.status)
        web = web_repo(uow)
        web.set_status(event_id, new.value, kept_reason)
        detail = f"{old.value} → {new.value}" + (f": {kept_reason}" if kept_reason else "")
        web.log(event_id, user.username, "status", detail)
        if old.counts_in_score != new.counts_in_score:
            rescore_trip(uow, config, ref.trip_id)
        uow.commit()
        out = visible_event(uow, user, event_id)
    return out


def add_note(
    store: Store, user: UserInfo, fleet: str, driver: str, text: str, event_id: int | None = None
) -> None:
    text = text.strip()
    if not text:
        raise ValueError("field 'text': a coaching note cannot be empty")
    if len(text) > 4000:
        raise ValueError("field 'text': at most 4000 characters")
    with store.unit_of_work() as uow:
        if not user.can_review or not user.sees_fleet(fleet):
            raise NotFound(f"driver {fleet}/{driver}")
        web = web_repo(uow)
        if event_id is not None:
            ref = visible_event(uow, user, event_id)
            if (ref.fleet, ref.driver) != (fleet, driver):
                raise NotFound(f"event {event_id}")
            web.log(event_id, user.username, "note", text)
        web.add_note(fleet, driver, event_id, user.username, text)
        uow.commit()


def false_positives(store: Store, user: UserInfo, fleet: str) -> list[dict[str, Any]]:
    """Dismissed events of ``fleet`` as labelled false positives, one JSON object each, in
    saferoad's ``labels.jsonl`` form: ``type`` ``normal`` (an ordinary stretch that must not be
    flagged: a detection overlapping it is scored a false positive), ``start_s``/``end_s`` in
    the recording, plus the analyze output it came from (``source``), the dismissed event's
    type (``event_type``) and the reviewer's reason. Grouped by ``source``, the lines are
    labels files an evaluation manifest can name."""
    if not user.can_review or not user.sees_fleet(fleet):
        raise NotFound(f"fleet {fleet}")
    with store.unit_of_work() as uow:
        refs: list[EventRef] = web_repo(uow).events([fleet], status=ReviewStatus.DISMISSED.value)
    return [
        {
            "type": "normal",
            "label": "false_positive",
            "event_type": r.type,
            "source": r.trip_source,
            "start_s": r.start_s,
            "end_s": r.end_s,
            "start_utc": r.start_utc.isoformat(),
            "fleet": r.fleet,
            "driver": r.driver,
            "trip_id": r.trip_id,
            "event_id": r.id,
            "reason": r.dismiss_reason,
        }
        for r in sorted(refs, key=lambda r: r.id)
    ]


# --- devices ---------------------------------------------------------------------------------


def add_device(store: Store, fleet: str, device: str) -> str:
    """A new bearer token for ``device`` of ``fleet`` (only its SHA-256 is stored)."""
    for field, value in (("fleet", fleet), ("device", device)):
        if not value.strip() or len(value) > 128:
            raise ValueError(f"field '{field}': 1 to 128 characters")
    token = "srd_" + secrets.token_urlsafe(32)
    with store.unit_of_work() as uow:
        web_repo(uow).add_device(token_sha256(token), fleet.strip(), device.strip())
        uow.commit()
    return token


# --- pages -----------------------------------------------------------------------------------


def driver_overview(
    store: Store,
    config: SaferoadConfig,
    fleet: str,
    driver: str,
    week: str | None,
    score_trend: ScoreTrendChart,
) -> dict[str, Any] | None:
    """What the driver page shows: every week's score, the chosen week (default: the latest)
    with its rank, trend, trips and habitual risks, and the trend chart (drawn by
    ``score_trend``); ``None`` when the driver has no trips in ``fleet``. Lighter than the
    weekly report (no per-trip figures)."""
    rules = config.scoring.rules()
    with store.unit_of_work() as uow:
        weeks = uow.trips.weeks(fleet, driver)
        if not weeks:
            return None
        chosen = week if week in weeks else weeks[-1]
        per_week = {w: uow.trips.exposures(fleet, w) for w in weeks}
        prev_w = previous_week(chosen)
        prev = per_week.get(prev_w) or uow.trips.exposures(fleet, prev_w)
        briefs = uow.trips.briefs(fleet, chosen, driver)
    rows: list[dict[str, Any]] = []
    for w in weeks:
        e = per_week[w][driver]
        s = safety_score(e, rules)
        rows.append(
            {
                "week": w,
                "score": s.value,
                "reason": s.reason,
                "km": e.distance_km,
                "trips": e.n_trips,
                "events": e.n_events,
            }
        )
    this = per_week[chosen]
    mine = this[driver]
    score = safety_score(mine, rules)
    before = safety_score(prev[driver], rules) if driver in prev else None
    ranking = rank({d: safety_score(e, rules) for d, e in this.items()})
    fleet_scores = [safety_score(total(per_week[w].values()), rules).value for w in weeks]
    return {
        "week": chosen,
        "weeks": rows,
        "score": score,
        "trend": week_trend(score, before),
        "rank": next(r.rank for r in ranking if r.subject == driver),
        "n_ranked": sum(1 for r in ranking if r.rank is not None),
        "distance_km": mine.distance_km,
        "n_trips": mine.n_trips,
        "n_events": mine.n_events,
        "habits": habitual_risks(mine, total(this.values()), rules),
        "trips": briefs,
        "plot_trend": score_trend(
            weeks, [r["score"] for r in rows], fleet_scores, _axis_floor(rows, fleet_scores)
        ),
    }


def _axis_floor(rows: list[dict[str, Any]], fleet: list[float | None]) -> float:
    """Lower end of the trend chart: a round 10 below the lowest score, at most 50."""
    values = [v for v in [*(r["score"] for r in rows), *fleet] if v is not None]
    low = min(values, default=100.0)
    return float(min(50.0, 10.0 * math.floor((low - 2.0) / 10.0)))
