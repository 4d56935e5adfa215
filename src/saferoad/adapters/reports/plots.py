"""Report figures with matplotlib (Agg), returned as SVG data URIs so a report is one file.

Every figure shares one look: few lines, no chart junk, one colour per event type (the same
colour in every figure and on the event cards), local times on time axes. The route map is
drawn from the GPS track alone (no tile server): coloured by speed, with numbered event
markers that match the event cards, a scale bar and a north arrow.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from saferoad.domain.event_specs import SPECS, event_title

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
ACCENT = "#2563eb"
GOOD, FAIR, POOR = "#16a34a", "#d97706", "#dc2626"

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.edgecolor": GRID,
        "axes.labelcolor": MUTED,
        "axes.titlecolor": INK,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": GRID,
        "grid.linewidth": 0.8,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "xtick.major.size": 0,
        "ytick.major.size": 0,
        "legend.frameon": False,
        "svg.fonttype": "none",
        "svg.hashsalt": "saferoad",
    }
)


def type_colour(event_type: str) -> str:
    """The type's colour from its spec, looked up now (a rule module may define a type after
    this module is imported); muted for a type with no spec (an old store row)."""
    s = SPECS.get(event_type)
    return s.colour if s is not None else MUTED


def score_colour(score: float | None) -> str:
    if score is None:
        return MUTED
    return GOOD if score >= 85 else FAIR if score >= 70 else POOR


def to_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


MAX_POINTS = 600
"""Longer series are thinned to this many points before drawing (a page cannot show more)."""


def thin(
    profile: Mapping[str, Sequence[float | None]], max_points: int = MAX_POINTS
) -> dict[str, Sequence[float | None]]:
    """Every k-th sample of every column so that at most ``max_points`` remain."""
    n = len(profile.get("t_s", []))
    step = max(1, math.ceil(n / max_points))
    return {k: list(v)[::step] for k, v in profile.items()}


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=MUTED, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


BADGE_S = 190.0
"""Area (points²) of a numbered event badge."""


def spread_badges(xy: np.ndarray, sep: float, *, upward: bool = False) -> np.ndarray:
    """Badge centres for markers at ``xy`` (display units, N x 2) such that no two are closer
    than ``sep``: each badge, in order, stays on its marker when free, else takes the first free
    place on the nearest ring (radius ``sep``, ``2 sep`` ...) around it, going round from
    straight above (``upward``: only straight above it, for a time axis). Badges no longer
    overlap however close the events are."""
    placed: list[np.ndarray] = []
    for p in np.asarray(xy, dtype=float).reshape(-1, 2):
        chosen = p
        for k in range(0, 64):
            if k == 0:
                cands = [p]
            elif upward:
                cands = [p + np.array([0.0, k * sep])]
            else:
                angles = np.linspace(0.0, 2.0 * np.pi, 6 * k, endpoint=False) + np.pi / 2
                cands = [p + k * sep * np.array([np.cos(a), np.sin(a)]) for a in angles]
            free = [c for c in cands if all(np.hypot(*(c - q)) >= sep - 1e-9 for q in placed)]
            if free:
                chosen = free[0]
                break
        placed.append(chosen)
    return np.array(placed).reshape(-1, 2)


def _badge_sep_px(fig: Figure, size: float = BADGE_S) -> float:
    """Centre distance (pixels) at which two badges of area ``size`` just touch, plus a small gap."""
    return math.sqrt(size) * fig.dpi / 72.0 * 1.1


def _badge(
    ax: Any, x: float, y: float, n: object, colour: str, *, size: float, fontsize: float, lw: float,
    zorder: int, clip_on: bool = True,
) -> None:
    """A numbered event badge: a disc of area ``size`` with its number in white."""
    ax.scatter([x], [y], s=size, color=colour, ec="white", lw=lw, zorder=zorder, clip_on=clip_on)
    ax.text(
        float(x), float(y), str(n), ha="center", va="center", fontsize=fontsize, color="white",
        fontweight="bold", zorder=zorder + 1,
    )


# --- scores ------------------------------------------------------------------------------


def score_trend(
    weeks: Sequence[str],
    scores: Sequence[float | None],
    fleet: Sequence[float | None] | None = None,
    floor: float = 50.0,
    label: str = "driver",
) -> str:
    """The weekly score as a line with coloured points, the fleet's as a dashed line."""
    has = [
        i
        for i, v in enumerate(scores)
        if v is not None or (fleet is not None and fleet[i] is not None)
    ]
    first = max(min(has, default=0) - 1, 0)
    weeks, scores = list(weeks)[first:], list(scores)[first:]
    fleet = list(fleet)[first:] if fleet is not None else None
    fig, ax = plt.subplots(figsize=(5.2, 2.4))
    x = np.arange(len(weeks))
    ax.axhspan(85, 100, color=GOOD, alpha=0.06, lw=0)
    ax.axhspan(70, 85, color=FAIR, alpha=0.06, lw=0)
    ax.axhspan(floor, 70, color=POOR, alpha=0.05, lw=0)
    if fleet is not None:
        fy = np.array([np.nan if v is None else v for v in fleet], dtype=float)
        ax.plot(x, fy, color=MUTED, lw=1.2, ls="--", label="fleet")
    y = np.array([np.nan if v is None else v for v in scores], dtype=float)
    ax.plot(x, y, color=INK, lw=1.8, label=label, zorder=3)
    for xi, yi in zip(x, y, strict=True):
        if np.isfinite(yi):
            ax.scatter(
                [xi], [yi], s=46, color=score_colour(float(yi)), zorder=4, ec="white", lw=1.2
            )
            ax.annotate(
                f"{yi:.0f}",
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                color=INK,
            )
    ax.set_xticks(x, [w.split("-")[1] for w in weeks])
    ax.set_ylim(floor - 2, 104)
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_ylabel("safety score")
    ax.legend(loc="lower left", fontsize=8, ncols=2)
    return to_data_uri(fig)


def rates_vs_fleet(
    driver_rates: Mapping[str, float], fleet_rates: Mapping[str, float], per: str = "1,000 km"
) -> str:
    """Horizontal bars of the driver's events per 1,000 km by type, the fleet's as ticks."""
    types = sorted(set(driver_rates) | set(fleet_rates), key=lambda k: -driver_rates.get(k, 0.0))
    fig, ax = plt.subplots(figsize=(5.2, 0.42 * max(len(types), 2) + 0.7))
    if not types:
        _empty(ax, "no events")
        return to_data_uri(fig)
    y = np.arange(len(types))[::-1]
    d = [driver_rates.get(k, 0.0) for k in types]
    f = [fleet_rates.get(k, 0.0) for k in types]
    ax.barh(y, d, height=0.55, color=[type_colour(k) for k in types], alpha=0.9)
    ax.scatter(f, y, marker="|", s=420, color=INK, lw=2.2, zorder=3, label="fleet")
    for yi, di in zip(y, d, strict=True):
        ax.text(di, yi, f"  {di:.1f}", va="center", fontsize=8, color=INK)
    ax.set_yticks(y, [event_title(k) for k in types])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(f"events per {per}")
    ax.set_xlim(0, max([*d, *f, 1.0]) * 1.2)
    ax.legend(loc="lower right", fontsize=8)
    return to_data_uri(fig)


def ranking(
    names: Sequence[str],
    scores: Sequence[float | None],
    highlight: str | None = None,
    floor: float = 50.0,
) -> str:
    """Drivers' scores as bars, best first; unscored drivers greyed out at the floor."""
    fig, ax = plt.subplots(figsize=(5.2, 0.34 * max(len(names), 2) + 0.6))
    y = np.arange(len(names))[::-1]
    vals = [floor if s is None else s for s in scores]
    colours = [score_colour(s) for s in scores]
    bars = ax.barh(y, [v - floor + 0.5 for v in vals], left=floor - 0.5, height=0.62, color=colours)
    for b, n in zip(bars, names, strict=True):
        if highlight is not None and n == highlight:
            b.set_edgecolor(INK)
            b.set_linewidth(1.6)
    for yi, s in zip(y, scores, strict=True):
        label = "—" if s is None else f"{s:.0f}"
        ax.text((floor if s is None else s) + 0.8, yi, label, va="center", fontsize=8, color=INK)
    ax.set_yticks(y, list(names))
    ax.set_xlim(floor - 0.5, 104)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("safety score")
    return to_data_uri(fig)


def rate_heatmap(
    drivers: Sequence[str],
    types: Sequence[str],
    rates: Sequence[Sequence[float]],
    per: str = "1,000 km",
) -> str:
    """Drivers x event types, events per 1,000 km, darker is worse."""
    fig, ax = plt.subplots(figsize=(10.0, 0.42 * max(len(drivers), 2) + 1.6))
    if not types or not drivers:
        _empty(ax, "no events")
        return to_data_uri(fig)
    m = np.asarray(rates, dtype=float)
    ax.imshow(m, cmap="Reds", aspect="auto", vmin=0, vmax=max(float(m.max()), 1.0))
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = m[i, j]
            ax.text(
                j,
                i,
                "·" if v == 0 else f"{v:.0f}" if v >= 10 else f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if v > 0.6 * m.max() else INK,
            )
    ax.set_xticks(range(len(types)), [event_title(t) for t in types], rotation=35, ha="right")
    ax.set_yticks(range(len(drivers)), list(drivers))
    ax.grid(False)
    ax.set_title(f"events per {per}", fontsize=8, color=MUTED, fontweight="normal")
    return to_data_uri(fig)


# --- one trip ----------------------------------------------------------------------------


def _xy_km(
    lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    x = (lon - lon0) * 111.320 * math.cos(math.radians(lat0))
    y = (lat - lat0) * 110.574
    return x, y


def route_map(
    profile: Mapping[str, Sequence[float | None]],
    route: Sequence[Sequence[float]],
    events: Sequence[Mapping[str, Any]],
    size: tuple[float, float] = (5.6, 4.6),
) -> str:
    """The GPS track coloured by speed, start and end marked, events as numbered markers."""
    profile = thin(profile)
    fig, ax = plt.subplots(figsize=size)
    lat = np.array([np.nan if v is None else v for v in profile.get("lat", [])], dtype=float)
    lon = np.array([np.nan if v is None else v for v in profile.get("lon", [])], dtype=float)
    spd = np.array([np.nan if v is None else v for v in profile.get("speed_mps", [])], dtype=float)
    if lat.size < 2 and len(route) >= 2:
        lat = np.array([p[0] for p in route], dtype=float)
        lon = np.array([p[1] for p in route], dtype=float)
        spd = np.full(lat.size, np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.sum() < 2:
        _empty(ax, "no GPS track")
        return to_data_uri(fig)
    lat0, lon0 = float(np.nanmean(lat[ok])), float(np.nanmean(lon[ok]))
    x, y = _xy_km(lat[ok], lon[ok], lat0, lon0)
    s = spd[ok] * 3.6 if spd.size == lat.size else np.full(x.size, np.nan)
    pts = np.column_stack([x, y]).reshape(-1, 1, 2)
    segs = np.concatenate([pts[:-1], pts[1:]], axis=1)
    ax.plot(x, y, color="#cbd2d9", lw=6.5, solid_capstyle="round", zorder=1)
    if np.isfinite(s).any():
        lc = LineCollection(list(segs), cmap="viridis_r", lw=3.0, zorder=2, capstyle="round")
        lc.set_array(np.nan_to_num(s[:-1], nan=0.0))
        ax.add_collection(lc)
        cb = fig.colorbar(lc, ax=ax, orientation="horizontal", fraction=0.04, pad=0.02, aspect=40)
        cb.set_label("speed, km/h", color=MUTED, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        cb.outline.set_visible(False)
    else:
        ax.plot(x, y, color=ACCENT, lw=3.0, zorder=2)
    ax.scatter([x[0]], [y[0]], s=70, marker="o", color=GOOD, ec="white", lw=1.5, zorder=5)
    ax.scatter([x[-1]], [y[-1]], s=70, marker="s", color=INK, ec="white", lw=1.5, zorder=5)
    ax.annotate(
        "start",
        (x[0], y[0]),
        textcoords="offset points",
        xytext=(7, -11),
        fontsize=8,
        color=GOOD,
        fontweight="bold",
    )
    ax.annotate(
        "end",
        (x[-1], y[-1]),
        textcoords="offset points",
        xytext=(7, 4),
        fontsize=8,
        color=INK,
        fontweight="bold",
    )
    located = [ev for ev in events if ev.get("lat") is not None and ev.get("lon") is not None]
    # a box of the figure's proportions around the track, 8% margin, equal scale on both axes
    box_ratio = (size[1] * 0.82) / size[0]
    cx, cy = (x.min() + x.max()) / 2, (y.min() + y.max()) / 2
    w = max(float(x.max() - x.min()), 0.2) * 1.16
    h = max(float(y.max() - y.min()), 0.2) * 1.16
    if h / w > box_ratio:
        w = h / box_ratio
    else:
        h = w * box_ratio
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")
    ax.set_facecolor("#f8fafc")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for sp in ax.spines.values():
        sp.set_visible(False)
    if located:
        # badges placed where they do not overlap, with a leader line to the event when moved
        ex, ey = _xy_km(
            np.array([ev["lat"] for ev in located], dtype=float),
            np.array([ev["lon"] for ev in located], dtype=float),
            lat0,
            lon0,
        )
        ax.apply_aspect()
        at = ax.transData.transform(np.column_stack([ex, ey]))
        badges = ax.transData.inverted().transform(spread_badges(at, _badge_sep_px(fig)))
        for ev, x_e, y_e, (bx_, by_) in zip(located, ex, ey, badges, strict=True):
            c = type_colour(ev["type"])
            if abs(bx_ - x_e) + abs(by_ - y_e) > 1e-9:
                ax.plot([x_e, bx_], [y_e, by_], color=c, lw=1.0, zorder=5)
                ax.scatter([x_e], [y_e], s=18, color=c, ec="white", lw=0.8, zorder=6)
            _badge(ax, bx_, by_, ev["n"], c, size=BADGE_S, fontsize=7, lw=1.5, zorder=6)
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    span = xmax - xmin
    bar = _nice(span / 4)
    bx, by = xmin + 0.04 * span, ymin + 0.05 * (ymax - ymin)
    ax.plot([bx, bx + bar], [by, by], color=INK, lw=2.5, solid_capstyle="butt")
    ax.text(
        bx + bar / 2,
        by + 0.02 * (ymax - ymin),
        _km(bar),
        ha="center",
        va="bottom",
        fontsize=8,
        color=INK,
    )
    ax.annotate(
        "N",
        xy=(0.96, 0.97),
        xytext=(0.96, 0.86),
        xycoords="axes fraction",
        ha="center",
        fontsize=9,
        fontweight="bold",
        color=INK,
        arrowprops={"arrowstyle": "-|>", "color": INK, "lw": 1.4},
    )
    return to_data_uri(fig)


def _nice(v: float) -> float:
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (5, 2, 1):
        if m * e <= v:
            return float(m * e)
    return float(e)


def _km(v: float) -> str:
    return f"{v * 1000:.0f} m" if v < 1 else f"{v:g} km"


def _time_axis(ax: Any, start_local: dt.datetime) -> None:
    """Local clock time on the x axis, with seconds when the trip is short (a one-minute
    trip would otherwise read 17:15, 17:15, 17:15 ...)."""
    locator = mdates.AutoDateLocator(tz=start_local.tzinfo)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator, tz=start_local.tzinfo, show_offset=False)  # type: ignore[no-untyped-call]
    )


def _date(start_local: dt.datetime, seconds: float) -> float:
    """Matplotlib's date number of ``seconds`` after ``start_local``."""
    return float(mdates.date2num(start_local + dt.timedelta(seconds=seconds)))  # type: ignore[no-untyped-call]


def _times(profile: Mapping[str, Sequence[float | None]], start_local: dt.datetime) -> np.ndarray:
    t = np.array([float(v or 0.0) for v in profile.get("t_s", [])], dtype=float)
    return _date(start_local, 0.0) + t / 86400.0


def speed_profile(
    profile: Mapping[str, Sequence[float | None]],
    events: Sequence[Mapping[str, Any]],
    start_local: dt.datetime,
    size: tuple[float, float] = (10.0, 2.8),
) -> str:
    """Speed over local time, each event shaded over its span and numbered."""
    profile = thin(profile)
    fig, ax = plt.subplots(figsize=size)
    times = _times(profile, start_local)
    spd = np.array([np.nan if v is None else v * 3.6 for v in profile.get("speed_mps", [])])
    if times.size < 2:
        _empty(ax, "no speed profile")
        return to_data_uri(fig)
    ax.fill_between(times, spd, color=ACCENT, alpha=0.12, lw=0)
    ax.plot(times, spd, color=ACCENT, lw=1.3)
    top = float(np.nanmax(spd)) if np.isfinite(spd).any() else 1.0
    starts = []
    for ev in events:
        t0 = _date(start_local, ev["start_s"])
        t1 = _date(start_local, max(ev["end_s"], ev["start_s"] + 2.0))
        ax.axvspan(t0, t1, color=type_colour(ev["type"]), alpha=0.22, lw=0)
        starts.append(t0)
    ax.set_ylabel("km/h")
    _time_axis(ax, start_local)
    ax.margins(x=0.01)
    ax.set_ylim(0, top * 1.2 + 1)
    if events:
        # badges above the curve, stacked upwards where events are too close to sit side by side
        size_s = 120.0
        sep = _badge_sep_px(fig, size_s)
        at = ax.transData.transform(np.column_stack([starts, np.full(len(starts), top * 1.1)]))
        badges = ax.transData.inverted().transform(spread_badges(at, sep, upward=True))
        for _ in range(3):  # taller limits move the badges' display positions: place again
            ax.set_ylim(0, max(top * 1.2 + 1, float(badges[:, 1].max()) + 0.08 * top + 1))
            at = ax.transData.transform(np.column_stack([starts, np.full(len(starts), top * 1.1)]))
            badges = ax.transData.inverted().transform(spread_badges(at, sep, upward=True))
        for ev, (bx_, by_) in zip(events, badges, strict=True):
            _badge(
                ax, bx_, by_, ev["n"], type_colour(ev["type"]), size=size_s, fontsize=6.5, lw=1.2,
                zorder=5, clip_on=False,
            )
    return to_data_uri(fig)


def trip_timeline(
    profile: Mapping[str, Sequence[float | None]],
    events: Sequence[Mapping[str, Any]],
    start_local: dt.datetime,
    size: tuple[float, float] = (10.0, 3.2),
) -> str:
    """What happened when: forward and sideways g over the trip, and one lane per event type."""
    profile = thin(profile)
    types = sorted({e["type"] for e in events}, key=event_title)
    fig, (ax_g, ax_e) = plt.subplots(
        2,
        1,
        figsize=size,
        sharex=True,
        gridspec_kw={"height_ratios": [2.0, max(0.9, 0.38 * len(types))], "hspace": 0.08},
    )
    times = _times(profile, start_local)
    g = 9.80665
    for key, label, colour in (
        ("long_acc_mps2", "forward g", INK),
        ("lat_acc_mps2", "sideways g", "#9aa5b1"),
    ):
        vals = profile.get(key)
        if vals and len(vals) == len(times):
            ax_g.plot(
                times,
                [np.nan if v is None else v / g for v in vals],
                lw=0.9,
                color=colour,
                label=label,
            )
    ax_g.axhline(0, color=MUTED, lw=0.6)
    ax_g.set_ylabel("g")
    if ax_g.lines[1:]:
        ax_g.legend(loc="upper right", ncols=2, fontsize=7.5)
    for i, t in enumerate(types):
        for ev in (e for e in events if e["type"] == t):
            t0 = _date(start_local, ev["start_s"])
            width = max(ev["end_s"] - ev["start_s"], 4.0) / 86400.0
            ax_e.barh(i, width, left=t0, height=0.6, color=type_colour(t))
    ax_e.set_yticks(range(len(types)), [event_title(t) for t in types])
    ax_e.set_ylim(-0.6, max(len(types), 1) - 0.4)
    ax_e.invert_yaxis()
    ax_e.grid(axis="y", visible=False)
    if not types:
        ax_e.set_yticks([])
        ax_e.text(
            0.5, 0.5, "no events", transform=ax_e.transAxes, ha="center", va="center", color=MUTED
        )
    _time_axis(ax_e, start_local)
    if times.size:
        ax_e.set_xlim(times[0], times[-1])
    return to_data_uri(fig)


def event_window(
    profile: Mapping[str, Sequence[float | None]],
    event: Mapping[str, Any],
    start_local: dt.datetime,
    before_s: float = 20.0,
    after_s: float = 20.0,
) -> str:
    """A small picture of one event without video: speed and forward/sideways g around it."""
    t = np.array([np.nan if v is None else v for v in profile.get("t_s", [])], dtype=float)
    fig, ax = plt.subplots(figsize=(2.9, 1.6))
    if t.size < 2:
        _empty(ax, "no motion data")
        return to_data_uri(fig)
    lo, hi = event["start_s"] - before_s, event["end_s"] + after_s
    sel = (t >= lo) & (t <= hi)
    rel = t[sel] - event["start_s"]
    spd = np.array([np.nan if v is None else v * 3.6 for v in profile.get("speed_mps", [])])[sel]
    c = type_colour(event["type"])
    ax.axvspan(0, max(event["end_s"] - event["start_s"], 1.0), color=c, alpha=0.2, lw=0)
    ax.plot(rel, spd, color=INK, lw=1.4)
    ax.set_ylabel("km/h", fontsize=7)
    ax.tick_params(labelsize=7)
    key = (
        "lat_acc_mps2"
        if event["type"] in ("harsh_cornering", "aggressive_lane_change")
        else "long_acc_mps2"
    )
    vals = profile.get(key)
    if vals:
        ax2 = ax.twinx()
        acc = np.array([np.nan if v is None else v / 9.80665 for v in vals])[sel]
        ax2.plot(rel, acc, color=c, lw=1.1)
        ax2.set_ylabel("g", fontsize=7, color=c)
        ax2.tick_params(labelsize=7, colors=c)
        ax2.grid(False)
        for sp in ax2.spines.values():
            sp.set_visible(False)
    ax.set_xlabel("s from start of event", fontsize=7)
    return to_data_uri(fig)


def week_strip(trips: Sequence[Mapping[str, Any]], week_monday: dt.date) -> str:
    """The week at a glance: one row per day, each trip a bar at its local time of day, its
    events as coloured ticks."""
    fig, ax = plt.subplots(figsize=(10.0, 3.0))
    days = [week_monday + dt.timedelta(days=i) for i in range(7)]
    for trip in trips:
        start: dt.datetime = trip["start_local"]
        row = (start.date() - week_monday).days
        h0 = start.hour + start.minute / 60 + start.second / 3600
        dur_h = trip["duration_s"] / 3600
        ax.barh(row, dur_h, left=h0, height=0.55, color="#cbd2d9")
        for ev in trip["events"]:
            he = h0 + ev["start_s"] / 3600
            ax.plot([he, he], [row - 0.3, row + 0.3], color=type_colour(ev["type"]), lw=2.0)
    ax.set_yticks(range(7), [d.strftime("%a %d %b") for d in days])
    ax.set_ylim(6.6, -0.6)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.grid(axis="y", visible=False)
    types = sorted({e["type"] for t in trips for e in t["events"]}, key=event_title)
    if types:
        handles = [Line2D([], [], color=type_colour(t), lw=2.5) for t in types]
        ax.legend(
            handles,
            [event_title(t) for t in types],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncols=min(len(types), 4),
            fontsize=7.5,
        )
    return to_data_uri(fig)
