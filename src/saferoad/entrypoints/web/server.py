"""Running the web app under uvicorn so that SIGTERM/SIGINT stop it cleanly with exit status 0.

uvicorn (0.29 and later) shuts down gracefully on SIGTERM or SIGINT, then raises the signal again
once its own handlers are gone (``Server.capture_signals``), so the process ends *by the signal*:
exit 143 for the SIGTERM Kubernetes and ``saferoad up`` send, and the CLI's ``finally`` (closing
the store) never runs. A service that stopped because it was asked to is a clean exit here, as
for ``saferoad serve`` and ``serve-model`` (entrypoints/services/runner.py)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Generator
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE  # 3, as uvicorn.run exits when it cannot start
from uvicorn.server import HANDLED_SIGNALS as STOP_SIGNALS  # SIGINT, SIGTERM


class CleanExitServer(uvicorn.Server):
    """A uvicorn server that handles SIGINT/SIGTERM (graceful shutdown: in-flight requests
    finish, lifespan shutdown runs) and then returns instead of re-raising the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled on the main thread (as uvicorn does)
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_web(app: Any, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then return after a graceful shutdown."""
    server = CleanExitServer(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    server.run()
    if not server.started:  # e.g. the port is taken: uvicorn.run's exit status for it
        raise SystemExit(STARTUP_FAILURE)
