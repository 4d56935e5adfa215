"""One hour of 200 Hz 6-axis IMU plus 10 Hz GPS (CSV, saferoad's format) through ``analyze``.

Prints the wall time of reading + analysing, the share spent parsing (from the trace), and
baselines measured in the same run on the same files: pandas.read_csv (C engine) of imu.csv,
and numpy.loadtxt of it. Target: analyze under 2 s on a 2-core machine. Also the inertial
engine alone on the same hour as an Earth-frame log without GPS (heading-free mode, with the
forward axis found from its turns), against the same engine without that search. And the
graded manoeuvres' cost (``manoeuvres.grade_manoeuvres``) on one hour of vehicle-frame signals,
against the harsh-event rules alone on the same signals. CPU time
(process time, all threads) is printed next to each wall time, and the load average: on a
shared machine the wall time is noisy.

    .venv/bin/python benchmarks/bench_analyze_imu.py
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from saferoad.adapters.recording import open_recording, write_recording
from saferoad.config import load_config
from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.recording import RecordingMeta
from saferoad.domain.types import G, GpsSeries, ImuSeries
from saferoad.entrypoints.wiring import analyze_recording
from saferoad.observability import TraceRecorder, configure_logging, recording_trace, span

HOURS = 1.0
IMU_HZ = 200.0
GPS_HZ = 10.0


def make_drive(folder: Path) -> None:
    rng = np.random.default_rng(0)
    n = int(HOURS * 3600 * IMU_HZ)
    t = np.arange(n) / IMU_HZ
    # a speed profile with stops, pushes and brakes; turns every few minutes
    a = 0.8 * np.sin(2 * np.pi * t / 97.0) + 0.5 * np.sin(2 * np.pi * t / 31.0)
    w = 0.15 * np.sin(2 * np.pi * t / 180.0) ** 9
    v = np.clip(12 + np.cumsum(a) / IMU_HZ * 0.3, 0, 30)
    acc = np.column_stack([a, v * w, np.full(n, G)]) + rng.normal(0, 0.2, (n, 3))
    gyro = np.column_stack([np.zeros(n), np.zeros(n), w]) + rng.normal(0, 0.01, (n, 3))
    step = int(IMU_HZ / GPS_HZ)
    tg = t[::step]
    heading = np.cumsum(w)[::step] / IMU_HZ
    x = np.cumsum(v[::step] * np.cos(heading)) / GPS_HZ
    y = np.cumsum(v[::step] * np.sin(heading)) / GPS_HZ
    gps = GpsSeries(
        tg, 35.0 + y / 111_000, 139.0 + x / 91_000, v[::step], np.full(tg.size, np.nan), np.full(tg.size, 30.0)
    )
    meta = RecordingMeta(start_utc=datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    write_recording(folder, meta, ImuSeries(t, acc, gyro), gps)


def main() -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="saferoad-bench-") as tmp:
        rec_dir = Path(tmp) / "drive"
        t0 = time.perf_counter()
        make_drive(rec_dir)
        size_mb = (rec_dir / "imu.csv").stat().st_size / 1e6
        print(f"generated {HOURS:g} h: imu.csv {size_mb:.0f} MB in {time.perf_counter() - t0:.1f} s")
        cfg = load_config()

        # warm-up (imports, first-call costs), then the measured runs
        def run() -> tuple[float, float, float]:
            rec_trace = TraceRecorder()
            start, cpu = time.perf_counter(), time.process_time()
            with recording_trace(rec_trace):
                with span("read"):
                    recording = open_recording(rec_dir)
                analyze_recording(recording, cfg, Path(tmp) / "out", trace=rec_trace)
            wall = time.perf_counter() - start
            return wall, rec_trace.stage_seconds()["read"], time.process_time() - cpu

        print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        run()
        results = [run() for _ in range(3)]
        wall, read_s, cpu_s = min(results)
        print(f"saferoad analyze (read + analyze + write outputs): {wall:.3f} s wall, {cpu_s:.3f} s CPU  (best of 3)")
        print(f"  parsing share: {read_s:.3f} s = {100 * read_s / wall:.0f}% of the wall time")
        print(f"  target < 2 s: {'met' if wall < 2.0 else 'NOT met'}")

        import pandas as pd

        best = min(
            _timed(lambda: pd.read_csv(rec_dir / "imu.csv", engine="c")) for _ in range(3)
        )
        print(f"baseline pandas.read_csv(imu.csv, engine='c'): {best:.3f} s (parse only)")
        best_np = _timed(lambda: np.loadtxt(rec_dir / "imu.csv", delimiter=",", skiprows=1))
        print(f"baseline numpy.loadtxt(imu.csv): {best_np:.3f} s (parse only)")
    heading_free()
    grading()


def grading() -> None:
    """The rules alone (``detect_harsh``) against the rules plus the graded manoeuvres on one
    hour of 50 Hz vehicle-frame signals with a push or braking every 20-50 s."""
    from saferoad.domain.motion.harsh import HarshParams, MotionSignals, detect_harsh
    from saferoad.domain.motion.manoeuvres import ManoeuvreBands, grade_manoeuvres
    from saferoad.domain.motion.signal import lowpass

    hz = 50.0
    rng = np.random.default_rng(2)
    n = int(HOURS * 3600 * hz)
    t = np.arange(n) / hz
    a_long = 0.35 * G * np.sin(2 * np.pi * t / 37.0) ** 7 + rng.normal(0, 0.3, n)
    w = 0.3 * np.sin(2 * np.pi * t / 180.0) ** 9
    a_lat = 12.0 * w + rng.normal(0, 0.3, n)
    sig = MotionSignals(t, np.ones(n, dtype=bool), w, np.full(n, 12.0), a_long=lowpass(a_long, 2.0, hz), a_lat=lowpass(a_lat, 2.0, hz))
    p, bands = HarshParams(), ManoeuvreBands()
    for label, fn in (
        ("harsh-event rules alone (baseline)", lambda: detect_harsh(sig, p, hz)),
        ("rules + graded manoeuvres", lambda: grade_manoeuvres(sig, p, bands, hz, detect_harsh(sig, p, hz))),
    ):
        runs = []
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            out = fn()
            runs.append((time.perf_counter() - start, time.process_time() - cpu))
        wall, cpu_s = min(runs)
        print(f"{label}, one signed hour ({len(out)} results): {wall:.3f} s wall, {cpu_s:.3f} s CPU (best of 3)")


def heading_free() -> None:
    """The engine alone on one hour of an Earth-frame, high-passed log without GPS (as the
    driverBehaviorDataset's phones record), with ordinary turns every 40 s."""
    rng = np.random.default_rng(1)
    n = int(HOURS * 3600 * IMU_HZ)
    t = np.arange(n) / IMU_HZ
    w = np.radians(16.0) * np.sin(np.pi * (t % 40.0) / 6.0) ** 2 * (t % 40.0 < 6.0) * np.sign(np.sin(np.pi * t / 40.0))
    a = 0.8 * np.sin(2 * np.pi * t / 97.0)
    heading = np.cumsum(w) / IMU_HZ
    car = np.column_stack([a, 9.0 * w])
    h = np.column_stack(
        [np.cos(heading) * car[:, 0] - np.sin(heading) * car[:, 1], np.sin(heading) * car[:, 0] + np.cos(heading) * car[:, 1]]
    ) + rng.normal(0, 0.2, (n, 2))
    acc = np.column_stack([h, np.full(n, G)])
    gyro = np.column_stack([np.zeros(n), np.zeros(n), w + np.radians(0.3)]) + rng.normal(0, 0.01, (n, 3))
    imu = ImuSeries(t, acc, gyro, frame="earth", horizontal_highpass_tau_s=1.0)
    for label, params in (("with the forward axis from the turns", EngineParams()), ("baseline, pulse order only", EngineParams(forward_from_turns=False))):
        runs = []
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            res = run_engine(imu, None, None, params)
            runs.append((time.perf_counter() - start, time.process_time() - cpu))
        wall, cpu_s = min(runs)
        turns = f", {res.axes.turns} turns" if res.axes is not None else ""
        print(f"engine, heading-free hour ({label}{turns}): {wall:.3f} s wall, {cpu_s:.3f} s CPU (best of 3)")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
