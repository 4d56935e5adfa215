"""Conformance: the official Triton client (tritonclient[grpc]) against saferoad's server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from saferoad.adapters.grpc.models import load_model

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(("transport", "datatype"), [("model", "FP32"), ("auto", "UINT8")])
def test_tritonclient_metadata_and_infer(serve: Any, tmp_path: Path, transport: str, datatype: str) -> None:
    model = load_model("yolox-nano", transport_dtype=transport)
    server, _ = serve([model])
    # whole pixel values 0-255, so the UINT8 transport carries exactly these numbers
    x = np.random.default_rng(7).integers(0, 256, (1, 3, 416, 416)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = model.predict({"images": x})["output"]
    proc = subprocess.run(
        [sys.executable, str(HERE / "triton_conformance_client.py"), str(server.port),
         str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["live"] and report["ready"] and report["model_ready"]
    assert report["unknown_model_ready"] is False
    assert report["server_name"] == "saferoad"
    meta = report["metadata"]
    assert meta["name"] == "yolox-nano" and meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "images", "datatype": datatype, "shape": ["1", "3", "416", "416"]}]
    assert meta["outputs"] == [{"name": "output", "datatype": "FP32", "shape": ["1", "3549", "85"]}]
    assert report["response_id"] == "r-1" and report["response_model"] == "yolox-nano"
    got = np.load(tmp_path / "out.npz")["output"]
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert report["wrong_dtype"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert f"datatype FP64 given, the model takes {datatype}" in report["wrong_dtype"]["message"]
    assert report["unknown_model"]["status"] == "StatusCode.NOT_FOUND"
    # the streaming API: responses in order, the bad request as an error, the stream open
    stream = report["stream"]
    assert stream[0] == {"id": "s-1"} and stream[2] == {"id": "s-3"}
    assert f"datatype FP64 given, the model takes {datatype}" in stream[1]["error"]
    for k in (0, 2):
        got = np.load(tmp_path / f"out-stream{k}.npz")["output"]
        assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert report["live_after_stream"] is True


def test_tritonclient_system_shared_memory(serve: Any, tmp_path: Path) -> None:
    """tritonclient.utils.shared_memory + register_system_shared_memory + ModelInfer with the
    input and the output in shared memory (Triton's extension), and its error cases."""
    model = load_model("yolox-nano", transport_dtype="auto")
    server, servicer = serve([model])
    x = np.random.default_rng(11).integers(0, 256, (1, 3, 416, 416)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    expected = model.predict({"images": x})["output"]
    proc = subprocess.run(
        [sys.executable, str(HERE / "triton_shm_client.py"), str(server.port),
         str(tmp_path / "x.npy"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "system_shared_memory" in report["extensions"]
    assert report["status"] == ["input_data", "output_data"]
    assert report["response_id"] == "shm-1"
    params = report["output_parameters"]
    assert params["shared_memory_region"] == {"string_param": "output_data"}
    assert int(params["shared_memory_byte_size"]["int64_param"]) == expected.nbytes
    assert report["raw_output_contents"] == 0  # the output did not travel on the socket
    got = np.load(tmp_path / "out.npz")["output"]
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert report["output_too_small"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert "output 'output'" in report["output_too_small"]["message"]
    assert report["wrong_byte_size"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert "input 'images'" in report["wrong_byte_size"]["message"]
    assert report["bad_key"]["status"] == "StatusCode.NOT_FOUND"
    assert report["unregistered"]["status"] == "StatusCode.NOT_FOUND"
    assert "input_data" in report["unregistered"]["message"]
    assert report["status_after"] == {} and report["live_after"] is True
    assert len(servicer.shm) == 0
