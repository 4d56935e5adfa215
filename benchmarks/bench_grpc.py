"""Remote inference over gRPC (KServe v2) against local ONNX Runtime, and a bounded load test.

    .venv/bin/python benchmarks/bench_grpc.py [--frames 200] [--clients 4] [--requests 50]

Everything runs on 127.0.0.1 with ``saferoad serve-model`` in its own process (as in
production: the server does not share the client's GIL).

1. Remote overhead for one 416x416 frame, YOLOX-nano: local ``OnnxBackend.infer`` and
   remote ``RemoteBackend.infer`` alternate frame by frame (same load on both), overhead =
   p50(remote) - p50(local). Also the protocol alone: a no-op model with YOLOX-nano's tensor
   sizes (2.1 MB in, 1.2 MB out), whose round trip is all transport. Target p50 <= 3 ms.
2. Load test: N concurrent clients, a fixed number of requests each, against the no-op model
   and against YOLOX-nano; p50/p99 latency, throughput, errors (must be 0).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))

from saferoad.adapters.grpc.client import ClientOptions, KServeClient  # noqa: E402
from saferoad.adapters.grpc.loadtest import run_load  # noqa: E402
from saferoad.adapters.onnx.backend import OnnxBackend  # noqa: E402
from saferoad.adapters.onnx.card import load_card  # noqa: E402


def start_server(*models: str) -> tuple[subprocess.Popen[str], int]:
    exe = str(Path(sys.executable).parent / "saferoad")
    args = [exe, "serve-model", "--port", "0"]
    for m in models:
        args += ["--model", m]
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=HERE)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"listening on [^\s]+:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    raise RuntimeError("serve-model did not start")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200, help="frames for the overhead measurement")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=50, help="requests per client in the load test")
    args = ap.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    card = load_card("yolox-nano")
    rng = np.random.default_rng(0)
    frames = [(rng.random((1, 3, 416, 416)) * 255).astype(np.float32) for _ in range(8)]
    proc, port = start_server("yolox-nano", "bench_grpc_models:NoOp")
    try:
        local = OnnxBackend(card.model_path(), intra_op_threads=1, warmup=3)
        remote = KServeClient(f"grpc://127.0.0.1:{port}/yolox-nano", ClientOptions(timeout_s=10))
        noop = KServeClient(f"grpc://127.0.0.1:{port}/noop", ClientOptions(timeout_s=10))
        for f in frames[:3]:  # warm both paths and the connection
            remote.infer({"images": f})
            noop.infer({"images": f})
        t_local, t_remote, t_noop = [], [], []
        for i in range(args.frames):
            x = {"images": frames[i % len(frames)]}
            t0 = time.perf_counter()
            a = local.infer(x)
            t1 = time.perf_counter()
            b = remote.infer(x)
            t2 = time.perf_counter()
            noop.infer(x)
            t3 = time.perf_counter()
            t_local.append(t1 - t0)
            t_remote.append(t2 - t1)
            t_noop.append(t3 - t2)
            if i == 0:
                assert np.array_equal(a["output"], b["output"]), "remote and local outputs differ"
        print(f"# gRPC remote inference vs local ONNX Runtime, 416x416 frame, {args.frames} frames, 127.0.0.1")
        print(f"local  OnnxBackend.infer (baseline) p50 {pct(t_local, 50):7.2f} ms  p99 {pct(t_local, 99):7.2f} ms")
        print(f"remote yolox-nano via serve-model    p50 {pct(t_remote, 50):7.2f} ms  p99 {pct(t_remote, 99):7.2f} ms")
        overhead = pct(t_remote, 50) - pct(t_local, 50)
        print(f"remote overhead p50(remote) - p50(local): {overhead:6.2f} ms   (target <= 3 ms)")
        paired = float(np.median((np.asarray(t_remote) - np.asarray(t_local)) * 1e3))
        print(f"remote overhead, median of per-frame differences: {paired:6.2f} ms")
        print(f"protocol alone (no-op model, same tensor sizes) round trip p50 {pct(t_noop, 50):6.2f} ms  "
              f"p99 {pct(t_noop, 99):6.2f} ms   (target <= 3 ms)")
        # CPU cost of the protocol alone (less sensitive to other load than wall time)
        n_cpu = max(50, args.frames // 2)
        c0, s0 = time.process_time(), process_cpu_s(proc.pid)
        for i in range(n_cpu):
            noop.infer({"images": frames[i % len(frames)]})
        c_ms = (time.process_time() - c0) / n_cpu * 1e3
        s_ms = (process_cpu_s(proc.pid) - s0) / n_cpu * 1e3
        print(f"protocol CPU per frame (no-op model): client {c_ms:.2f} ms + server {s_ms:.2f} ms")
        local.close()
        remote.close()
        noop.close()

        print(f"\n# load test: {args.clients} concurrent clients x {args.requests} requests each")
        x = frames[0]
        for model in ("noop", "yolox-nano"):
            res = run_load(f"grpc://127.0.0.1:{port}/{model}", lambda k, j: {"images": x},
                           args.clients, args.requests, ClientOptions(timeout_s=30))
            print(f"{model:10s} {res.summary()}")
            for e in res.errors[:5]:
                print("  error:", e)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
