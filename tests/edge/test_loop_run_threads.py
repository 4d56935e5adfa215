"""LoopRun is used from two threads of the live camera: the reader times each frame
(:meth:`LoopRun.frame`, the base estimate moving) while the watchdog names the finished
segments (:meth:`LoopRun.base_at` via ``collect``). A lookup must never fail on the other's
append: before the lock it raised 'deque mutated during iteration' in the watchdog, which
then stopped restarting the decoder and moving segments."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
