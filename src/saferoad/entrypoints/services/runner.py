"""Run a gRPC server in the foreground until SIGTERM/SIGINT, then stop it gracefully."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

from saferoad.adapters.grpc.server import GrpcServer
from saferoad.observability import get_logger

_log = get_logger("grpc.runner")


def run_until_signalled(server: GrpcServer, grace_s: float, stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or ``stop`` is set), then :meth:`GrpcServer.stop`:
    new calls are refused, calls in flight get ``grace_s`` to finish."""
    stop = stop or threading.Event()
    previous = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        _log.info("signal", signal=signal.Signals(signum).name, grace_s=grace_s)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop(grace_s)
        for sig, h in previous.items():
            signal.signal(sig, h)


def read_tls_and_token(
    tls_cert: Path | None, tls_key: Path | None, token_env: str | None
) -> tuple[bytes | None, bytes | None, str | None]:
    """The serve commands' security options: PEM certificate and key bytes (both or neither)
    and the bearer token read from the environment variable ``token_env`` (if given)."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ValueError(f"--token-env {token_env}: the environment variable is unset or empty")
    cert = tls_cert.read_bytes() if tls_cert else None
    key = tls_key.read_bytes() if tls_key else None
    return cert, key, token
