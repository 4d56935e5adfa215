"""The edge recorder on this machine: a bounded soak with its RSS slope, alert latency p50/p99
and how much faster than real time the streaming rules run, against the batch analyze of the
same drive (the baseline, measured in the same run).

A simulated mixed drive (``mixed_drive``, 40 segments, half of the manoeuvres done the hard way:
about 19 minutes of 100 Hz IMU, 10 Hz GPS and a cabin track, no video) is replayed through
``EdgeRecorder`` as fast as it runs (``--speed 0``) with a callback sink and an fsynced SQLite
spool. Figures:

* real-time factor of the recorder (sensor seconds per wall second) and of ``analyze`` on the
  same recording (batch, the cloud path);
* alert latency (wall, from the arrival of the completing samples to the sinks' return) p50 and
  p99, the rules' latency in sensor time (event end to the sample that made it final) and the
  early harsh-driving alerts' (event end to the alert; confirmed / retracted);
* RSS every 60 s of sensor time; its least-squares slope over the second half of the drive
  (after the 60 s window has filled), in MiB per hour of driving; the most samples buffered.

    .venv/bin/python benchmarks/bench_edge.py [--segments 40]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink, EdgeRecorder, EdgeReport
from saferoad.application.edge_sinks import open_spool
from saferoad.application.simulate import simulate
from saferoad.config import SaferoadConfig
from saferoad.domain.alerts import Alert
from saferoad.entrypoints.wiring import analyze_recording


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=40)
    args = ap.parse_args()
    cfg = SaferoadConfig()
    with tempfile.TemporaryDirectory() as tmp:
        rec_dir = Path(tmp) / "drive"
        simulate("mixed_drive", rec_dir, assignments=[f"segments={args.segments}", "risky_share=0.5", "plan_seed=3"], seed=3, video=False, config=cfg)
        rec = open_recording(rec_dir)

        t0 = time.perf_counter()
        batch = analyze_recording(rec, cfg)
        batch_s = time.perf_counter() - t0

        samples: list[tuple[float, float]] = []
        next_sample = [0.0]

        def on_tick(t: float, _r: EdgeReport) -> None:
            if t >= next_sample[0]:
                samples.append((t, rss_mib()))
                next_sample[0] = t + 60.0

        got: list[Alert] = []
        spool = open_spool(cfg.edge, Path(tmp) / "spool.db")
        t0 = time.perf_counter()
        report = EdgeRecorder(cfg, sinks=[CallbackSink(got.append)], spool=spool).replay(rec, speed=0, on_tick=on_tick)
        edge_s = time.perf_counter() - t0
        spool.close()

    sensor_s = report.sensor_s
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    half = t >= t[-1] / 2
    slope_per_s = float(np.polyfit(t[half], m[half], 1)[0]) if half.sum() >= 3 else float("nan")
    lat = np.array(report.alert_latency_s) * 1e3
    lag = np.array(report.sensor_lag_s)
    print(f"drive: {sensor_s / 60:.1f} min of sensors, {len(report.events)} events ({len(batch.events)} from analyze incl. road camera), {len(got)} alerts")
    print(f"edge recorder : {sensor_s / edge_s:7.1f}x real time ({edge_s:.1f} s wall, {report.motion_runs} windows analysed)")
    print(f"baseline analyze (batch, same drive): {sensor_s / batch_s:7.1f}x real time ({batch_s:.1f} s wall)")
    if lat.size:
        print(f"alert latency (wall, completing samples -> sinks returned): p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms")
        print(f"rules' latency (sensor time, event end -> final): p50 {np.percentile(lag, 50):.2f} s, p99 {np.percentile(lag, 99):.2f} s (stated bound {cfg.edge.motion_guard_s + cfg.edge.motion_hop_s:.1f} s + tick)")
        early = np.array([a.completed_s - a.event.end_s for a in got if a.provisional])
        if early.size:
            print(f"early harsh-driving alerts (sensor time, event end -> alert): p50 {np.percentile(early, 50):.2f} s, p99 {np.percentile(early, 99):.2f} s; "
                  f"{report.early_confirmed} confirmed, {report.early_retracted} retracted")
    print(f"RSS: {m[0]:.1f} MiB at start of drive, {m[-1]:.1f} MiB at end, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    print(f"RSS slope over the second half: {slope_per_s * 3600:+.2f} MiB per hour of driving ({half.sum()} samples)")
    print(f"most samples buffered by the streaming rules: {report.max_buffered_samples} (window {cfg.edge.motion_window_s:.0f} s)")


if __name__ == "__main__":
    main()
