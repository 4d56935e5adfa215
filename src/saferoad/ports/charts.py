"""Chart port: the figures a use case puts on a page (``adapters/reports/plots``: inline SVG)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class ScoreTrendChart(Protocol):
    """Weekly safety scores as a line (the fleet's beside them, ``floor``: the axis' lower end);
    returns the chart as inline SVG markup."""

    def __call__(
        self,
        weeks: Sequence[str],
        scores: Sequence[float | None],
        fleet: Sequence[float | None] | None = None,
        floor: float = 50.0,
        /,
    ) -> str: ...


class ReportFigures(Protocol):
    """The figures and colours of the safe-driving reports (``adapters/reports/plots``: each
    chart as inline SVG markup, colours as ``#rrggbb``)."""

    def type_colour(self, event_type: str, /) -> str: ...

    def score_colour(self, score: float | None, /) -> str: ...

    def score_trend(
        self,
        weeks: Sequence[str],
        scores: Sequence[float | None],
        fleet: Sequence[float | None] | None = None,
        floor: float = 50.0,
        label: str = "driver",
    ) -> str: ...

    def rates_vs_fleet(
        self, driver_rates: Mapping[str, float], fleet_rates: Mapping[str, float], per: str = "1,000 km", /
    ) -> str: ...

    def ranking(
        self,
        names: Sequence[str],
        scores: Sequence[float | None],
        highlight: str | None = None,
        floor: float = 50.0,
    ) -> str: ...

    def rate_heatmap(
        self,
        drivers: Sequence[str],
        types: Sequence[str],
        rates: Sequence[Sequence[float]],
        per: str = "1,000 km",
        /,
    ) -> str: ...

    def route_map(
        self,
        profile: Mapping[str, Sequence[float | None]],
        route: Sequence[Sequence[float]],
        events: Sequence[Mapping[str, Any]],
        /,
    ) -> str: ...

    def speed_profile(
        self,
        profile: Mapping[str, Sequence[float | None]],
        events: Sequence[Mapping[str, Any]],
        start_local: dt.datetime,
        /,
    ) -> str: ...

    def trip_timeline(
        self,
        profile: Mapping[str, Sequence[float | None]],
        events: Sequence[Mapping[str, Any]],
        start_local: dt.datetime,
        /,
    ) -> str: ...

    def event_window(
        self, profile: Mapping[str, Sequence[float | None]], event: Mapping[str, Any], start_local: dt.datetime, /
    ) -> str: ...

    def week_strip(self, trips: Sequence[Mapping[str, Any]], week_monday: dt.date, /) -> str: ...


class ReportWriter(Protocol):
    """Renders report template ``template`` with ``context`` to ``output`` (``.html``, or
    ``.pdf`` through a browser); returns the file written (``adapters/reports/render``)."""

    def __call__(self, template: str, context: dict[str, Any], output: Path, /) -> Path: ...


@dataclass(frozen=True)
class ReportPorts:
    """What the report use case (``application/report.py``) draws and writes with; built by
    ``entrypoints/wiring.report_ports``."""

    figures: ReportFigures
    write: ReportWriter
