"""The edge recorder's cabin replay against analyze's cabin stage, per frame, on the same cabin
video in the same run.

The recording is built as ``tests/edge/test_edge_equals_batch.py::test_cabin_camera_streamed``
builds it: ``cabin.mp4`` (12 fps, 480x270, x264 crf 12) made of the shared cabin GIFs - the
two-person clip's man, his open frames back and forth, his blink's closed frame held 2 s, the
reopening; the female clip forward and back; 6 s of a covered lens; the baseline's last 42
frames - with a GPS at 54 km/h, and the same recording without its ``cabin.mp4`` (the baseline
of the rest of each command's work: motion, speeding, report).

Per round, in alternating order (A B, then B A):

* **analyze**: ``analyze_recording`` (its cabin stage: ``run_cabin_video`` - decoding, face
  pipeline, phone detector, ``CabinMonitor``), with and without the cabin video;
* **recorder**: ``EdgeRecorder.replay(speed=0)`` with ``cabin_ports()`` (``CabinStream``: the
  same ``frame_samples``, the same monitor), with and without the cabin video.

Each cost a frame = (with - without) / frames, in process CPU time (every thread: the decoder,
ONNX Runtime) and wall time; models are loaded inside each run, as in both commands. The best
and the median over the rounds are printed; the cabin events of both must be the same (types,
start and end within one frame), else the bench fails. ``--profile`` adds, for one run of each,
the CPU split by stage (cProfile on the main thread's CPU clock; the decoder's thread apart).

    .venv/bin/python benchmarks/bench_edge_cabin.py [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from saferoad.adapters.recording import open_recording
from saferoad.adapters.simulation.render import encode_video
from saferoad.adapters.video import open_frames
from saferoad.application.cabin import frame_samples, thresholds_from_config
from saferoad.application.edge import EdgeRecorder
from saferoad.config import SaferoadConfig
from saferoad.domain.cabin.monitor import CabinMonitor
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.event_specs import Family, spec
from saferoad.domain.types import CameraIntrinsics, Event, Frame
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, cabin_ports
from saferoad.observability import configure_logging

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()
CABIN = SHARED / "data" / "cabin"
FPS = 12.0


def _gif(name: str) -> list[np.ndarray]:
    src = open_frames(CABIN / name)
    try:
        return [f.image for f in src]
    finally:
        src.close()


def build_recording(out: Path) -> tuple[Path, Path, int]:
    """The test's cabin recording and the same without ``cabin.mp4``; its frame count."""
    fm = _gif("head-pose-face-detection-female-and-male.gif")
    female = _gif("head-pose-face-detection-female.gif")
    baseline = fm[41::-1] + fm[:42]
    seq = baseline + [fm[42]] * 24 + fm[43:] + female + female[::-1]
    seq += [np.zeros_like(female[0])] * 72 + baseline[-42:]
    rec = out / "rec"
    rec.mkdir()
    (rec / "meta.toml").write_text(
        "[recording]\nstart_utc = 2026-11-20T08:15:00Z\n\n[cabin_camera]\nwidth = 480\nheight = 270\nhfov_deg = 60.0\n"
    )
    (rec / "gps.csv").write_text("t_s,lat,lon,speed_mps,course_deg,alt_m\n" + "".join(
        f"{t:.1f},35.0,{139.0 + t * 1.5e-4:.6f},15.0,90.0,10.0\n" for t in np.arange(0.0, len(seq) / FPS + 1.0, 0.5)
    ))  # fmt: skip
    encode_video(rec / "cabin.mp4", iter(seq), FPS, 480, 270, crf=12, preset="medium")
    bare = out / "bare"
    bare.mkdir()
    for name in ("meta.toml", "gps.csv"):
        shutil.copy(rec / name, bare / name)
    return rec, bare, len(seq)


def _cabin(events: list[Event]) -> list[Event]:
    return sorted(
        (e for e in events if spec(e.type).family == Family.CABIN),
        key=lambda e: (e.start_s, e.type.value),
    )


def runners(cfg: SaferoadConfig) -> dict[str, Callable[[Path], list[Event]]]:
    def analyze(path: Path) -> list[Event]:
        return analyze_recording(open_recording(path), cfg).events

    def recorder(path: Path) -> list[Event]:
        rep = EdgeRecorder(cfg, ports=analysis_ports(), cabin_ports=cabin_ports()).replay(
            open_recording(path), speed=0
        )
        return rep.events

    return {"analyze cabin stage": analyze, "recorder cabin replay": recorder}


def timed(fn: Callable[[Path], list[Event]], path: Path) -> tuple[float, float, list[Event]]:
    """CPU seconds (this process, every thread), wall seconds, the events."""
    c0, w0 = time.process_time(), time.perf_counter()
    evs = fn(path)
    return time.process_time() - c0, time.perf_counter() - w0, evs


STAGES = {
    "face pipeline": ("cabin/analyzer.py", "analyze"),
    "phone detector": ("onnx/phone.py", "detect"),
    "cabin monitor": ("cabin/monitor.py", "update"),
}


def profile(fn: Callable[[Path], list[Event]], path: Path, frames: int) -> dict[str, float]:
    """CPU ms a frame under each stage: the main thread's CPU clock (``time.thread_time``) in
    cProfile, cumulative time of the stage's entry point; the rest of the process's CPU time
    (the PyAV decoder's thread) as "other threads"."""
    pr = cProfile.Profile(time.thread_time)
    c0, t0 = time.process_time(), time.thread_time()
    pr.enable()
    fn(path)
    pr.disable()
    main_s, all_s = time.thread_time() - t0, time.process_time() - c0
    st = pstats.Stats(pr).stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for label, (file, func) in STAGES.items():
        out[label] = (
            sum(v[3] for k, v in st.items() if k[0].endswith(file) and k[2] == func) / frames * 1e3
        )
    out["main thread in all"] = main_s / frames * 1e3
    out["other threads (decoder)"] = (all_s - main_s) / frames * 1e3
    return out


def in_memory(
    cfg: SaferoadConfig, frames: list[Frame], intrinsics: CameraIntrinsics | None
) -> dict[str, Callable[[Path], list[Event]]]:
    """The cabin work without decoding (the frames decoded beforehand, as bench_cabin.py and
    bench_phone.py measure it): the face pipeline + monitor, then with the phone detector;
    models loaded inside, as in the two commands; the recording's ``[cabin_camera]``."""
    ports, c = cabin_ports(), cfg.cabin

    def monitor_over(samples: Iterator[CabinSample]) -> list[Event]:
        mon = CabinMonitor(thresholds_from_config(c), classify_eyes=True)
        evs: list[Event] = []
        for smp in samples:
            evs += mon.update(smp, 15.0)[1]
        return evs + mon.finish()

    def face(_: Path) -> list[Event]:
        ana = ports.face_analyzer(c, intrinsics, None)
        try:
            return monitor_over(ana.analyze(f) for f in frames)
        finally:
            ana.close()

    def face_phone(_: Path) -> list[Event]:
        ana = ports.face_analyzer(c, intrinsics, None)
        phone = ports.phone_detector(
            models_root=None,
            near_face=c.phone_near_face,
            hand_zone=c.phone_hand_zone,
            threads=c.intra_op_threads,
        )
        try:
            return monitor_over(frame_samples(frames, ana, phone))
        finally:
            ana.close()
            phone.close()

    return {
        "face pipeline + monitor, frames in memory": face,
        "face + phone detector + monitor, frames in memory": face_phone,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    configure_logging("WARNING")  # the stages' spans would fill the table
    cfg = SaferoadConfig()
    run = runners(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        rec, bare, n = build_recording(Path(tmp))
        src = open_frames(rec / "cabin.mp4")
        frames = list(src)
        src.close()
        parts = in_memory(cfg, frames, open_recording(rec).meta.cabin_camera)
        print(f"cabin.mp4: {n} frames 480x270 at {FPS:g} fps from {CABIN}; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at start; {args.rounds} rounds")  # fmt: skip
        for fn in run.values():  # warm-up: imports, first model loads, page cache
            fn(bare)
        names = list(run) + list(parts)
        cpu: dict[str, list[float]] = {k: [] for k in names}
        wall: dict[str, list[float]] = {k: [] for k in names}
        events: dict[str, list[Event]] = {}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                if name in run:  # the command with the cabin video minus the same without it
                    c1, w1, evs = timed(run[name], rec)
                    c0, w0, _ = timed(run[name], bare)
                else:
                    c1, w1, evs = timed(parts[name], rec)
                    c0 = w0 = 0.0
                cpu[name].append((c1 - c0) / n * 1e3)
                wall[name].append((w1 - w0) / n * 1e3)
                events[name] = _cabin(evs)
                print(f"  round {r + 1} {name}: {cpu[name][-1]:.1f} ms CPU, {wall[name][-1]:.1f} ms wall a frame")  # fmt: skip
        a, b = (events[k] for k in run)
        same = [e.type for e in a] == [e.type for e in b] and all(
            abs(x.start_s - y.start_s) <= 1 / FPS and abs(x.end_s - y.end_s) <= 1 / FPS
            for x, y in zip(a, b, strict=True)
        )
        width = max(len(k) for k in names)
        print(f"\n{'ms a frame':<{width}}  CPU best  CPU median  wall best  wall median")
        for k in names:
            print(f"{k:<{width}}  {min(cpu[k]):8.1f}  {statistics.median(cpu[k]):10.1f}  "
                  f"{min(wall[k]):9.1f}  {statistics.median(wall[k]):11.1f}")  # fmt: skip
        med = {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in names}
        ka, kb = list(run)
        for k in (ka, *parts):
            print(f"recorder / {k}: CPU {med[kb][0] / med[k][0]:.2f}x, wall {med[kb][1] / med[k][1]:.2f}x (medians)")  # fmt: skip
        print(f"cabin events: analyze {[e.type.value for e in a]}, recorder {[e.type.value for e in b]}: "
              f"{'the same' if same else 'DIFFERENT'}")  # fmt: skip
        if args.profile:
            print("\nCPU ms a frame by stage (cProfile on the main thread's CPU clock, one run each, profiler overhead included):")  # fmt: skip
            for k in run:
                split = profile(run[k], rec, n)
                print(f"  {k}: " + ", ".join(f"{s} {v:.1f}" for s, v in split.items()))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        if not same:
            raise SystemExit("the recorder's cabin events differ from analyze's")


if __name__ == "__main__":
    main()
