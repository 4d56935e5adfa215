"""The live recorder's camera path on this machine: the shared 720p highway clip served as a live
30 fps camera (``ffmpeg -re``, looped) through ``FfmpegFrameSource`` into the live recorder's
inference stage (``LiveCamera``: YOLOX-nano, tracker, geometry, one frame at a time) for
``--seconds``, with the adaptive stride; baseline in the same run: the stride pinned at 1
(``edge.max_stride = 1``), where only the ring drops frames (the oldest, blindly). Prints frames
decoded, inferred and dropped per minute (ring / stride), the stride, the inference's load, and
the CPU (cores) and resident memory of the recorder process + its ffmpeg child.

    .venv/bin/python benchmarks/bench_edge_live.py [--seconds 20]
    .venv/bin/python benchmarks/bench_edge_live.py --whole [--seconds 20]   # the whole recorder

``--whole``: the whole live recorder (camera + YOLOX-nano, a 100 Hz IMU and a 10 Hz GPS over
UDP, rules, spool, a status every second); prints its last status's frames, drops per minute,
CPU and RSS (process + ffmpeg).
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from saferoad.adapters.detectors import build_model_detector
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.application.edge import CallbackSink
from saferoad.application.edge_live import Heartbeats, LiveCamera, LiveRecorder, ResourceMeter
from saferoad.config import load_config, parse_assignments
from saferoad.domain.recording import RecordingMeta
from saferoad.entrypoints.edge_live import open_feeds
from saferoad.entrypoints.wiring import analysis_ports, open_spool

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()


def run(max_stride: int, seconds: float, video: Path) -> dict[str, float]:
    cfg = load_config(None, parse_assignments([f"edge.max_stride={max_stride}"]))
    detector = build_model_detector(cfg)
    meter = ResourceMeter()
    src = FfmpegFrameSource(str(video), 1280, 720, realtime=True, loop_file=True, fps=30, ring=cfg.edge.camera_ring)
    origin = time.monotonic()
    cam = LiveCamera(src, detector, cfg, RecordingMeta(), origin, Heartbeats(), width=1280, height=720,
                     horizon=lane_horizon).start()  # fmt: skip
    try:
        time.sleep(3.0)  # model warm-up and the decoder's start: not measured
        pid = src.pid
        meter.read([pid] if pid else [])
        s0 = cam.status(time.monotonic())
        t0 = time.monotonic()
        time.sleep(seconds)
        pid = src.pid
        cores, rss = meter.read([pid] if pid else [])
        s1 = cam.status(time.monotonic())
        took = time.monotonic() - t0
    finally:
        cam.close()
    per_min = 60.0 / took
    return {
        "decoded_per_min": (s1["decoded"] - s0["decoded"]) * per_min,
        "inferred_per_min": (s1["inferred"] - s0["inferred"]) * per_min,
        "dropped_ring_per_min": (s1["dropped_ring"] - s0["dropped_ring"]) * per_min,
        "dropped_stride_per_min": (s1["dropped_stride"] - s0["dropped_stride"]) * per_min,
        "stride": s1["stride"],
        "load": s1["inference_load"],
        "cores": cores or 0.0,
        "rss_mib": rss,
    }


def whole(seconds: float, video: Path) -> dict[str, Any]:
    """The whole live recorder (camera + YOLOX-nano, a 100 Hz IMU and a 10 Hz GPS over UDP on
    127.0.0.1, rules, spool, status every second) for ``seconds``: its last status."""
    ports = []
    for _ in range(2):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, parse_assignments([
            f"edge.imu_udp=127.0.0.1:{ports[0]}",
            f"edge.gps_udp=127.0.0.1:{ports[1]}", "edge.status_interval_s=1",
        ]))  # fmt: skip
        spool = open_spool(cfg.edge, Path(tmp) / "spool.db")
        stop = threading.Event()

        def send() -> None:  # a car at rest: gravity on z; a fix every 0.1 s
            t = 0.0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                while not stop.is_set():
                    tx.sendto(f"{t:.3f},0.0,0.0,9.81,0,0,0".encode(), ("127.0.0.1", ports[0]))
                    if round(t * 100) % 10 == 0:
                        tx.sendto(f"{t:.3f},35.0,139.0,0.0,,40".encode(), ("127.0.0.1", ports[1]))
                    t += 0.01
                    time.sleep(0.01)

        # as entrypoints/edge_live.build_live_recorder wires it, the clip looped (a file ends)
        origin = time.monotonic()
        beats = Heartbeats()
        src = FfmpegFrameSource(str(video), 1280, 720, realtime=True, loop_file=True, fps=30, ring=cfg.edge.camera_ring)
        cam = LiveCamera(src, build_model_detector(cfg), cfg, RecordingMeta(), origin, beats, width=1280, height=720,
                         frame_period_s=1 / 30, horizon=lane_horizon).start()  # fmt: skip
        statuses: list[dict[str, Any]] = []

        class Statuses(CallbackSink):
            def status(self, status: dict[str, Any]) -> None:
                statuses.append(status)

        rec = LiveRecorder(cfg, ports=analysis_ports(), feeds=open_feeds(cfg.edge, origin), camera=cam, origin=origin, beats=beats, spool=spool,
                           sinks=[Statuses(lambda _a: None)], decoder_pids=lambda: [] if src.pid is None else [src.pid])  # fmt: skip
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            rec.run(duration_s=seconds)
        finally:
            stop.set()
            rec.close()
            sender.join()
        return {"last": rec.last_status, "running": [x for x in statuses if x.get("state") == "recording" and "budget" in x]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--whole", action="store_true", help="the whole live recorder instead (camera + sensor feeds + rules)")
    args = ap.parse_args()
    video = SHARED / "data" / "video" / "highway_vehicles_720p.mp4"
    if args.whole:
        res = whole(args.seconds, video)
        last, running = res["last"], res["running"]
        cam = last["camera"]
        cores = sorted(x["budget"]["cpu_cores"] for x in running if x["budget"]["cpu_cores"] is not None)
        rss = [x["budget"]["rss_mib"] for x in running]
        print(f"whole live recorder, {args.seconds:.0f} s: camera {cam['decoded']} decoded, {cam['inferred']} inferred, "
              f"dropped per minute {cam['dropped_per_minute']} (stride {cam['stride']}, load {cam['inference_load']}); "
              f"CPU (process + ffmpeg, per 1 s status) median {cores[len(cores) // 2]:.2f} max {cores[-1]:.2f} cores; "
              f"RSS {min(rss):.0f} -> {max(rss):.0f} MiB; stale stages at any status after the first inference: "
              f"{sorted({k for x in running if x['camera']['inferred'] > 0 for k in x['stale']})}")  # fmt: skip
        return
    for name, max_stride in (("adaptive stride", 8), ("baseline, stride pinned at 1", 1)):
        r = run(max_stride, args.seconds, video)
        print(f"{name}: per minute {r['decoded_per_min']:.0f} decoded, {r['inferred_per_min']:.0f} inferred, "
              f"dropped {r['dropped_ring_per_min']:.0f} by the ring + {r['dropped_stride_per_min']:.0f} by the stride; "
              f"stride {r['stride']}, inference load {r['load']:.2f}; CPU {r['cores']:.2f} cores, RSS {r['rss_mib']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
