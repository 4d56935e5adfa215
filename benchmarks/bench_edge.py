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
* fast road alerts (forward collision, tailgating): wall latency p50/p99 from the arrival of the
  frame that completed the rule to the callback, and in sensor time from that frame to the
  alert, against the baseline measured in the same run - when the final event of the slow
  path (the only alert before the fast path) came, from the same frame. The mixed drive holds
  few of them, so ``--road-runs`` simulated ``lead_braking`` and ``tailgating`` drives (seeds
  0..N-1) are replayed too and their alerts counted in;
* RSS every 60 s of sensor time; its least-squares slope over the second half of the drive
  (after the 60 s window has filled), in MiB per hour of driving; the most samples buffered;
* the cameras' cost per frame in the recorder: the cabin camera streamed (face pipeline,
  phone detector, cabin rules) on a recording whose ``cabin.mp4`` is made of the shared cabin
  clips (390 frames at 12 fps, 480x270), against the same recording replayed without the cabin
  camera; the lane markings (detector + windowed ``lane_departure``) on a simulated 40 s
  ``lane_departure`` drive with its 640x360 video at 10 fps, against the same drive with
  ``lanes.enabled = false``. Wall and CPU seconds of the recorder, per frame (best of 2);
* fast lane-departure alerts: that drive and ``--lane-runs`` simulated ``lane_departure`` drives
  with video (16 s, seeds 0..N-1, sides alternating): wall latency from the arrival of the step
  whose frames completed the rule (their decoding and lane detection included) to the callback,
  and in sensor time from the completing frame to the alert, against the baseline of the same
  runs - when the slow path's final departure came, from the same frame.

    .venv/bin/python benchmarks/bench_edge.py [--segments 40] [--lane-runs 4] [--cameras-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink, EdgeRecorder, EdgeReport
from saferoad.application.edge_fast import FAST_TYPES
from saferoad.config import SaferoadConfig, load_config
from saferoad.domain.alerts import Alert
from saferoad.domain.types import EventType
from saferoad.entrypoints.wiring import (
    analysis_ports,
    analyze_recording,
    cabin_ports,
    open_spool,
    simulate,
)


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=40)
    ap.add_argument("--road-runs", type=int, default=5)
    ap.add_argument("--lane-runs", type=int, default=4)
    ap.add_argument("--cameras-only", action="store_true", help="only the cabin camera's and lane markings' cost per frame")
    args = ap.parse_args()
    cfg = SaferoadConfig()
    with tempfile.TemporaryDirectory() as tmp:
        camera_costs(Path(tmp), cfg, args.lane_runs)
    if args.cameras_only:
        return
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
        report = EdgeRecorder(cfg, ports=analysis_ports(), sinks=[CallbackSink(got.append)], spool=spool).replay(rec, speed=0, on_tick=on_tick)
        edge_s = time.perf_counter() - t0
        spool.close()
        road = fast_road_figures(report)
        for seed in range(args.road_runs):
            for scenario in ("lead_braking", "tailgating"):
                d = Path(tmp) / f"{scenario}-{seed}"
                simulate(scenario, d, seed=seed, video=False, config=cfg)
                r = EdgeRecorder(cfg, ports=analysis_ports(), sinks=[CallbackSink(lambda _a: None)]).replay(open_recording(d), speed=0)
                for k, v in fast_road_figures(r).items():
                    road[k] += v

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
    if road["wall_s"]:
        fl = np.array(road["wall_s"]) * 1e3
        fs, bs = np.array(road["lag_s"]), np.array(road["final_lag_s"])
        print(f"fast road alerts ({len(fl)} FCW/tailgating, mixed drive + {2 * args.road_runs} lead_braking/tailgating drives; "
              f"{sum(road['confirmed']):.0f} confirmed, {sum(road['retracted']):.0f} retracted): completing frame -> callback, wall p50 {np.percentile(fl, 50):.2f} ms, "
              f"p99 {np.percentile(fl, 99):.2f} ms; sensor time p50 {np.percentile(fs, 50):.2f} s, p99 {np.percentile(fs, 99):.2f} s (tick {cfg.edge.tick_s} s)")
        if bs.size:
            print(f"baseline (same runs): the slow path's final event, from the same frame: sensor time p50 {np.percentile(bs, 50):.2f} s, p99 {np.percentile(bs, 99):.2f} s")
    print(f"RSS: {m[0]:.1f} MiB at start of drive, {m[-1]:.1f} MiB at end, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    print(f"RSS slope over the second half: {slope_per_s * 3600:+.2f} MiB per hour of driving ({half.sum()} samples)")
    print(f"most samples buffered by the streaming rules: {report.max_buffered_samples} (window {cfg.edge.motion_window_s:.0f} s)")


def _best(run: Callable[[], EdgeReport], n: int = 2) -> tuple[float, float, EdgeReport]:
    """Best wall and CPU seconds of ``n`` recorder runs, and the last report."""
    wall, cpu = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        rep = run()
        wall.append(time.perf_counter() - t0)
        cpu.append(rep.cpu_s)
    return min(wall), min(cpu), rep


def _cabin_recording(out: Path) -> Path:
    """meta.toml, a GPS at 54 km/h and a cabin.mp4 made of the shared cabin clips (as
    tests/edge/test_edge_equals_batch.py's cabin case)."""
    from saferoad.adapters.simulation.render import encode_video
    from saferoad.adapters.video import open_frames

    def frames(name: str) -> list[np.ndarray]:
        src = open_frames(Path(os.environ.get("SAFEROAD_SHARED", "../shared")) / "data/cabin" / name)
        try:
            return [f.image for f in src]
        finally:
            src.close()

    male, female = frames("head-pose-face-detection-male.gif"), frames("head-pose-face-detection-female.gif")
    seq = male + male[::-1] + [male[-1]] * 24 + male[::-1] + female + female[::-1] + [np.zeros_like(male[0])] * 72 + male
    out.mkdir()
    (out / "meta.toml").write_text("[recording]\nstart_utc = 2026-11-20T08:15:00Z\n\n[cabin_camera]\nwidth = 480\nheight = 270\nhfov_deg = 60.0\n")
    (out / "gps.csv").write_text("t_s,lat,lon,speed_mps,course_deg,alt_m\n" + "".join(
        f"{t:.1f},35.0,{139.0 + t * 1.5e-4:.6f},15.0,90.0,10.0\n" for t in np.arange(0.0, len(seq) / 12 + 1.0, 0.5)
    ))  # fmt: skip
    encode_video(out / "cabin.mp4", iter(seq), 12, 480, 270, crf=12, preset="medium")
    return out


def camera_costs(tmp: Path, cfg: SaferoadConfig, lane_runs: int = 0) -> None:
    """The cabin camera's and the lane markings' cost per frame in the recorder, each against
    the same recording without it (same run); the fast lane alerts' latency against the final
    departures' (same runs)."""
    rec = open_recording(_cabin_recording(tmp / "cabin"))
    ports = cabin_ports()
    w1, c1, with_cabin = _best(lambda: EdgeRecorder(cfg, ports=analysis_ports(), cabin_ports=ports).replay(rec, speed=0))
    w0, c0, _ = _best(lambda: EdgeRecorder(cfg, ports=analysis_ports()).replay(rec, speed=0))
    n = with_cabin.cabin_frames
    print(f"cabin camera streamed: {n} frames, {len(with_cabin.events)} events; recorder {w1:.2f} s wall / {c1:.2f} s CPU "
          f"vs baseline without the cabin camera {w0:.2f} s / {c0:.2f} s: {(w1 - w0) / n * 1e3:.1f} ms wall, {(c1 - c0) / n * 1e3:.1f} ms CPU per frame "
          f"incl. opening the camera and loading its models ({with_cabin.cabin_setup_s:.2f} s); "
          f"the frames alone (decode, face, phone, rules): {with_cabin.cabin_ms_per_frame:.1f} ms wall per frame")
    lcfg = load_config(None, {"perception": {"detector": "replay"}, "road_events": {"clips": False}})
    off = lcfg.model_copy(update={"lanes": lcfg.lanes.model_copy(update={"enabled": False})})
    simulate("lane_departure", tmp / "lanes", assignments=["duration_s=40", "at_s=22", "direction=left", "speed_kmh=80"], seed=2, config=lcfg)
    rec = open_recording(tmp / "lanes")
    w1, c1, with_lanes = _best(lambda: EdgeRecorder(lcfg, ports=analysis_ports()).replay(rec, speed=0))
    w0, c0, _ = _best(lambda: EdgeRecorder(off, ports=analysis_ports()).replay(rec, speed=0))
    n = with_lanes.lanes["frames"]
    print(f"lane markings streamed: {n} frames of 640x360, {sum(e.type.value == 'lane_departure' for e in with_lanes.events)} departure(s), "
          f"at most {with_lanes.lanes['max_held']} observations held; recorder {w1:.2f} s wall / {c1:.2f} s CPU vs baseline lanes off "
          f"{w0:.2f} s / {c0:.2f} s: {(w1 - w0) / n * 1e3:.1f} ms wall, {(c1 - c0) / n * 1e3:.1f} ms CPU per frame")
    lanes = fast_lane_figures(with_lanes)
    for seed in range(lane_runs):
        d = tmp / f"lanes-{seed}"
        side = "left" if seed % 2 else "right"
        simulate("lane_departure", d, assignments=["duration_s=16", "at_s=4", f"direction={side}"], seed=seed, config=lcfg)
        r = EdgeRecorder(lcfg, ports=analysis_ports(), sinks=[CallbackSink(lambda _a: None)]).replay(open_recording(d), speed=0)
        for k, v in fast_lane_figures(r).items():
            lanes[k] += v
    if lanes["wall_s"]:
        fl, fs, bs = np.array(lanes["wall_s"]) * 1e3, np.array(lanes["lag_s"]), np.array(lanes["final_lag_s"])
        print(f"fast lane-departure alerts ({len(fl)}, the 40 s drive + {lane_runs} lane_departure drives; {sum(lanes['confirmed']):.0f} confirmed, "
              f"{sum(lanes['retracted']):.0f} retracted): step arrived -> callback, wall p50 {np.percentile(fl, 50):.2f} ms, p99 {np.percentile(fl, 99):.2f} ms "
              f"(the step's decoding and lane detection included); completing frame -> alert, sensor time p50 {np.percentile(fs, 50):.2f} s, "
              f"p99 {np.percentile(fs, 99):.2f} s (tick {cfg.edge.tick_s} s)")
        if bs.size:
            print(f"baseline (same runs): the slow path's final departure, from the same frame: sensor time p50 {np.percentile(bs, 50):.2f} s, "
                  f"p99 {np.percentile(bs, 99):.2f} s (drives ending within the guard finish it at their end)")


def fast_road_figures(report: EdgeReport) -> dict[str, list[float]]:
    """One run's fast road alerts: wall latency of each, sensor time from its completing frame,
    the slow path's lag from the same frame, and confirmed / retracted counts."""
    fast = [i for i, a in enumerate(report.alerts) if a.provisional and a.event.type in FAST_TYPES]
    return {
        "wall_s": [report.alert_latency_s[i] for i in fast],
        "lag_s": list(report.fast_road_lag_s),
        "final_lag_s": list(report.road_final_lag_s),
        "confirmed": [float(report.fast_road.get("confirmed", 0))],
        "retracted": [float(report.fast_road.get("retracted", 0))],
    }


def fast_lane_figures(report: EdgeReport) -> dict[str, list[float]]:
    """One run's fast lane-departure alerts, as :func:`fast_road_figures`."""
    fast = [i for i, a in enumerate(report.alerts) if a.provisional and a.event.type is EventType.LANE_DEPARTURE]
    return {
        "wall_s": [report.alert_latency_s[i] for i in fast],
        "lag_s": list(report.fast_lane_lag_s),
        "final_lag_s": list(report.lane_final_lag_s),
        "confirmed": [float(report.fast_lanes.get("confirmed", 0))],
        "retracted": [float(report.fast_lanes.get("retracted", 0))],
    }


if __name__ == "__main__":
    main()
