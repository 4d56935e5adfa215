"""``saferoad up``: the cloud services as local processes on loopback, supervised as one.

Each service is the ordinary CLI command (``saferoad web``, ``saferoad serve``, ...) in its own
process group; its output lines are echoed with a ``[name]`` prefix. The supervisor waits for
each service's own health (HTTP ``/api/v1/ingest/health``, gRPC ``grpc.health.v1``), runs the
one-shot jobs (the edge replay of ``--with-edge``), and on SIGINT/SIGTERM, a service exiting or
the run's time limit, stops every process: SIGTERM, then SIGKILL after ``grace_s``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

Health = Callable[[], str | None]  # None = healthy, else why not


def saferoad_argv(*args: str) -> list[str]:
    """The argv running ``saferoad ARGS`` with this interpreter's installation."""
    script = Path(sys.executable).with_name("saferoad")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from saferoad.entrypoints.cli.app import main; main()", *args]


def http_health(url: str, timeout_s: float = 2.0) -> Health:
    def check() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                body = json.loads(resp.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{url}: {exc}"
        return None if isinstance(body, dict) and body.get("status") == "ok" else f"{url}: {body!r}"

    return check


def grpc_health(target: str, timeout_s: float = 2.0) -> Health:
    def check() -> str | None:
        # deferred: gRPC loads only when a service's health is checked over it
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
                )
            except grpc.RpcError as exc:
                return f"{target}: {exc.code().name}"
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            return None
        return f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"

    return check


@dataclass
class Service:
    name: str
    argv: list[str]
    health: Health | None = None  # None: a one-shot job, done when it exits 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Proc:
    service: Service
    popen: subprocess.Popen[bytes]
    pump: threading.Thread


class Supervisor:
    def __init__(self, out: IO[str] | None = None, grace_s: float = 10.0) -> None:
        self.out = out or sys.stdout
        self.grace_s = grace_s
        self.procs: list[Proc] = []
        self._lock = threading.Lock()
        self.stop_requested = threading.Event()
        self.stop_reason = ""

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"[{name}] {line}\n")
            self.out.flush()

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def start(self, service: Service) -> Proc:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}
        popen = subprocess.Popen(
            service.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # signals reach it only from us: one orderly stop
        )
        assert popen.stdout is not None
        pump = threading.Thread(target=self._pump, args=(service.name, popen.stdout), daemon=True)
        pump.start()
        proc = Proc(service, popen, pump)
        self.procs.append(proc)
        self.say("up", f"started {service.name} (pid {popen.pid}): {' '.join(service.argv[1:])}")
        return proc

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            self.stop_reason = reason
            self.stop_requested.set()

    def wait_healthy(self, proc: Proc, timeout_s: float) -> bool:
        assert proc.service.health is not None
        deadline = time.monotonic() + timeout_s
        why = "not checked"
        while time.monotonic() < deadline and not self.stop_requested.is_set():
            if proc.popen.poll() is not None:
                self.request_stop(
                    f"{proc.service.name} exited with {proc.popen.returncode} while starting"
                )
                return False
            why_now = proc.service.health()
            if why_now is None:
                self.say("up", f"{proc.service.name} healthy")
                return True
            why = why_now
            time.sleep(0.2)
        if not self.stop_requested.is_set():
            self.request_stop(f"{proc.service.name} not healthy after {timeout_s:g} s ({why})")
        return False

    def watch(self, until: float | None) -> None:
        """Until a stop is requested, a long-running service exits, or ``until`` (monotonic)."""
        while not self.stop_requested.wait(0.2):
            for proc in self.procs:
                if proc.service.health is not None and proc.popen.poll() is not None:
                    self.request_stop(f"{proc.service.name} exited with {proc.popen.returncode}")
            if until is not None and time.monotonic() >= until:
                self.request_stop("time limit")

    def run_job(self, service: Service) -> int:
        proc = self.start(service)
        while proc.popen.poll() is None:
            if self.stop_requested.wait(0.2):
                break
        if proc.popen.poll() is None:
            return -1
        proc.pump.join(timeout=5)
        self.say("up", f"{service.name} finished with exit status {proc.popen.returncode}")
        return proc.popen.returncode

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every process still running (newest first), SIGKILL after the grace time."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        codes: dict[str, int] = {}
        for proc in reversed(self.procs):
            try:
                codes[proc.service.name] = proc.popen.wait(
                    timeout=max(0.0, deadline - time.monotonic())
                )
            except subprocess.TimeoutExpired:
                self.say("up", f"{proc.service.name} did not stop in {self.grace_s:g} s: killed")
                os.killpg(proc.popen.pid, signal.SIGKILL)
                codes[proc.service.name] = proc.popen.wait()
            proc.pump.join(timeout=5)
        return codes


def install_signal_handlers(sup: Supervisor) -> None:
    def handler(signum: int, _frame: object) -> None:
        sup.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run(
    services: Sequence[Service],
    jobs: Sequence[Service],
    *,
    for_s: float | None,
    start_timeout_s: float,
    out: IO[str] | None = None,
    grace_s: float = 10.0,
    stay: bool = True,
) -> int:
    """Start ``services`` (each healthy before the next), then run ``jobs`` in order, then wait for
    a signal (or ``for_s``; ``stay=False``: stop once the jobs are done). 0 = clean."""
    sup = Supervisor(out, grace_s)
    install_signal_handlers(sup)
    until = None if for_s is None else time.monotonic() + for_s
    status = 0
    try:
        for svc in services:
            if not sup.wait_healthy(sup.start(svc), start_timeout_s):
                status = 1
                break
        else:
            for job in jobs:
                code = sup.run_job(job)
                if code != 0 and not sup.stop_requested.is_set():
                    sup.request_stop(f"{job.name} failed")
                    status = 1
                    break
            if status == 0 and not sup.stop_requested.is_set():
                if stay:
                    sup.say("up", "all services up; Ctrl-C stops them")
                    sup.watch(until)
                else:
                    sup.request_stop("jobs done")
    finally:
        sup.request_stop("stopping")
        reason = sup.stop_reason
        failed_before = {
            p.service.name
            for p in sup.procs
            if p.service.health is not None and p.popen.poll() is not None
        }
        codes = sup.stop_all()
        sup.say("up", f"stopped ({reason}): " + ", ".join(f"{n} {c}" for n, c in codes.items()))
    if failed_before and reason not in ("SIGINT", "SIGTERM", "time limit", "jobs done"):
        status = 1
    return status
