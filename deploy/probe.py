"""Health probe the saferoad images run (Docker HEALTHCHECK; Kubernetes may use it as an exec probe).

    python /opt/saferoad/probe.py http http://127.0.0.1:8080/api/v1/ingest/health
    python /opt/saferoad/probe.py grpc 127.0.0.1:50051
    python /opt/saferoad/probe.py edge /var/lib/saferoad/spool.db [--max-age 15]

``http``: healthy when the URL answers 200 with ``{"status": "ok"}``. ``grpc``: healthy when the
standard gRPC health service (grpc.health.v1.Health/Check, overall service "") answers SERVING.
The checks are the ones `saferoad up` waits on (saferoad.entrypoints.up), installed in the image.
``edge``: the live recorder's own status, what ``saferoad edge --status --spool SPOOL`` prints as
"live" (the record its main loop writes beside the spool every ``edge.status_interval_s``): healthy
while that record exists, says ``recording`` and is at most ``--max-age`` seconds old (default
15 = three of the default 5 s intervals). A stale sensor feed (a GPS in a tunnel) is reported on
stderr but is not unhealthy: the recorder is working, the world is quiet; a status that stops
coming is (the loop that writes it also runs the rules). It needs only the standard library.
Exit status 0 = healthy, 1 = not (the reason on stderr), 2 = usage.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

EDGE_MAX_AGE_S = 15.0


def edge_status_path(spool: str) -> Path:
    """Where the live recorder writes its status: beside the spool (saferoad.application.edge_live
    .status_path_for, which tests/deploy/test_probe.py holds this to)."""
    p = Path(spool)
    return p.with_name(p.name + ".status.json")


def edge_problem(spool: str, max_age_s: float) -> str | None:
    """None when the live recorder writing beside SPOOL is healthy, else why not.

    Reads the status file itself (what ``saferoad edge --status`` prints as "live") instead of
    running that command: the command loads the configuration and the spool (3 s of CPU per
    probe on this repository's 2-core machine), the file read costs a bare interpreter start."""
    path = edge_status_path(spool)
    try:
        live = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"no live status at {path}: the recorder has not written one"
    except (OSError, ValueError) as err:
        return f"unreadable live status {path}: {err}"
    if live.get("stale"):
        print(f"stale stages: {', '.join(live['stale'])}", file=sys.stderr)
    if live.get("state") != "recording":
        return f"the recorder is {live.get('state')!r}, not recording"
    if age > max_age_s:
        return f"the live status is {age:.1f} s old (more than {max_age_s:g} s): the recorder's loop is stuck or gone"
    return None


def main(argv: list[str]) -> int:
    usage = "usage: probe.py http URL | probe.py grpc HOST:PORT | probe.py edge SPOOL [--max-age S]"
    if len(argv) == 4 and argv[0] == "edge" and argv[2] == "--max-age":
        argv, max_age = argv[:2], float(argv[3])
    else:
        max_age = EDGE_MAX_AGE_S
    if len(argv) != 2 or argv[0] not in ("http", "grpc", "edge"):
        print(usage, file=sys.stderr)
        return 2
    kind, target = argv
    if kind == "edge":
        problem = edge_problem(target, max_age)
    else:
        # deferred: the edge image has no gRPC/HTTP service to check
        from saferoad.entrypoints.up import grpc_health, http_health

        check = http_health(target, 3.0) if kind == "http" else grpc_health(target, 3.0)
        problem = check()
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
