"""One event fan-out: every sink of an analysis receives the final events, the same ones
``events.jsonl`` holds (clip paths and the camera-fused lane-change direction included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from saferoad.application.sinks import FanOut
from saferoad.config import SaferoadConfig
from saferoad.domain.types import Direction, Event, EventType, Severity
from saferoad.entrypoints import wiring
from saferoad.entrypoints.wiring import simulate


class RecordingSink:
    """Keeps each event as it was when it arrived (serialised, as the gRPC stream sends it)."""

    def __init__(self, fail_on_close: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self.fail_on_close = fail_on_close

    def emit(self, event: Event) -> None:
        self.events.append(event.to_dict())

    def close(self) -> None:
        self.closed = True
        if self.fail_on_close:
            raise OSError("disk full")


def _event(t: float) -> Event:
    return Event(EventType.HARSH_BRAKING, t, t + 1.0, Severity.MEDIUM, 0.9)


def test_fan_out_reaches_every_sink_and_closes_all_even_when_one_fails() -> None:
    a, b, c = RecordingSink(), RecordingSink(fail_on_close=True), RecordingSink()
    fan = FanOut([a, b, c])
    for t in (1.0, 2.0):
        fan.emit(_event(t))
    assert [e["start_s"] for e in a.events] == [e["start_s"] for e in c.events] == [1.0, 2.0]
    with pytest.raises(OSError, match="disk full"):
        fan.close()
    assert a.closed and b.closed and c.closed


def test_every_sink_gets_the_events_of_events_jsonl_clip_and_camera_direction_included(tmp_path: Path) -> None:
    """A simulated aggressive lane change with road video: the IMU finds it in the motion
    stage, the road stage gives it the camera's direction and a clip. The caller's sink used
    to receive it before those (the IMU's direction, no clip); now it receives the final
    event, exactly as events.jsonl has it, and the caller's sink is left open."""
    cfg = SaferoadConfig()
    simulate("aggressive_lane_change", tmp_path / "rec", seed=0, video=True, config=cfg)
    rec = wiring.open_recording(tmp_path / "rec")
    assert rec.video is not None and rec.detections is not None
    ports = wiring.analysis_ports()
    sink = RecordingSink()
    res = wiring.analyze_recording(
        rec, cfg, tmp_path / "out", sink=sink, detector=ports.detectors.replay(rec.detections)
    )
    written = [json.loads(line) for line in (tmp_path / "out/events.jsonl").read_text().splitlines()]
    assert sink.events == written == [e.to_dict() for e in res.events]
    [lane_change] = [e for e in sink.events if e["type"] == EventType.AGGRESSIVE_LANE_CHANGE.value]
    camera = lane_change["evidence"]["camera_lane_change"]
    assert lane_change["direction"] == Direction(camera["direction"]).value
    assert (tmp_path / "out" / lane_change["evidence"]["clip"]).is_file()
    assert not sink.closed
