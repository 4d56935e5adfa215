"""The edge recorder's final events go through one FanOut (application/sinks.py): the spool and
the caller's sink receive the same events, each once, final (road events with their clip
window), as analyze's events.jsonl writer and the gRPC stream do."""

from __future__ import annotations

from pathlib import Path

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import EdgeRecorder, event_id_for
from saferoad.config import SaferoadConfig
from saferoad.domain.event_specs import Family, spec
from saferoad.domain.types import Event
from saferoad.entrypoints.wiring import analysis_ports, open_spool, simulate


class ListSink:
    """An EventSink that keeps what it receives (and whether it was closed)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("edge-fanout") / "demo"
    simulate("demo", rec, seed=5, video=False)
    return rec


def _key(e: Event) -> tuple[float, str]:
    return (e.start_s, e.type.value)


def test_spool_and_caller_sink_get_the_same_final_events_once(drive: Path, tmp_path: Path) -> None:
    sink = ListSink()
    spool = open_spool(SaferoadConfig().edge, tmp_path / "spool.db")
    try:
        report = EdgeRecorder(SaferoadConfig(), ports=analysis_ports(), spool=spool, sink=sink).replay(
            open_recording(drive), speed=0
        )
        stored = spool.events()
    finally:
        spool.close()
    assert report.events, "the demo drive has events"
    assert sorted(sink.events, key=_key) == report.events
    ids = [event_id_for(report.trip_id, e) for e in sink.events]
    assert len(set(ids)) == len(ids)
    assert sorted(r["event_id"] for r in stored) == sorted(ids)
    assert report.new_in_spool == len(ids)
    # final when they arrive: every road event already carries its clip window
    road = [e for e in sink.events if spec(e.type).family == Family.ROAD]
    assert road and all("clip_window_s" in e.evidence for e in road)
    assert not sink.closed, "the caller closes its own sink"


def test_caller_sink_without_a_spool(drive: Path) -> None:
    sink = ListSink()
    report = EdgeRecorder(SaferoadConfig(), ports=analysis_ports(), sink=sink).replay(open_recording(drive), speed=0)
    assert sorted(sink.events, key=_key) == report.events
    assert report.new_in_spool == 0
