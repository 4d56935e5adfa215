"""The soak: a 1-hour simulated drive (road video + IMU/GPS + cabin track) replayed through the
recorder paced at 20x real time on the wall clock (3 minutes), with an fsynced spool.

Printed: the RSS slope over the second half of the drive (MiB per hour of driving), the queues'
largest sizes and their bounds, late steps. Asserted:

* no unbounded queue: the samples the streaming motion rules hold never exceed what the window
  (``motion_window_s`` + a hop and a step) holds at the recording's sample rates, the road frames
  waiting for their final ego speed never exceed ``motion_guard_s`` + a hop + a step + the road
  rules' ``max_gap_s`` of frames, and neither grows after the first half hour; the lane stream
  holds at most its window + guard + two hops + a step of frames' observations;
* flat memory, generously: at the measured slope, a 10-hour driving day (EU Regulation
  561/2006: 9 h of daily driving, extendable to 10 h twice a week) stays inside the configured
  memory budget (``edge.memory_budget_mb``) above the RSS reached.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.spool import SqliteSpool
from saferoad.application.edge import EdgeRecorder, EdgeReport, WallClock
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analysis_ports, simulate

DRIVING_DAY_H = 10.0
"""EU Regulation (EC) No 561/2006, art. 6: daily driving time at most 9 h, 10 h twice a week."""


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_one_hour_drive_at_20x_keeps_queues_bounded_and_memory_flat(tmp_path: Path) -> None:
    rec_dir = tmp_path / "drive"
    simulate(
        "mixed_drive", rec_dir, seed=3, video=True,
        assignments=["segments=132", "risky_share=0.5", "plan_seed=3", "camera.fps=5", "camera.width=256", "camera.height=144"],
    )  # fmt: skip
    rec = open_recording(rec_dir)
    assert rec.video is not None and rec.duration_s >= 3600
    # the replay detector: the simulator's boxes (perception is measured elsewhere; this is the
    # recorder's own memory and queues under video + sensors)
    cfg = load_config(overrides={"perception": {"detector": "replay"}})
    ecfg = cfg.edge
    rss: list[tuple[float, float]] = []
    half: dict[str, int] = {}

    def on_tick(t: float, report: EdgeReport) -> None:
        if not rss or t >= rss[-1][0] + 60.0:
            rss.append((t, _rss_mib()))
        if not half and t >= rec.duration_s / 2:
            half.update(samples=report.max_buffered_samples, frames=report.max_waiting_frames)

    spool = SqliteSpool(tmp_path / "spool.db")
    report = EdgeRecorder(cfg, ports=analysis_ports(), spool=spool, clock=WallClock()).replay(rec, speed=20.0, on_tick=on_tick)
    spool.close()

    t = np.array([r[0] for r in rss]) / 3600.0
    m = np.array([r[1] for r in rss])
    second = t >= t[-1] / 2
    slope = float(np.polyfit(t[second], m[second], 1)[0])
    # bounds from the configuration and the recording's rates
    rates = sum(len(s) / rec.duration_s for s in (rec.imu, rec.gps, rec.can_speed) if s is not None)
    step = ecfg.motion_hop_s + 2 * ecfg.tick_s
    samples_bound = (ecfg.motion_window_s + step) * rates
    frames_bound = (ecfg.motion_guard_s + step + cfg.road_events.max_gap_s) * 5.0
    # lane observations: the lane stream's window, its guard, two hops and a step of frames
    lanes_bound = (ecfg.motion_window_s + ecfg.motion_guard_s + 2 * ecfg.motion_hop_s + ecfg.tick_s) * 5.0 + 1
    print(
        f"\nsoak: {report.sensor_s / 3600:.2f} h of driving in {report.wall_s:.0f} s wall "
        f"({report.sensor_s / report.wall_s:.1f}x; {report.late_ticks} of {report.ticks} steps late), "
        f"{len(report.events)} events; RSS {m[0]:.1f} -> {m[-1]:.1f} MiB, slope over the second half "
        f"{slope:+.2f} MiB per hour of driving ({int(second.sum())} samples); most samples buffered "
        f"{report.max_buffered_samples} (bound {samples_bound:.0f}), most frames waiting "
        f"{report.max_waiting_frames} (bound {frames_bound:.0f}), most lane observations held "
        f"{report.lanes.get('max_held')} (bound {lanes_bound:.0f})"
    )
    assert report.sensor_s >= 3590 and len(report.events) >= 50
    assert 0 < report.max_buffered_samples <= samples_bound
    assert 0 < report.max_waiting_frames <= frames_bound
    assert report.lanes["frames"] > 10_000 and 0 < report.lanes["max_held"] <= lanes_bound
    # not growing: the second half's largest sizes are the first half's (one step of slack)
    assert report.max_buffered_samples <= half["samples"] + ecfg.tick_s * rates + 1
    assert report.max_waiting_frames <= half["frames"] + 1
    budget = ecfg.memory_budget_mb if ecfg.memory_budget_mb is not None else 1536.0
    assert m[-1] + max(slope, 0.0) * DRIVING_DAY_H < budget, (slope, m[-1], budget)
