"""The video loop and the live camera's threads.

LoopRun is used from two threads of the live camera: the reader times each frame
(:meth:`LoopRun.frame`, the base estimate moving) while the watchdog names the finished
segments (:meth:`LoopRun.base_at` via ``collect``). A lookup must never fail on the other's
append: before the lock it raised 'deque mutated during iteration' in the watchdog, which
then stopped restarting the decoder and moving segments."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.adapters.video.loop_video import LoopRun, LoopVideoSpec


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switched every 10 µs, so the two interleave within the lookup's walk."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def test_segment_naming_is_safe_while_frames_arrive(tmp_path: Path, fast_switching: None) -> None:
    run_dir = tmp_path / ".recording" / "run_1"
    run_dir.mkdir(parents=True)
    run = LoopRun(LoopVideoSpec(tmp_path, 1.0), 30.0, run_dir)
    for k in range(2000):  # each frame less delayed than the last: the base moves at every frame
        run.frame(100.0 - k * 1e-3)
    first_base = run._bases[0][1]
    stop, errors = threading.Event(), []

    def reader() -> None:
        k = 0
        try:
            while not stop.is_set():
                run.frame(50.0 - k * 1e-3)
                k += 1
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    t = threading.Thread(target=reader)
    t.start()
    looked_up, t_end = 0, time.monotonic() + 0.3
    try:
        while time.monotonic() < t_end:
            # frame 0's base (the walk goes over every change since it, newest first)
            assert run.base_at(0.0) == first_base
            looked_up += 1
    finally:
        stop.set()
        t.join(timeout=5)
    assert not errors
    assert looked_up > 10
    assert len(run._bases) > 2000  # the reader kept appending meanwhile


def test_a_restart_does_not_wait_for_the_ended_runs_segment_to_be_named(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog restarts the decoder before it names the killed run's cut segment: that
    probe decodes the segment (about 0.5 s for 6 s of 720p here, so seconds for a default 60 s
    one), and done first it lengthened the camera's gap by as much. Here it is made to take
    2.5 s: the gap stays shorter than that."""
    slow_s = 2.5
    finish = LoopRun.finish

    def slow_finish(self: LoopRun) -> int:
        time.sleep(slow_s)
        return finish(self)

    monkeypatch.setattr(LoopRun, "finish", slow_finish)
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, loop_file=True, fps=10.0,
                            loop_video=LoopVideoSpec(tmp_path / "loop", 1.0))  # fmt: skip
    try:
        assert src.read(timeout_s=15) is not None, src.stats.last_error
        t_end = time.monotonic() + 0.5
        while time.monotonic() < t_end:
            src.read(timeout_s=2)
        pid = src.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the watchdog restarts it
        t_end = time.monotonic() + 10.0
        while not src.stats.gaps and time.monotonic() < t_end:
            src.read(timeout_s=1)
    finally:
        monkeypatch.undo()  # the close names the last run at its real speed
        src.close()
    assert src.stats.restarts == 1
    ((before, after),) = src.stats.gaps
    assert after - before < slow_s, (before, after)
