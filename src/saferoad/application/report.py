"""``report``: safe-driving reports for fleet managers, per driver-week, trip and fleet.

The store provides counts, distances, trips and events; ``saferoad.domain.scoring`` turns
them into scores, trends, ranks and habitual risks; the figures are drawn and
the HTML (and PDF) rendered through ``ReportPorts`` (``ports/charts.py``; the composition root
builds them over ``saferoad.adapters.reports``: Matplotlib, Jinja2, headless Chromium).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from saferoad._version import __version__
from saferoad.config import SaferoadConfig
from saferoad.domain.event_specs import event_title
from saferoad.domain.scoring import (
    Exposure,
    Score,
    ScoringRules,
    habitual_risks,
    previous_week,
    rank,
    rates,
    safety_score,
    total,
    trend,
    trip_score,
    week_start,
)
from saferoad.observability import span
from saferoad.ports.charts import ReportFigures, ReportPorts
from saferoad.ports.store import EventRecord, Store, TripRecord, UnitOfWork

TREND_WEEKS = 8
MAX_TRIP_SECTIONS = 12
"""A driver-week report draws map, speed and timeline for at most this many trips (those with
the most events first); the others are listed in the trips table."""

MAX_EVENT_PLOTS = 24
"""Events without a snapshot get a small speed/g picture, at most this many per report (the
rest keep their figures in text): a week of a reckless driver should not take minutes."""

FIGURE_LABELS: dict[str, tuple[str, str, float, int | None]] = {
    # peak / evidence key: label, unit, scale, decimals (None: 2 under 10, 1 under 100, else 0).
    # Keys not listed (times, frame numbers, track ids, internal diagnostics) stay in
    # events.jsonl and are not shown.
    "accel_g": ("peak", "g", 1.0, 2),
    "peak_g": ("peak", "g", 1.0, 2),
    "lat_g": ("peak sideways", "g", 1.0, 2),
    "threshold_g": ("threshold", "g", 1.0, 2),
    "heading_change_deg": ("turned", "°", 1.0, 0),
    "min_headway_s": ("headway", "s", 1.0, 2),
    "headway_s": ("headway", "s", 1.0, 2),
    "min_ttc_s": ("time to collision", "s", 1.0, 1),
    "ttc_s": ("time to collision", "s", 1.0, 1),
    "distance_m": ("distance", "m", 1.0, 1),
    "min_distance_m": ("closest distance", "m", 1.0, 1),
    "distance_m_at_min": ("gap", "m", 1.0, 1),
    "speed_onset_mps": ("speed", "km/h", 3.6, 0),
    "speed_kmh": ("speed", "km/h", 1.0, 0),
    "speed_mps": ("speed", "km/h", 3.6, 0),
    "speed_mps_at_min": ("speed", "km/h", 3.6, 0),
    "approach_speed_mps": ("approach speed", "km/h", 3.6, 0),
    "min_speed_kmh": ("slowest", "km/h", 1.0, 0),
    "min_speed_mps": ("slowest", "km/h", 3.6, 0),
    "max_speed_kmh": ("top speed", "km/h", 1.0, 0),
    "max_speed_mps": ("top speed", "km/h", 3.6, 0),
    "limit_kmh": ("limit", "km/h", 1.0, 0),
    "limit_mps": ("limit", "km/h", 3.6, 0),
    "over_limit_kmh": ("over the limit", "km/h", 1.0, 0),
    "mean_over_kmh": ("over the limit (mean)", "km/h", 1.0, 0),
    "max_over_mps": ("over the limit (most)", "km/h", 3.6, 0),
    "longest_closure_s": ("longest closure", "s", 1.0, 1),
    "slow_closures": ("slow eye closures", "", 1.0, 0),
    "perclos": ("PERCLOS", "%", 100.0, 0),
    "yawns": ("yawns", "", 1.0, 0),
    "head_deviation_deg": ("head turned", "°", 1.0, 0),
    "eyes_off_s": ("eyes off road", "s", 1.0, 1),
}


class ReportError(ValueError):
    """A report that cannot be made (unknown driver, empty week ...), said plainly."""


# --- small helpers -----------------------------------------------------------------------


def _local(t: dt.datetime, tz: str) -> dt.datetime:
    return t.astimezone(ZoneInfo(tz))


def _place(lat: float | None, lon: float | None) -> str:
    if lat is None or lon is None:
        return "position unknown"
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


def _duration(seconds: float) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min"


def figure(key: str, value: object) -> tuple[str, str] | None:
    """``(label, value with its unit)`` for one peak or evidence entry; None for entries a
    reader is not shown (times, frame numbers, ids, flags, diagnostics)."""
    spec = FIGURE_LABELS.get(key)
    if spec is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    label, unit, scale, digits = spec
    v = abs(float(value)) if unit == "g" else float(value) * scale
    if digits is None:
        digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
    sep = "" if unit in ("°", "%", "") else " "
    return label, f"{v:.{digits}f}{sep}{unit}"


def key_figures(ev: EventRecord) -> list[tuple[str, str]]:
    """The figures a reviewer wants first (peak g, headway, speed ...), each with its unit, in
    the order the event gives them; one figure per label; then the duration."""
    out: list[tuple[str, str]] = []
    shown: set[str] = set()
    items = [*ev.peak.items(), *ev.evidence.items()]
    # a harsh manoeuvre's speed is the one it started from (a braking to a stop peaks at
    # walking pace): the onset speed, where the event gives it, is the card's "speed"
    onset = [kv for kv in items if kv[0] == "speed_onset_mps"]
    if onset:
        first = next(i for i, kv in enumerate(items) if FIGURE_LABELS.get(kv[0], ("",))[0] == "speed")
        items = [kv for kv in items if kv[0] != "speed_onset_mps"]
        items.insert(first, onset[0])
    for key, value in items:
        fig = figure(key, value)
        if fig is None or fig[0] in shown:
            continue
        shown.add(fig[0])
        out.append(fig)
    if ev.speed_mps is not None and "speed" not in shown:
        out.append(("speed", f"{ev.speed_mps * 3.6:.0f} km/h"))
    out.append(("duration", f"{ev.end_s - ev.start_s:.1f} s"))
    return out


def _data_uri(path: str | None) -> str | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        return None
    mime = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}.get(
        p.suffix.lower(), "application/octet-stream"
    )
    return f"data:{mime};base64," + base64.b64encode(p.read_bytes()).decode("ascii")


def _axis_floor(values: Iterable[float | None]) -> float:
    """Lower end of a score axis: 50, or lower in steps of 10 to show every score (the score
    has no floor)."""
    low = min((v for v in values if v is not None), default=50.0)
    return float(min(50.0, 10.0 * math.floor((low - 2.0) / 10.0)))


def _score_view(figures: ReportFigures, score: Score, tr: Any = None) -> dict[str, Any]:
    return {
        "value": score.value,
        "raw": score.raw,
        "colour": figures.score_colour(score.value),
        "reason": score.reason,
        "distance_km": score.distance_km,
        "n_events": score.n_events,
        "impacts": sorted(score.impacts.items(), key=lambda kv: -kv[1]),
        "trend": None
        if tr is None
        else {"word": tr.word, "delta": tr.delta, "previous": tr.previous},
    }


def _event_view(
    figures: ReportFigures, ev: EventRecord, n: int, trip: TripRecord, with_window: bool
) -> dict[str, Any]:
    local = _local(ev.start_utc, trip.timezone)
    snap = _data_uri(ev.snapshot_path)
    view: dict[str, Any] = {
        "n": n,
        "type": ev.type,
        "title": event_title(ev.type) + (f" ({ev.direction})" if ev.direction else ""),
        "colour": figures.type_colour(ev.type),
        "severity": ev.severity,
        "confidence": ev.confidence,
        "time": local.strftime("%a %d %b %Y, %H:%M:%S"),
        "tz": local.tzname() or trip.timezone,
        "place": _place(ev.lat, ev.lon),
        "lat": ev.lat,
        "lon": ev.lon,
        "figures": key_figures(ev),
        "snapshot": snap,
        "snapshot_missing": ev.snapshot_path is not None and snap is None,
        "clip": Path(ev.clip_path).as_uri() if ev.clip_path else None,
        "clip_name": Path(ev.clip_path).name if ev.clip_path else None,
        "clip_missing": ev.clip_path is not None and not Path(ev.clip_path).is_file(),
        "window": None,
        "start_s": ev.start_s,
        "end_s": ev.end_s,
        "trip_id": trip.id,
    }
    if snap is None and with_window:
        view["window"] = figures.event_window(
            trip.profile, view, _local(trip.start_utc, trip.timezone)
        )
    return view


def _trip_view(
    figures: ReportFigures, trip: TripRecord, first_n: int, rules: ScoringRules, with_figures: bool
) -> dict[str, Any]:
    start_local = _local(trip.start_utc, trip.timezone)
    end_local = _local(trip.end_utc, trip.timezone)
    events = [
        _event_view(figures, e, first_n + i, trip, with_figures and first_n + i <= MAX_EVENT_PLOTS)
        for i, e in enumerate(trip.events)
    ]
    sc = trip_score(trip.exposure(), rules)
    view: dict[str, Any] = {
        "id": trip.id,
        "key": trip.trip_key[:12],
        "driver": trip.ids.driver,
        "vehicle": trip.ids.vehicle,
        "device": trip.ids.device,
        "fleet": trip.ids.fleet,
        "start": start_local.strftime("%a %d %b %Y, %H:%M"),
        "end": end_local.strftime("%H:%M"),
        "start_local": start_local,
        "tz": trip.timezone,
        "distance_km": trip.distance_km,
        "duration": _duration(trip.duration_s),
        "duration_s": trip.duration_s,
        "n_events": len(trip.events),
        "score": _score_view(figures, sc),
        "events": events,
        "counts": sorted(trip.counts.items(), key=lambda kv: -kv[1]),
        "source": trip.source_path,
    }
    if with_figures:
        with span("report.figures", trip=trip.id):
            view["route_map"] = figures.route_map(trip.profile, trip.route, events)
            view["speed_plot"] = figures.speed_profile(trip.profile, events, start_local)
            view["timeline_plot"] = figures.trip_timeline(trip.profile, events, start_local)
    return view


def _rate_rows(
    figures: ReportFigures,
    counts: Mapping[str, int],
    own: Mapping[str, float],
    fleet: Mapping[str, float],
) -> list[dict[str, Any]]:
    """The rates table: one row per event type the subject or the fleet had, the subject's
    highest rate first."""
    return [
        {
            "title": event_title(k),
            "colour": figures.type_colour(k),
            "count": counts.get(k, 0),
            "rate": own.get(k, 0.0),
            "fleet_rate": fleet.get(k, 0.0),
        }
        for k in sorted(set(own) | set(fleet), key=lambda k: -own.get(k, 0.0))
    ]


def _habits_view(
    figures: ReportFigures, driver: Exposure, fleet: Exposure, rules: ScoringRules
) -> list[dict[str, Any]]:
    return [
        {
            "type": h.event_type,
            "title": event_title(h.event_type),
            "sentence": h.sentence,
            "colour": figures.type_colour(h.event_type),
            "count": h.count,
        }
        for h in habitual_risks(driver, fleet, rules)
    ]


def _resolve_fleet(uow: UnitOfWork, driver: str, fleet: str | None) -> str:
    fleets = uow.trips.fleets_of_driver(driver)
    if not fleets:
        raise ReportError(f"driver {driver!r} has no trips in the store")
    if fleet is not None:
        if fleet not in fleets:
            raise ReportError(f"driver {driver!r} drives for {', '.join(fleets)}, not {fleet!r}")
        return fleet
    if len(fleets) > 1:
        raise ReportError(
            f"driver {driver!r} drives for several fleets ({', '.join(fleets)}): add --fleet"
        )
    return fleets[0]


def _weeks_back(week: str, n: int) -> list[str]:
    out = [week]
    for _ in range(n - 1):
        out.append(previous_week(out[-1]))
    return out[::-1]


def _base(config: SaferoadConfig, kind: str, title: str) -> dict[str, Any]:
    rules = config.scoring.rules()
    return {
        "kind": kind,
        "title": title,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "per": f"{rules.rate_per_km:,.0f} km",
        "rules": {
            "scale": rules.weighted_rate_scale,
            "bands": rules.band_weights,
            "min_distance_km": rules.min_distance_km,
            "min_trip_distance_km": rules.min_trip_distance_km,
            "k": rules.points_per_weighted_rate,
            "weights": sorted(
                ((event_title(k), w) for k, w in rules.weights.items() if w > 0),
                key=lambda kv: -kv[1],
            ),
        },
    }


# --- driver-week ---------------------------------------------------------------------------


def driver_week_context(
    store: Store,
    config: SaferoadConfig,
    driver: str,
    week: str,
    fleet: str | None = None,
    *,
    ports: ReportPorts,
) -> dict[str, Any]:
    figures = ports.figures
    rules = config.scoring.rules()
    week_start(week)  # validates the week
    with span("report.gather", driver=driver, week=week), store.unit_of_work() as uow:
        fleet = _resolve_fleet(uow, driver, fleet)
        weeks = _weeks_back(week, TREND_WEEKS)
        per_week = {w: uow.trips.exposures(fleet, w) for w in weeks}
        this = per_week[week]
        if driver not in this:
            have = uow.trips.weeks(fleet, driver)
            raise ReportError(
                f"driver {driver!r} has no trips in {week} (weeks with trips: {', '.join(have) or 'none'})"
            )
        briefs = uow.trips.briefs(fleet, week, driver)
        trips = [uow.trips.get(b.id) for b in briefs]
    d_exp = this[driver]
    f_exp = total(this.values())
    d_scores = {
        w: safety_score(e[driver], rules) if driver in e else None for w, e in per_week.items()
    }
    f_scores = {
        w: safety_score(total(e.values()), rules) if e else None for w, e in per_week.items()
    }
    score = safety_score(d_exp, rules)
    prev = d_scores[previous_week(week)]
    ranking = rank({d: safety_score(e, rules) for d, e in this.items()})
    my_rank = next(r for r in ranking if r.subject == driver)
    ctx = _base(config, "driver", f"Safe-driving report: {driver}, {week}")
    d_rates, f_rates = rates(d_exp, rules.rate_per_km), rates(f_exp, rules.rate_per_km)
    trip_list = [t for t in trips if t is not None]
    order = sorted(trip_list, key=lambda t: (-len(t.events), t.start_utc))
    detailed = {t.id for t in order[:MAX_TRIP_SECTIONS] if t.events}
    n = 1
    trip_views = []
    for t in trip_list:
        trip_views.append(_trip_view(figures, t, n, rules, with_figures=t.id in detailed))
        n += len(t.events)
    monday = week_start(week)
    ctx.update(
        driver=driver,
        fleet=fleet,
        week=week,
        week_label=f"{monday:%d %b} – {monday + dt.timedelta(days=6):%d %b %Y}",
        score=_score_view(figures, score, trend(score, prev)),
        fleet_score=_score_view(figures, fs) if (fs := f_scores[week]) is not None else None,
        rank=my_rank.rank,
        n_ranked=sum(1 for r in ranking if r.rank is not None),
        n_drivers=len(ranking),
        distance_km=d_exp.distance_km,
        duration=_duration(d_exp.duration_s),
        n_trips=d_exp.n_trips,
        n_events=d_exp.n_events,
        rate_total=d_exp.n_events * rules.rate_per_km / d_exp.distance_km
        if d_exp.distance_km
        else None,
        fleet_rate_total=f_exp.n_events * rules.rate_per_km / f_exp.distance_km
        if f_exp.distance_km
        else None,
        habits=_habits_view(figures, d_exp, f_exp, rules),
        rate_rows=_rate_rows(figures, d_exp.counts, d_rates, f_rates),
        trips=trip_views,
        detailed_trips=[v for v in trip_views if v["id"] in detailed],
        plot_trend=figures.score_trend(
            weeks,
            [s.value if s else None for s in d_scores.values()],
            [s.value if s else None for s in f_scores.values()],
            _axis_floor(s.value if s else None for s in [*d_scores.values(), *f_scores.values()]),
        ),
        plot_rates=figures.rates_vs_fleet(d_rates, f_rates, ctx["per"]),
        plot_week=figures.week_strip(
            [
                {
                    "start_local": v["start_local"],
                    "duration_s": v["duration_s"],
                    "events": v["events"],
                }
                for v in trip_views
            ],
            monday,
        ),
    )
    return ctx


# --- one trip --------------------------------------------------------------------------------


def _find_trip(uow: UnitOfWork, trip: str) -> int:
    if trip.isdigit():
        return int(trip)
    matches = [b.id for b in uow.trips.briefs() if b.trip_key.startswith(trip.lower())]
    if len(matches) == 1:
        return matches[0]
    raise ReportError(
        f"trip {trip!r}: {'no' if not matches else 'several'} trips match (give its id)"
    )


def trip_context(
    store: Store, config: SaferoadConfig, trip: str | int, *, ports: ReportPorts
) -> dict[str, Any]:
    figures = ports.figures
    rules = config.scoring.rules()
    with span("report.gather", trip=str(trip)), store.unit_of_work() as uow:
        trip_id = trip if isinstance(trip, int) else _find_trip(uow, trip)
        record = uow.trips.get(trip_id)
        if record is None:
            raise ReportError(f"trip {trip} is not in the store")
        this = uow.trips.exposures(record.ids.fleet, record.local_week)
        prev = uow.trips.exposures(record.ids.fleet, previous_week(record.local_week))
    f_exp = total(this.values())
    d_exp = this.get(record.ids.driver, record.exposure())
    view = _trip_view(figures, record, 1, rules, with_figures=True)
    t_rates = rates(record.exposure(), rules.rate_per_km)
    f_rates = rates(f_exp, rules.rate_per_km)
    d_score = safety_score(d_exp, rules)
    d_prev = safety_score(prev[record.ids.driver], rules) if record.ids.driver in prev else None
    ctx = _base(config, "trip", f"Trip report: {record.ids.driver}, {view['start']}")
    ctx.update(
        trip=view,
        driver=record.ids.driver,
        fleet=record.ids.fleet,
        week=record.local_week,
        score=view["score"],
        week_score=_score_view(figures, d_score, trend(d_score, d_prev)),
        habits=_habits_view(figures, d_exp, f_exp, rules),
        rate_rows=_rate_rows(figures, record.counts, t_rates, f_rates),
        plot_rates=figures.rates_vs_fleet(t_rates, f_rates, ctx["per"]),
        only_trip=f_exp.n_trips <= 1,
    )
    return ctx


# --- fleet ---------------------------------------------------------------------------------


def fleet_context(
    store: Store, config: SaferoadConfig, fleet: str, week: str | None = None, *, ports: ReportPorts
) -> dict[str, Any]:
    figures = ports.figures
    rules = config.scoring.rules()
    with span("report.gather", fleet=fleet, week=week), store.unit_of_work() as uow:
        weeks_with = uow.trips.weeks(fleet)
        if not weeks_with:
            known = uow.trips.fleets()
            raise ReportError(
                f"fleet {fleet!r} has no trips (fleets: {', '.join(known) or 'none'})"
            )
        week = week or weeks_with[-1]
        week_start(week)
        weeks = _weeks_back(week, TREND_WEEKS)
        per_week = {w: uow.trips.exposures(fleet, w) for w in weeks}
    this = per_week[week]
    if not this:
        raise ReportError(
            f"fleet {fleet!r} has no trips in {week} (weeks: {', '.join(weeks_with)})"
        )
    prev = per_week[previous_week(week)]
    f_exp = total(this.values())
    f_scores = {
        w: safety_score(total(e.values()), rules) if e else None for w, e in per_week.items()
    }
    scores = {d: safety_score(e, rules) for d, e in this.items()}
    ranking = rank(scores)
    types = sorted(
        {k for e in this.values() for k in e.counts}, key=lambda k: -f_exp.counts.get(k, 0)
    )
    rows: list[dict[str, Any]] = []
    for r in ranking:
        e = this[r.subject]
        p = safety_score(prev[r.subject], rules) if r.subject in prev else None
        habits = habitual_risks(e, f_exp, rules)
        rows.append(
            {
                "driver": r.subject,
                "rank": r.rank,
                "score": _score_view(figures, r.score, trend(r.score, p)),
                "distance_km": e.distance_km,
                "n_trips": e.n_trips,
                "n_events": e.n_events,
                "rate": e.n_events * rules.rate_per_km / e.distance_km if e.distance_km else None,
                "habit": habits[0].sentence if habits else None,
            }
        )
    f_prev = f_scores[previous_week(week)]
    f_score = safety_score(f_exp, rules)
    monday = week_start(week)
    ctx = _base(config, "fleet", f"Fleet safety report: {fleet}, {week}")
    f_rates = rates(f_exp, rules.rate_per_km)
    ctx.update(
        fleet=fleet,
        week=week,
        week_label=f"{monday:%d %b} – {monday + dt.timedelta(days=6):%d %b %Y}",
        score=_score_view(figures, f_score, trend(f_score, f_prev)),
        distance_km=f_exp.distance_km,
        duration=_duration(f_exp.duration_s),
        n_trips=f_exp.n_trips,
        n_events=f_exp.n_events,
        n_drivers=len(this),
        rate_total=f_exp.n_events * rules.rate_per_km / f_exp.distance_km
        if f_exp.distance_km
        else None,
        drivers=rows,
        rate_rows=[
            {
                "title": event_title(k),
                "colour": figures.type_colour(k),
                "count": f_exp.counts.get(k, 0),
                "rate": f_rates.get(k, 0.0),
                "fleet_rate": f_rates.get(k, 0.0),
            }
            for k in types
        ],
        plot_trend=figures.score_trend(
            weeks,
            [s.value if s else None for s in f_scores.values()],
            None,
            _axis_floor(s.value if s else None for s in f_scores.values()),
            label="fleet",
        ),
        plot_ranking=figures.ranking(
            [r["driver"] for r in rows],
            [r["score"]["value"] for r in rows],
            floor=_axis_floor(r["score"]["value"] for r in rows),
        ),
        plot_heatmap=figures.rate_heatmap(
            [r["driver"] for r in rows],
            types,
            [
                [rates(this[r["driver"]], rules.rate_per_km).get(t, 0.0) for t in types]
                for r in rows
            ],
            ctx["per"],
        ),
    )
    return ctx


# --- writing --------------------------------------------------------------------------------

TEMPLATES = {"driver": "driver_week.html.j2", "trip": "trip.html.j2", "fleet": "fleet.html.j2"}


def write(context: dict[str, Any], output: Path, *, ports: ReportPorts) -> Path:
    """Write a report context to ``output`` (``.html`` or ``.pdf``)."""
    return ports.write(TEMPLATES[context["kind"]], context, output)
