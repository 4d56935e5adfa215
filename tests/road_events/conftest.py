"""Helpers for the road-event tests: simulate a scenario, run the camera rules on its
replayed ground-truth boxes (streaming and batch), compare with its labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.replay.detector import ReplayDetector
from saferoad.adapters.replay.frames import DetectionFrames as _DetectionFrames
from saferoad.application.stages.road import params_from_config
from saferoad.application.stages.road_camera import SourceIdTracker
from saferoad.config import SaferoadConfig, load_config
from saferoad.domain.recording import Recording
from saferoad.domain.road_events import (
    RoadEventParams,
    StreamingRoad,
    StreamingSpeeding,
    batch_road,
    batch_speeding,
)
from saferoad.domain.timeline import Stream
from saferoad.domain.types import Event, EventLabel
from saferoad.entrypoints.wiring import simulate

ROAD_TYPES = frozenset(
    {"tailgating", "forward_collision_warning", "rolling_stop", "stop_sign_violation",
     "red_light", "speeding"}
)
TOLERANCE_S = 0.5


@dataclass
class RoadCase:
    recording: Recording
    labels: list[EventLabel]
    batch: list[Event]
    streaming: list[Event]

    def check(self, expect: set[str]) -> None:
        """The scenario's labels are of the ``expect``ed types, the detected events match
        them, and streaming equals batch exactly."""
        got = {lb.type for lb in self.labels}
        assert got == expect, f"scenario labels {got}, expected {expect}"
        assert mismatches(self.batch, self.labels) == []
        assert events_key(self.streaming) == events_key(self.batch)


def road_labels(rec: Recording) -> list[EventLabel]:
    return [lb for lb in (rec.labels or ()) if lb.type in ROAD_TYPES]


def run_camera_rules(rec: Recording, params: RoadEventParams) -> tuple[list[Event], list[Event]]:
    """Batch and streaming events of the camera rules on the recording's replayed boxes
    (ground-truth track ids) and its GPS speed."""
    assert rec.detections is not None and rec.gps is not None and rec.meta.camera is not None
    det = ReplayDetector(rec.detections)
    tracker = SourceIdTracker()
    frames = [
        (f.t_s, f.index, tuple(tracker.update(det.detect(f))))
        for f in _DetectionFrames(rec.detections)
    ]
    speed = Stream.scalar("speed", rec.gps.t_s, rec.gps.speed_mps, 0.0, params.max_gap_s)
    cam = rec.meta.camera
    batch, _ = batch_road(frames, speed, params, fx=cam.fx, cx=cam.cx)
    stream = StreamingRoad(params, fx=cam.fx, cx=cam.cx)
    streaming: list[Event] = []
    i = 0
    ts, vs = rec.gps.t_s.tolist(), rec.gps.speed_mps.tolist()
    for t, idx, objs in frames:  # speed samples arrive as time passes
        while i < len(ts) and ts[i] <= t:
            streaming += stream.push_speed(ts[i], vs[i])
            i += 1
        streaming += stream.push_frame(t, idx, objs)
    for t, v in zip(ts[i:], vs[i:], strict=True):
        streaming += stream.push_speed(t, v)
    streaming += stream.finish()
    return batch, streaming


def run_speeding_rule(rec: Recording, params: RoadEventParams, limit_kmh: float) -> tuple[list[Event], list[Event]]:
    assert rec.gps is not None
    speed = Stream.scalar("speed", rec.gps.t_s, rec.gps.speed_mps, 0.0, params.max_gap_s)

    def limit_at(lat: float, lon: float) -> tuple[float, str | None]:
        return limit_kmh / 3.6, None

    batch = batch_speeding(speed, None, limit_at, params)
    st = StreamingSpeeding(limit_at, params, has_gps=False)
    streaming: list[Event] = []
    for t, v in zip(rec.gps.t_s.tolist(), rec.gps.speed_mps.tolist(), strict=True):
        streaming += st.push_speed(t, v)
    return batch, streaming + st.finish()


def mismatches(events: Sequence[Event], labels: Sequence[EventLabel], tol: float = TOLERANCE_S) -> list[str]:
    """Differences between detected road events and labels: each label needs one event of
    its type with start and end within ``tol``; no other road event may be detected."""
    preds = [e for e in events if e.type.value in ROAD_TYPES]
    left = list(preds)
    out = []
    for lb in labels:
        hit = next(
            (e for e in left if e.type.value == lb.type and abs(e.start_s - lb.start_s) <= tol
             and abs(e.end_s - lb.end_s) <= tol),
            None,
        )
        if hit is None:
            out.append(f"missed {lb.type} {lb.start_s:.2f}-{lb.end_s:.2f}")
        else:
            left.remove(hit)
    out += [f"extra {e.type.value} {e.start_s:.2f}-{e.end_s:.2f}" for e in left]
    return out


def events_key(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Everything an event says, for exact streaming-vs-batch comparison."""
    return [e.to_dict() for e in sorted(events, key=lambda e: (e.start_s, e.type.value, e.end_s))]


@pytest.fixture(scope="session")
def road_config() -> SaferoadConfig:
    return load_config(None, {"perception": {"detector": "replay"}})


@pytest.fixture
def simulate_case(tmp_path: Path, road_config: SaferoadConfig) -> Callable[..., RoadCase]:
    params = params_from_config(road_config.road_events)

    def make(name: str, seed: int, sets: Sequence[str] = (), *, speeding_limit: float | None = None) -> RoadCase:
        out = tmp_path / f"{name}-{seed}-{abs(hash(tuple(sets))) % 10**8}"
        simulate(name, out, assignments=list(sets), seed=seed, video=False, config=road_config)
        rec = open_recording(out)
        if speeding_limit is not None:
            batch, streaming = run_speeding_rule(rec, params, speeding_limit)
        else:
            batch, streaming = run_camera_rules(rec, params)
        return RoadCase(rec, road_labels(rec), batch, streaming)

    return make

