"""deploy/probe.py, the images' health probe, against real HTTP and gRPC servers on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

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
