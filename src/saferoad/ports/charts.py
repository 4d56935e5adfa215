"""Chart port: the figures a use case puts on a page (``adapters/reports/plots``: inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


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
