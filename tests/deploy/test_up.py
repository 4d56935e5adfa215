"""`saferoad up` end to end: real processes on 127.0.0.1, stopped by a signal.

A simulated drive replayed by `saferoad up --with-edge` reaches the web app: its event is in the
manager's review queue and its clip downloads; SIGINT then stops every process cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.sql import open_store
from saferoad.application.web import add_user
from saferoad.entrypoints.wiring import simulate

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.timeout(300)]
SAFEROAD = [sys.executable, "-c", "from saferoad.entrypoints.cli.app import main; main()"]
PASSWORD = "up-test-password-1"
# the two gRPC services on free ports
GRPC_SERVICES = (
    *("--only", "analysis", "--only", "model-server"),
    *("--analysis-port", "0", "--model-port", "0"),
)


class Lines:
    """The up process's output, read on a thread, searchable while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cv = threading.Condition()
        assert proc.stdout is not None
        self._t = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._t.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        rx = re.compile(pattern)
        with self._cv:
            while True:
                for line in self.lines:
                    if m := rx.search(line):
                        return m
                left = deadline - time.monotonic()
                assert left > 0, f"no line matching {pattern!r}:\n" + "\n".join(self.lines[-40:])
                self._cv.wait(left)

    def text(self) -> str:
        with self._cv:
            return "\n".join(self.lines)


def _up(*args: str) -> tuple[subprocess.Popen[str], Lines]:
    proc = subprocess.Popen(
        [*SAFEROAD, "up", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return proc, Lines(proc)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_with_edge_the_drive_reaches_the_review_queue_with_its_clip(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=24", "at_s=9"], seed=2)
    meta = open_recording(rec).meta
    state = tmp_path / "state"
    state.mkdir()
    store = open_store(f"sqlite:///{state / 'saferoad.db'}")
    try:
        add_user(store, "mgr", PASSWORD, "manager", fleets=(meta.fleet_id,))
    finally:
        store.close()
    proc, out = _up(
        "--state", str(state), "--only", "web", "--web-port", "0", "--with-edge", str(rec)
    )
    try:
        port = int(
            out.wait_for(r"^\[web\] saferoad web on http://127\.0\.0\.1:(\d+)", 120).group(1)
        )
        web_pid = int(out.wait_for(r"^\[up\] started web \(pid (\d+)\)", 1).group(1))
        out.wait_for(r"^\[up\] edge finished with exit status 0$", 180)
        assert re.search(
            r'^\[edge\] .*"sent": \{"trip": 1, "event": 1, "clip": 1, "summary": 1\}', out.text(), re.M | re.S
        ), out.text()[-3000:]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            page = c.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            r = c.post(
                "/login",
                data={
                    "username": "mgr",
                    "password": PASSWORD,
                    "csrf_token": csrf.group(1),
                    "next": "/",
                },
            )
            assert r.status_code == 303, r.text[:300]
            queue = c.get(f"/fleets/{meta.fleet_id}/review")
            assert queue.status_code == 200
            ids = re.findall(r'data-event="([^"]+)"', queue.text)
            assert len(ids) == 1, ids
            clip = c.get(f"/events/{ids[0]}/clip")
            assert clip.status_code == 200 and len(clip.content) > 1000
        assert proc.poll() is None, "up stopped by itself"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, out.text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    out.wait_for(r"^\[up\] stopped \(SIGINT\)", 10)
    assert _gone(web_pid)


def test_grpc_services_start_healthy_and_stop_on_sigterm(tmp_path: Path) -> None:
    proc, out = _up(
        "--state",
        str(tmp_path),
        *GRPC_SERVICES,
    )
    try:
        out.wait_for(r"^\[up\] all services up", 120)
        pids = [int(m) for m in re.findall(r"^\[up\] started \S+ \(pid (\d+)\)", out.text(), re.M)]
        assert len(pids) == 2
        assert "[model-server] listening on 127.0.0.1:" in out.text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    out.wait_for(r"^\[up\] stopped \(SIGTERM\): analysis 0, model-server 0$", 10)
    assert all(_gone(p) for p in pids)


def test_a_service_that_cannot_start_stops_the_rest_and_fails(tmp_path: Path) -> None:
    proc, out = _up(
        "--state",
        str(tmp_path),
        *GRPC_SERVICES,
        "--model",
        str(tmp_path / "no-such-model.onnx"),
    )
    assert proc.wait(timeout=120) == 1, out.text()
    out.wait_for(r"^\[up\] stopped \(model-server exited with \d+ while starting\)", 10)
    assert "started analysis" not in out.text()


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    run = subprocess.run(
        [*SAFEROAD, "up", "--state", str(tmp_path), "--only", "ftp"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "unknown service ftp" in run.stdout + run.stderr
