"""Health probe the saferoad images run (Docker HEALTHCHECK; Kubernetes may use it as an exec probe).

    python /opt/saferoad/probe.py http http://127.0.0.1:8000/api/v1/ingest/health
    python /opt/saferoad/probe.py grpc 127.0.0.1:50051

``http``: healthy when the URL answers 200 with ``{"status": "ok"}``.
``grpc``: healthy when the standard gRPC health service (grpc.health.v1.Health/Check, overall
service "") answers SERVING. Exit status 0 = healthy, 1 = not, with the reason on stderr.
Only the standard library and grpcio/grpcio-health-checking (both in requirements.lock).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request


def check_http(url: str, timeout_s: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            if resp.status != 200:
                return f"{url}: HTTP {resp.status}"
            body = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url}: {exc}"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"{url}: body {body!r} is not {{'status': 'ok'}}"
    return None


def check_grpc(target: str, timeout_s: float) -> str | None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError as exc:
            return f"{target}: {exc.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("http", "grpc"):
        print("usage: probe.py http URL | probe.py grpc HOST:PORT", file=sys.stderr)
        return 2
    kind, target = argv
    problem = check_http(target, 3.0) if kind == "http" else check_grpc(target, 3.0)
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
