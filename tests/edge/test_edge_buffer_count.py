"""The streaming motion rules' count of samples held (the recorder's queue bound, read at every
step) stays the sum of the chunks it holds while chunks come and the window trims them."""

from __future__ import annotations

from pathlib import Path

from saferoad.adapters.recording import open_recording
from saferoad.application.stages.motion import params_from_config
from saferoad.config import SaferoadConfig
from saferoad.domain.motion.streaming import (
    StreamingMotion,
    StreamParams,
    chunk_gps,
    chunk_imu,
    ticks,
)
from saferoad.entrypoints.wiring import simulate


def test_buffered_samples_is_the_sum_of_the_chunks_held(tmp_path: Path) -> None:
    simulate("harsh_braking", tmp_path / "rec", assignments=["duration_s=150"], seed=1, video=False)
    rec = open_recording(tmp_path / "rec")
    motion = StreamingMotion(params_from_config(SaferoadConfig().motion, rec), StreamParams(20.0, 1.0, 5.0, 2.0))
    trimmed = False
    for a, b in ticks(float(rec.imu.t_s[0]), float(rec.imu.t_s[-1]), 0.5):
        motion.push(chunk_imu(rec.imu, a, b), chunk_gps(rec.gps, a, b), None)
        held = sum(len(c) for buf in (motion._imu, motion._gps, motion._can) for c in buf)
        assert motion.buffered_samples == held
        trimmed |= held < sum(len(s) for s in (rec.imu, rec.gps)) * (b - float(rec.imu.t_s[0])) / rec.duration_s - 100
    assert trimmed  # the window did drop chunks on the way
