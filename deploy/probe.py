"""Health probe the saferoad images run (Docker HEALTHCHECK; Kubernetes may use it as an exec probe).

    python /opt/saferoad/probe.py http http://127.0.0.1:8080/api/v1/ingest/health
    python /opt/saferoad/probe.py grpc 127.0.0.1:50051

``http``: healthy when the URL answers 200 with ``{"status": "ok"}``. ``grpc``: healthy when the
standard gRPC health service (grpc.health.v1.Health/Check, overall service "") answers SERVING.
The checks are the ones `saferoad up` waits on (saferoad.entrypoints.up), installed in the image.
Exit status 0 = healthy, 1 = not (the reason on stderr), 2 = usage.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("http", "grpc"):
        print("usage: probe.py http URL | probe.py grpc HOST:PORT", file=sys.stderr)
        return 2
    from saferoad.entrypoints.up import grpc_health, http_health

    kind, target = argv
    check = http_health(target, 3.0) if kind == "http" else grpc_health(target, 3.0)
    problem = check()
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
