"""A replay that fails closes what it opened: the road camera's video (``RoadStream``'s
``CameraFeed``) and the cabin camera's video and face pipeline (``CabinStream``). Before, only
the drive's normal end (``RoadStream.finish``, ``CabinStream.finish``) closed them: a sink
failing mid-drive left the face pipeline open (measured on the old code: ``[('face', 1)]``),
and a recording refused for having no sensor samples left its road video open (``[('road',
0)]``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import EdgeRecorder
from saferoad.config import load_config, parse_assignments
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.types import Event
from saferoad.entrypoints.wiring import analysis_ports, cabin_ports, simulate


class _Closes:
    """What the ports opened, by name, and which of those were closed."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []
        self.closed: set[tuple[str, int]] = set()

    def wrap(self, name: str, source: Any) -> Any:
        key = (name, len(self.opened))
        self.opened.append(key)
        real_close = source.close

        def close() -> None:
            self.closed.add(key)
            real_close()

        source.close = close
        return source

    def left_open(self) -> list[tuple[str, int]]:
        return [k for k in self.opened if k not in self.closed]

    def clear(self) -> None:
        self.opened.clear()
        self.closed.clear()


class _NoFace:
    """A face pipeline that sees no face (the models are not this test's subject)."""

    last_landmarks = None

    def __init__(self, closes: _Closes) -> None:
        self.closes = closes
        closes.opened.append(("face", len(closes.opened)))
        self.key = closes.opened[-1]

    def analyze(self, frame: Any) -> CabinSample:
        return CabinSample(frame.index, frame.t_s, face=False)

    def close(self) -> None:
        self.closes.closed.add(self.key)


class _RefusingSink:
    def emit(self, event: Event) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        return None


def test_a_failing_replay_closes_the_road_and_cabin_videos(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=12", "at_s=4", "camera.fps=10", "camera.width=320",
                                                   "camera.height=180"], seed=1)  # fmt: skip
    rec = open_recording(rec_dir)
    assert rec.video is not None and rec.imu is not None
    cfg = load_config(None, parse_assignments([
        "perception.detector=replay", f"perception.replay_path={rec_dir / 'detections.json'}", "lanes.enabled=false",
        "cabin.phone_detector=none",
    ]))  # fmt: skip
    closes = _Closes()
    base = analysis_ports()
    ports = replace(base, open_frames=lambda *a, **k: closes.wrap("road", base.open_frames(*a, **k)))
    cabin = replace(
        cabin_ports(),
        face_analyzer=lambda *_a: _NoFace(closes),
        open_video=lambda source: closes.wrap("cabin", base.open_frames(source)),
    )
    # the road video as the cabin camera's too: both streams open a decoder
    both = replace(rec, cabin_video=rec.video)

    # the caller's sink fails at the drive's first final event: raised, every video closed
    with pytest.raises(OSError, match="No space left on device"):
        EdgeRecorder(cfg, ports=ports, cabin_ports=cabin, sink=_RefusingSink()).replay(both, speed=0)
    assert {name for name, _ in closes.opened} == {"road", "cabin", "face"}
    assert closes.left_open() == []

    # nothing to replay but the road video: refused, the video it opened first closed
    closes.clear()
    with pytest.raises(ValueError, match="no IMU, GPS, CAN or cabin samples to replay"):
        EdgeRecorder(cfg, ports=ports).replay(replace(rec, imu=None, gps=None, can_speed=None), speed=0)
    assert {name for name, _ in closes.opened} == {"road"} and closes.left_open() == []

    # a drive to its end closes them too (its own way)
    closes.clear()
    report = EdgeRecorder(cfg, ports=ports, cabin_ports=cabin).replay(both, speed=0)
    assert report.events and report.cabin_frames > 0
    assert {name for name, _ in closes.opened} == {"road", "cabin", "face"} and closes.left_open() == []
