"""Event cards: a harsh manoeuvre's speed is the speed it started from (issue 15 item 6)."""

from __future__ import annotations

import datetime as dt

from saferoad.application.report import key_figures
from saferoad.ports.store import EventRecord

T0 = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)


def test_braking_card_gives_the_speed_at_onset() -> None:
    """A braking from 45 km/h to a stop peaks at walking pace: the card says 45 km/h."""
    ev = EventRecord(
        0, "harsh_braking", 10.0, 12.5, T0, "high", 0.9,
        peak={"accel_g": -0.45, "speed_mps": 1.7, "speed_onset_mps": 12.5}, speed_mps=1.2,
    )  # fmt: skip
    figs = key_figures(ev)
    assert ("speed", "45 km/h") in figs
    assert [label for label, _ in figs].count("speed") == 1
    assert [label for label, _ in figs] == ["peak", "speed", "duration"]


def test_without_onset_the_speed_is_the_events_own() -> None:
    ev = EventRecord(0, "tailgating", 3.0, 40.0, T0, "medium", 0.8, peak={"min_headway_s": 0.4}, speed_mps=20.0)
    assert ("speed", "72 km/h") in key_figures(ev)
