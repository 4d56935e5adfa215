"""The bounded load test (zero errors, not timing), ``serve-model`` as a real process, and
regenerating the checked-in stubs."""

from __future__ import annotations

import filecmp
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.adapters.grpc.client import ClientOptions, KServeClient
from saferoad.adapters.grpc.loadtest import run_load
from saferoad.adapters.grpc.models import ServedModel, TensorMeta

REPO = Path(__file__).resolve().parents[2]


def test_bounded_load_has_no_errors(serve: Any, test_models: Any) -> None:
    obj = test_models.Doubler()
    model = ServedModel(
        "doubler", obj.predict, inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),), max_batch_size=16,
    )
    server, servicer = serve([model], max_batch_size=8, max_batch_delay_s=0.001)
    res = run_load(
        f"grpc://127.0.0.1:{server.port}/doubler",
        lambda k, j: {"x": np.full((1, 4), k * 1000 + j, np.float32)},
        clients=4,
        requests_per_client=25,
    )
    assert res.errors == []
    assert res.ok == 100 and servicer.stats.requests == 100 and servicer.stats.errors == 0
    assert sum(obj.batch_sizes) == 100
    assert "100 ok, 0 errors" in res.summary()


def test_serve_model_process_module_attr_and_sigterm(server_process: Any) -> None:
    proc = server_process("serve-model", "--model", "grpc_test_models:Slow", "--port", "0")
    url = f"grpc://127.0.0.1:{proc.port}/slow"
    with KServeClient(url, ClientOptions(max_attempts=1, timeout_s=10)) as c:
        info = c.model_metadata()
        assert info.name == "slow" and info.platform == "python"
        out: dict[str, Any] = {}
        t = threading.Thread(target=lambda: out.update(c.infer({"x": np.array([41.0], np.float32)})))
        t.start()
        import time

        time.sleep(0.3)
        proc.proc.send_signal(signal.SIGTERM)  # graceful: the call in flight still finishes
        t.join(15)
    proc.proc.wait(30)  # exits by itself after draining
    code, err = proc.stop()
    assert out["y"].tolist() == [42.0]
    assert code == 0, err[-2000:]
    assert "server_stopped" in err


def test_serve_model_bad_model_is_a_clear_error() -> None:
    from typer.testing import CliRunner

    from saferoad.entrypoints.cli.app import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve-model", "--model", "nosuchpkg.mod:Model", "--port", "0"])
    assert r.exit_code == 2
    assert "cannot import 'nosuchpkg.mod'" in r.output
    r = runner.invoke(app, ["serve-model", "--model", "/nonexistent/model.onnx", "--port", "0"])
    assert r.exit_code == 2 and "ONNX model not found" in r.output
    r = runner.invoke(app, ["serve", "--detector", "grpc", "--inference-url", "http://x", "--port", "0"])
    assert r.exit_code == 2 and "scheme must be grpc:// or grpcs://" in r.output


def test_regenerating_stubs_gives_the_checked_in_files(tmp_path: Path) -> None:
    import os
    import sys

    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(REPO / "scripts" / "gen-protos.sh"), str(tmp_path)], check=True, timeout=120, env=env)
    generated = REPO / "src" / "saferoad" / "adapters" / "grpc" / "generated"
    names = sorted(p.name for p in generated.iterdir() if p.is_file())
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    _match, mismatch, errors = filecmp.cmpfiles(generated, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == [], f"stale stubs, run scripts/gen-protos.sh: {mismatch}"
