"""``CabinStream.from_video`` builds the face pipeline and the phone detector before it opens
the cabin video: a part that fails to open (the video, the phone model) closes what was built
before it and raises its own error. Before, the face pipeline (and the phone detector) stayed
open: measured on the old code, ``[('face', 0), ('phone', 1)]`` left open by a missing video.
The live cabin camera builds the same parts the same way, and ``CabinStream.close`` closes each
even where one before it fails."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from saferoad.application.cabin import run_cabin_video
from saferoad.application.edge_cabin import CabinStream, LiveCabin
from saferoad.config import load_config, parse_assignments
from saferoad.domain.cabin.phone import PhoneObservation
from saferoad.domain.cabin.signals import CabinSample
from saferoad.entrypoints.wiring import cabin_ports, simulate


class _Opened:
    """The parts built, by name, and which of those were closed."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int]] = []
        self.closed: set[tuple[str, int]] = set()

    def add(self, name: str) -> tuple[str, int]:
        self.opened.append((name, len(self.opened)))
        return self.opened[-1]

    def left_open(self) -> list[tuple[str, int]]:
        return [k for k in self.opened if k not in self.closed]


class _Part:
    """A face pipeline that sees no face, or a phone detector that sees no phone."""

    last_landmarks = None

    def __init__(self, opened: _Opened, name: str) -> None:
        self.opened = opened
        self.name = name  # what summary.json names the phone detector by
        self.key = opened.add(name)

    def analyze(self, frame: Any) -> CabinSample:
        return CabinSample(frame.index, frame.t_s, face=False)

    def detect(self, frame: Any, face: Any) -> PhoneObservation:
        return PhoneObservation(frame.index, frame.t_s)

    def close(self) -> None:
        self.opened.closed.add(self.key)


def _ports(opened: _Opened, *, phone_fails: bool = False) -> Any:
    base = cabin_ports()

    def phone(**_k: Any) -> _Part:
        if phone_fails:
            raise FileNotFoundError("phone model: /nowhere/yolox_nano.onnx not found")
        return _Part(opened, "phone")

    def video(source: str | Path) -> Any:
        frames = base.open_video(source)  # the real decoder: a missing file raises here
        key = opened.add("video")
        real = frames.close

        def close() -> None:
            opened.closed.add(key)
            real()

        frames.close = close
        return frames

    return replace(base, face_analyzer=lambda *_a: _Part(opened, "face"), phone_detector=phone, open_video=video)


def test_from_video_closes_what_it_built_when_a_part_fails_to_open(tmp_path: Path) -> None:
    cfg = load_config(None, parse_assignments(["cabin.phone_detector=yolox-nano"])).cabin
    assert cfg.phone_detector != "none"

    # the video does not open: the face pipeline and the phone detector built before it closed
    opened = _Opened()
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp4: video not found"):
        CabinStream.from_video(tmp_path / "nowhere.mp4", cfg, _ports(opened))
    assert [name for name, _ in opened.opened] == ["face", "phone"]
    assert opened.left_open() == []

    # the phone model does not open: the face pipeline closed, the video never opened
    opened = _Opened()
    with pytest.raises(FileNotFoundError, match=r"yolox_nano\.onnx"):
        CabinStream.from_video(tmp_path / "nowhere.mp4", cfg, _ports(opened, phone_fails=True))
    assert [name for name, _ in opened.opened] == ["face"] and opened.left_open() == []

    # every part opens: the stream holds them all until its close
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=2", "camera.fps=5", "camera.width=160",
                                                   "camera.height=90"], seed=1)  # fmt: skip
    opened = _Opened()
    stream = CabinStream.from_video(rec_dir / "video.mp4", cfg, _ports(opened))
    assert [name for name, _ in opened.opened] == ["face", "phone", "video"]
    assert len(opened.left_open()) == 3
    assert stream.first_t() == pytest.approx(0.0, abs=1e-6)
    stream.close()
    assert opened.left_open() == []


def test_the_live_cabin_closes_the_face_pipeline_when_the_phone_model_fails() -> None:
    """The live cabin camera builds the same parts (application/cabin.cabin_models): a phone
    model that fails to open closes the face pipeline built before it (it was left open)."""
    cfg = load_config(None, parse_assignments(["cabin.phone_detector=yolox-nano"])).cabin
    opened = _Opened()
    with pytest.raises(FileNotFoundError, match=r"yolox_nano\.onnx"):
        LiveCabin(object(), cfg, _ports(opened, phone_fails=True), origin=0.0)  # type: ignore[arg-type]
    assert [name for name, _ in opened.opened] == ["face"] and opened.left_open() == []


def test_a_part_that_fails_to_close_does_not_keep_the_others_open() -> None:
    """CabinStream.close closes every part even where one fails (the video's close raising left
    the face pipeline and the phone detector open, and forgotten: a second close did nothing),
    then raises that failure."""
    cfg = load_config(None, parse_assignments([])).cabin
    opened = _Opened()
    face, phone = _Part(opened, "face"), _Part(opened, "phone")

    def video_close() -> None:
        raise OSError("decoder: close failed")

    stream = CabinStream(iter(()), cfg, classify_eyes=True, source="x", closers=[video_close, face.close, phone.close])
    with pytest.raises(OSError, match="decoder: close failed"):
        stream.close()
    assert opened.left_open() == []
    stream.close()  # again: nothing


def test_analyze_cabin_stage_closes_what_it_built_when_a_part_fails_to_open(tmp_path: Path) -> None:
    """analyze's cabin stage (``run_cabin_video``) builds the same parts: the video that does
    not open closes the face pipeline and the phone detector, a phone model that fails closes
    the face pipeline (both were left open); a run that opens everything closes all three."""
    cfg = load_config(None, parse_assignments(["cabin.phone_detector=yolox-nano"])).cabin
    opened = _Opened()
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp4: video not found"):
        run_cabin_video(tmp_path / "nowhere.mp4", cfg, ports=_ports(opened))
    assert [name for name, _ in opened.opened] == ["face", "phone"] and opened.left_open() == []

    opened = _Opened()
    with pytest.raises(FileNotFoundError, match=r"yolox_nano\.onnx"):
        run_cabin_video(tmp_path / "nowhere.mp4", cfg, ports=_ports(opened, phone_fails=True))
    assert [name for name, _ in opened.opened] == ["face"] and opened.left_open() == []

    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=2", "camera.fps=5", "camera.width=160",
                                                   "camera.height=90"], seed=1)  # fmt: skip
    opened = _Opened()
    res = run_cabin_video(rec_dir / "video.mp4", cfg, ports=_ports(opened))
    assert [name for name, _ in opened.opened] == ["face", "phone", "video"] and opened.left_open() == []
    assert len(res.samples) == 11  # t = 0 to 2 s at 5 fps, each frame through the (faceless) pipeline
