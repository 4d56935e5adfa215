"""Run a gRPC server in the foreground until SIGTERM/SIGINT, then stop it gracefully."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from saferoad.adapters.grpc.model_server import GrpcServer
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
