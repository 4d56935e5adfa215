"""Fixtures for the gRPC tests: real servers on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load_test_models() -> Any:
    spec = importlib.util.spec_from_file_location("grpc_test_models", HERE / "grpc_test_models.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["grpc_test_models"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def test_models() -> Any:
    """The module of Python test models (also importable as ``grpc_test_models``)."""
    return _load_test_models()


@pytest.fixture
def serve(test_models: Any) -> Iterator[Callable[..., Any]]:
    """Start in-process model servers on 127.0.0.1:0; all stopped at the end of the test."""
    from saferoad.entrypoints.services.model_server import serve_models

    started: list[Any] = []

    def start(models: list[Any], **kw: Any) -> tuple[Any, Any]:
        server, servicer = serve_models(models, host="127.0.0.1", **kw)
        started.append(server)
        return server, servicer

    yield start
    for s in started:
        s.stop(0)


class ServerProcess:
    """A ``saferoad`` server command in a child process; ``port`` read from its stdout."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "saferoad"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=HERE,
        )
        self.port = self._read_port()

    def _read_port(self) -> int:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on [^\s]+:(\d+)", line)
            if m:
                return int(m.group(1))
        self.proc.kill()
        _, err = self.proc.communicate(timeout=10)
        raise RuntimeError(f"server did not start: {err[-2000:]}")

    def stop(self, sig: int = 15, timeout: float = 30) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    procs: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        p = ServerProcess(list(args), env)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


def assert_detects_like_local(shared_dir: Path, backend: Any, frames: int = 3) -> None:
    """A YOLOX-nano ``ModelDetector`` on ``backend`` finds exactly what one on local ONNX
    Runtime finds, on the first ``frames`` frames of the highway clip (``backend`` stays
    open: the caller closes it)."""
    import cv2
    import numpy as np

    from saferoad.adapters.onnx.backend import OnnxBackend
    from saferoad.adapters.onnx.card import load_card
    from saferoad.adapters.onnx.detector import ModelDetector
    from saferoad.domain.types import Frame

    card = load_card("yolox-nano")
    local = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0))
    remote = ModelDetector(card, backend)
    cap = cv2.VideoCapture(str(shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"))
    try:
        for i in range(frames):
            ok, img = cap.read()
            assert ok
            f = Frame(i, i / 25.0, np.asarray(img, dtype=np.uint8))
            a, b = local.detect(f), remote.detect(f)
            assert len(a) > 0
            assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.scores, b.scores)
            assert a.classes == b.classes
    finally:
        cap.release()
        local.close()


def infer_in_thread(client: Any, inputs: dict[str, Any], output: str) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``client.infer(inputs)`` in a thread; the dict gets ``"y"`` (the ``output``
    tensor) or ``"err"`` (what it raised) once the thread has ended."""
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["y"] = client.infer(inputs)[output]
        except BaseException as err:
            result["err"] = err

    t = threading.Thread(target=call)
    t.start()
    return t, result
