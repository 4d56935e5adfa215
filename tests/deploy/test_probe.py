"""deploy/probe.py, the images' health probe, against real HTTP and gRPC servers on loopback and a
real live edge recorder."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from saferoad.application.edge_live import status_path_for

PROBE = Path(__file__).resolve().parents[2] / "deploy" / "probe.py"


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=30
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/api/v1/ingest/health":
            status, body = 200, {"status": "ok"}
        elif self.path == "/degraded":
            status, body = 200, {"status": "starting"}
        else:
            status, body = 503, {"detail": "down"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_probe(http_base: str) -> None:
    assert probe("http", f"{http_base}/api/v1/ingest/health").returncode == 0
    bad = probe("http", f"{http_base}/other")
    assert bad.returncode == 1 and "503" in bad.stderr
    assert probe("http", f"{http_base}/degraded").returncode == 1


def test_http_probe_nothing_listening() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()
    assert probe("http", f"http://127.0.0.1:{port}/api/v1/ingest/health").returncode == 1


def test_grpc_probe_follows_the_health_service() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert probe("grpc", f"127.0.0.1:{port}").returncode == 0
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        down = probe("grpc", f"127.0.0.1:{port}")
        assert down.returncode == 1 and "NOT_SERVING" in down.stderr
    finally:
        server.stop(None)
    gone = probe("grpc", f"127.0.0.1:{port}")
    assert gone.returncode == 1 and "UNAVAILABLE" in gone.stderr


def test_usage() -> None:
    assert probe("tcp", "x").returncode == 2


def _wait_for(cond: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_edge_probe_follows_the_live_recorders_status(tmp_path: Path) -> None:
    """The edge image's HEALTHCHECK: a real live recorder (an IMU feed on UDP that never sends,
    status every 0.5 s) is healthy while it records, unhealthy while it hangs (SIGSTOP: its status
    stops coming) and healthy again after SIGCONT, unhealthy once it has stopped."""
    spool = tmp_path / "spool.db"
    status = tmp_path / "spool.db.status.json"
    no_status = probe("edge", str(spool))
    assert no_status.returncode == 1 and "has not written one" in no_status.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    saferoad = str(Path(sys.executable).parent / "saferoad")
    rec = subprocess.Popen(
        [saferoad, "edge", "--set", f"edge.imu_udp=127.0.0.1:{port}", "--set",
         "edge.status_interval_s=0.5", "--duration", "30", "--spool", str(spool)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(status.exists, 60, "the recorder's first status")
        ok = probe("edge", str(spool), "--max-age", "3")
        assert ok.returncode == 0, ok.stderr
        assert "stale stages: imu_udp" in ok.stderr  # reported, not unhealthy
        rec.send_signal(signal.SIGSTOP)
        time.sleep(3.5)
        hung = probe("edge", str(spool), "--max-age", "3")
        assert hung.returncode == 1 and "stuck or gone" in hung.stderr, hung.stderr
        rec.send_signal(signal.SIGCONT)
        mtime = status.stat().st_mtime
        _wait_for(lambda: status.stat().st_mtime > mtime, 30, "a new status after SIGCONT")
        assert probe("edge", str(spool), "--max-age", "3").returncode == 0
        rec.send_signal(signal.SIGTERM)
        assert rec.wait(timeout=60) == 0, rec.stderr.read() if rec.stderr else ""
    finally:
        if rec.poll() is None:
            os.kill(rec.pid, signal.SIGCONT)
            rec.kill()
            rec.wait()
    stopped = probe("edge", str(spool))
    assert stopped.returncode == 1 and "'idle', not recording" in stopped.stderr


def test_edge_probe_reads_the_recorders_status_file() -> None:
    """The probe reads the file the recorder writes (it does not import saferoad)."""
    spec = importlib.util.spec_from_file_location("probe", PROBE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    spool = Path("/var/lib/saferoad/spool.db")
    assert module.edge_status_path(str(spool)) == status_path_for(spool)
