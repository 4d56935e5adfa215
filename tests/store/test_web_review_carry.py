"""Re-ingesting a re-analysed recording keeps the review decisions of its events."""

from __future__ import annotations

import datetime as dt

from saferoad.application.ingest import carry_review
from saferoad.ports.store import EventRecord, TripIds, TripRecord

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _trip(*events: EventRecord) -> TripRecord:
    return TripRecord(
        trip_key="k",
        content_hash="h",
        ids=TripIds("tokyo-taxi", "V1", "D1", "SR-1"),
        start_utc=T0,
        end_utc=T0 + dt.timedelta(minutes=10),
        timezone="Asia/Tokyo",
        local_week="2026-W10",
        distance_km=5.0,
        duration_s=600.0,
        source_path="/x",
        route=[],
        profile={},
        summary={},
        events=list(events),
    )


def _ev(seq: int, etype: str, start_s: float, status: str = "needs_review") -> EventRecord:
    reason = "glare" if status == "dismissed" else None
    return EventRecord(
        seq, etype, start_s, start_s + 1.0, T0, "low", 0.9, status=status, dismiss_reason=reason
    )


def test_status_follows_events_within_a_twentieth_of_a_second() -> None:
    old = _trip(
        _ev(0, "harsh_braking", 10.149, "dismissed"),  # next start 0.002 s away, other 0.1 s bin
        _ev(1, "tailgating", 30.0, "coached"),
        _ev(2, "speeding", 50.0, "dismissed"),
    )
    new = _trip(
        _ev(0, "harsh_braking", 10.151),
        _ev(1, "tailgating", 30.04),
        _ev(2, "speeding", 50.2),  # 0.2 s away: another event
        _ev(3, "harsh_cornering", 30.0),  # same time, other type
    )
    got = carry_review(old, new).events
    assert [(e.status, e.dismiss_reason) for e in got] == [
        ("dismissed", "glare"),
        ("coached", None),
        ("needs_review", None),
        ("needs_review", None),
    ]
