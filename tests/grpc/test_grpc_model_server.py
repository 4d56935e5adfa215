"""The KServe v2 model server and client on real gRPC over 127.0.0.1."""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from saferoad.adapters.grpc.client import (
    ClientOptions,
    KServeClient,
    RemoteBackend,
    RemoteInferenceError,
    build_request,
)
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.models import load_model, python_model

from .conftest import infer_in_thread


@pytest.fixture
def yolox() -> Any:
    return load_model("yolox-nano")


def _health(port: int, service: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


SERVING = health_pb2.HealthCheckResponse.SERVING


def _frame(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((1, 3, 416, 416)) * 255).astype(np.float32)


def test_onnx_model_served_matches_local_inference(serve: Any, yolox: Any) -> None:
    server, _ = serve([yolox])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/yolox-nano") as c:
        assert c.server_live() and c.server_ready() and c.model_ready()
        assert c.server_metadata()["name"] == "saferoad"
        info = c.model_metadata()
        assert info.platform == "onnxruntime_onnx"
        assert [(t.name, t.datatype, t.shape) for t in info.inputs] == [("images", "FP32", (1, 3, 416, 416))]
        assert [(t.name, t.datatype, t.shape) for t in info.outputs] == [("output", "FP32", (1, 3549, 85))]
        x = _frame()
        remote = c.infer({"images": x})
    local = yolox.predict({"images": x})
    assert np.array_equal(remote["output"], local["output"])  # bit-exact: raw FP32 bytes


def test_remote_backend_reports_specs(serve: Any, yolox: Any) -> None:
    server, _ = serve([yolox])
    backend = RemoteBackend.from_url(f"grpc://127.0.0.1:{server.port}/yolox-nano")
    try:
        from saferoad.ports.detector import InferenceBackend

        assert isinstance(backend, InferenceBackend)
        (spec,) = backend.input_specs()
        assert (spec.name, spec.shape, spec.dtype) == ("images", (1, 3, 416, 416), "float32")
        assert backend.output_specs()[0].name == "output"
        out = backend.infer({"images": _frame(1)})
        assert out["output"].flags.writeable
    finally:
        backend.close()


def test_typed_contents_get_typed_answer(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")])
    req = pb.ModelInferRequest(model_name="echo")
    t = req.inputs.add(name="a", datatype="INT64", shape=[2, 2])
    t.contents.int64_contents.extend([1, -2, 3, 2**40])
    b = req.inputs.add(name="s", datatype="BYTES", shape=[2])
    b.contents.bytes_contents.extend([b"stop", b"sign"])
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        resp = pb_grpc.GRPCInferenceServiceStub(ch).ModelInfer(req, timeout=5)
    assert not resp.raw_output_contents
    by_name = {o.name: o for o in resp.outputs}
    assert list(by_name["out_a"].contents.int64_contents) == [1, -2, 3, 2**40]
    assert list(by_name["out_a"].shape) == [2, 2]
    assert list(by_name["out_s"].contents.bytes_contents) == [b"stop", b"sign"]


def test_raw_roundtrip_of_every_datatype(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")])
    rng = np.random.default_rng(3)
    arrays = {
        "b": rng.random((3,)) > 0.5,
        "u8": rng.integers(0, 255, (2, 3), dtype=np.uint8),
        "i16": rng.integers(-300, 300, (4,), dtype=np.int16),
        "u64": np.array([2**63 + 5], dtype=np.uint64),
        "f16": rng.random((2, 2)).astype(np.float16),
        "f64": rng.random((1, 1, 2)),
        "s": np.array([b"a", b"", b"xyz"], dtype=object),
    }
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo") as c:
        out = c.infer(arrays)
    for k, v in arrays.items():
        got = out[f"out_{k}"]
        assert got.shape == v.shape and (got.dtype == v.dtype or v.dtype == object)
        assert np.array_equal(got, v)


@pytest.mark.parametrize(
    ("case", "code", "text"),
    [
        ("dtype", grpc.StatusCode.INVALID_ARGUMENT, "datatype FP64 given, the model takes FP32"),
        ("shape", grpc.StatusCode.INVALID_ARGUMENT, "shape [1, 3, 416, 400] given"),
        ("unknown_input", grpc.StatusCode.INVALID_ARGUMENT, "has no input 'pixels'"),
        ("missing_input", grpc.StatusCode.INVALID_ARGUMENT, "'images' is missing"),
        ("byte_count", grpc.StatusCode.INVALID_ARGUMENT, "raw bytes, but FP32 [1, 3, 416, 416] needs"),
        ("bad_datatype", grpc.StatusCode.INVALID_ARGUMENT, "unknown datatype 'FLOAT'"),
        ("raw_count", grpc.StatusCode.INVALID_ARGUMENT, "give one per input"),
        ("unknown_model", grpc.StatusCode.NOT_FOUND, "unknown model 'yolo-huge'"),
        ("unknown_version", grpc.StatusCode.NOT_FOUND, "has no version '7'"),
        ("unknown_output", grpc.StatusCode.INVALID_ARGUMENT, "has no output 'boxes'"),
        ("oversized", grpc.StatusCode.RESOURCE_EXHAUSTED, "larger than max"),
    ],
)
def test_bad_requests_get_clear_status_and_server_stays_healthy(
    serve: Any, yolox: Any, case: str, code: grpc.StatusCode, text: str
) -> None:
    server, servicer = serve([yolox], max_message_bytes=4 * 1024 * 1024)
    x = _frame()
    req = build_request("yolox-nano", "", {"images": x})
    if case == "dtype":
        req = build_request("yolox-nano", "", {"images": x.astype(np.float64)})
    elif case == "shape":
        req = build_request("yolox-nano", "", {"images": x[..., :400]})
    elif case == "unknown_input":
        req = build_request("yolox-nano", "", {"images": x, "pixels": x})
    elif case == "missing_input":
        req = build_request("yolox-nano", "", {})
        req.inputs.add(name="other", datatype="FP32", shape=[1])
        servicer.models["yolox-nano"].inputs += (servicer.models["yolox-nano"].inputs[0].__class__("other", "FP32", (1,)),)
        req.raw_input_contents.append(np.zeros(1, np.float32).tobytes())
    elif case == "byte_count":
        req.raw_input_contents[0] = req.raw_input_contents[0][:-4]
    elif case == "bad_datatype":
        req.inputs[0].datatype = "FLOAT"
    elif case == "raw_count":
        req.raw_input_contents.append(b"")
    elif case == "unknown_model":
        req.model_name = "yolo-huge"
    elif case == "unknown_version":
        req.model_version = "7"
    elif case == "unknown_output":
        req.outputs.add(name="boxes")
    elif case == "oversized":
        big = np.zeros((1, 3, 1000, 1000), np.float32)  # 12 MB > the 4 MB limit
        req = build_request("yolox-nano", "", {"images": big})
    with grpc.insecure_channel(
        f"127.0.0.1:{server.port}", options=[("grpc.max_send_message_length", 64 << 20)]
    ) as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(req, timeout=10)
        assert info.value.code() == code
        assert text in info.value.details()
        # the server is still up and serves a good request
        assert _health(server.port) == SERVING
        if case == "missing_input":
            return
        ok = stub.ModelInfer(build_request("yolox-nano", "", {"images": x}), timeout=10)
        assert ok.outputs[0].name == "output"


def test_model_metadata_of_unknown_model_is_not_found(serve: Any, yolox: Any) -> None:
    server, _ = serve([yolox])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/nope") as c:
        assert not c.model_ready()
        with pytest.raises(RemoteInferenceError, match="NOT_FOUND: unknown model 'nope'") as info:
            c.model_metadata()
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        assert c.retries == 0  # not a transient error


def test_model_that_raises_is_internal_and_server_survives(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Broken"), python_model("grpc_test_models:Echo")])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/broken") as c:
        with pytest.raises(RemoteInferenceError, match="INTERNAL: model 'broken' failed: ZeroDivisionError"):
            c.infer({"x": np.zeros(2, np.float32)})
        assert c.retries == 0
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo") as c:
        assert c.infer({"x": np.ones(2, np.float32)})["out_x"].tolist() == [1.0, 1.0]


def test_dynamic_batching_joins_concurrent_callers(serve: Any, test_models: Any) -> None:
    model_obj = test_models.Doubler(delay_s=0.03)
    from saferoad.adapters.grpc.models import ServedModel, TensorMeta

    model = ServedModel(
        "doubler",
        model_obj.predict,
        inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),),
        max_batch_size=16,
    )
    server, servicer = serve([model], max_batch_size=8, max_batch_delay_s=0.02)
    client = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler")
    errors: list[BaseException] = []
    n_threads, n_requests = 8, 5

    def worker(k: int) -> None:
        try:
            for j in range(n_requests):
                x = np.full((1, 4), k * 100 + j, np.float32)
                y = client.infer({"x": x})["y"]
                assert np.array_equal(y, x * 2 + 1), (k, j, y)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    client.close()
    assert not errors
    assert sum(model_obj.batch_sizes) == n_threads * n_requests
    assert max(model_obj.batch_sizes) > 1  # requests from different callers shared a run
    assert max(model_obj.batch_sizes) <= 8
    assert servicer.stats.max_batch_requests == max(model_obj.batch_sizes)


def test_graceful_shutdown_finishes_calls_in_flight(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Slow")])
    client = KServeClient(
        f"grpc://127.0.0.1:{server.port}/slow", ClientOptions(max_attempts=1, timeout_s=10)
    )
    t, result = infer_in_thread(client, {"x": np.array([1.0], np.float32)}, "y")
    time.sleep(0.2)  # the call is inside predict (0.6 s)
    stopper = threading.Thread(target=server.stop, args=(5.0,))
    stopper.start()
    time.sleep(0.1)
    with pytest.raises(RemoteInferenceError, match="UNAVAILABLE"):
        client.infer({"x": np.array([2.0], np.float32)})  # new calls are refused while draining
    t.join(10)
    stopper.join(10)
    client.close()
    assert "err" not in result, result.get("err")
    assert result["y"].tolist() == [2.0]


def test_health_and_reflection(serve: Any, yolox: Any) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    server, _ = serve([yolox])
    assert _health(server.port) == SERVING
    assert _health(server.port, "inference.GRPCInferenceService") == SERVING
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        services = set(db.get_services())
        assert {"inference.GRPCInferenceService", "grpc.health.v1.Health"} <= services
        desc = db.FindFileContainingSymbol("inference.GRPCInferenceService")
        assert "ModelInfer" in [m.name for m in desc.service[0].method]
    server.stop(1)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch, pytest.raises(grpc.RpcError):
        health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)


def test_server_restart_mid_run_client_retries_and_finishes(serve: Any, yolox: Any) -> None:
    server, _ = serve([yolox])
    port = server.port
    backend = RemoteBackend.from_url(
        f"grpc://127.0.0.1:{port}/yolox-nano", ClientOptions(timeout_s=5, max_attempts=10)
    )
    frames = [_frame(i) for i in range(12)]
    expected = [yolox.predict({"images": f})["output"] for f in frames]
    state: dict[str, Any] = {}

    def restart() -> None:
        server.stop(0)
        time.sleep(0.5)  # the port is closed: calls fail UNAVAILABLE and are retried
        state["new"] = serve([load_model("yolox-nano")], port=port)[0]

    results = []
    for i, f in enumerate(frames):
        if i == 4:
            t = threading.Thread(target=restart)
            t.start()
            time.sleep(0.1)
        results.append(backend.infer({"images": f})["output"])
    t.join(30)
    backend.close()
    assert backend.client.retries > 0
    for got, want in zip(results, expected, strict=True):
        assert np.array_equal(got, want)


def test_unreachable_server_fails_after_bounded_retries() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = ClientOptions(timeout_s=0.5, max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02)
    with KServeClient(f"grpc://127.0.0.1:{port}/m", opts) as c:
        with pytest.raises(RemoteInferenceError, match=r"UNAVAILABLE.*after 3 attempts"):
            c.infer({"x": np.zeros(1, np.float32)})
        assert c.retries == 2


def test_bearer_token(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")], token="s3cret")
    x = {"x": np.ones(1, np.float32)}
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo") as c:
        with pytest.raises(RemoteInferenceError, match="UNAUTHENTICATED") as info:
            c.infer(x)
        assert c.retries == 0
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo", ClientOptions(token="wrong")) as c:
        with pytest.raises(RemoteInferenceError, match="UNAUTHENTICATED"):
            c.infer(x)
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo", ClientOptions(token="s3cret")) as c:
        assert c.infer(x)["out_x"].tolist() == [1.0]
    assert _health(server.port) == SERVING  # health stays open for load balancers
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_tls(serve: Any, test_models: Any, tmp_path: Any) -> None:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a test certificate"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=saferoad-test", "-addext", "subjectAltName=DNS:saferoad-test,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    server, _ = serve(
        [python_model("grpc_test_models:Echo")], tls_cert=cert.read_bytes(), tls_key=key.read_bytes()
    )
    opts = ClientOptions(root_certs=cert.read_bytes(), max_attempts=1)
    with KServeClient(f"grpcs://127.0.0.1:{server.port}/echo", opts) as c:
        assert c.infer({"x": np.ones(3, np.float32)})["out_x"].tolist() == [1.0, 1.0, 1.0]
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo", ClientOptions(max_attempts=1, timeout_s=2)) as c:
        with pytest.raises(RemoteInferenceError):  # plaintext to a TLS port fails
            c.infer({"x": np.ones(3, np.float32)})


def test_python_model_runs_one_request_at_a_time_unless_thread_safe(serve: Any, test_models: Any) -> None:
    class Counting:
        """Not thread-safe: records how many predict calls ever overlapped."""

        name = "counting"
        now = peak = 0
        lock = threading.Lock()

        def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            with Counting.lock:
                Counting.now += 1
                Counting.peak = max(Counting.peak, Counting.now)
            time.sleep(0.05)
            with Counting.lock:
                Counting.now -= 1
            return {"y": inputs["x"]}

    class Meeting:
        """Thread-safe: two calls must be inside predict at the same time to pass the barrier."""

        name = "meeting"
        thread_safe = True
        barrier = threading.Barrier(2, timeout=20)

        def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            Meeting.barrier.wait()
            return {"y": inputs["x"]}

    test_models.Counting, test_models.Meeting = Counting, Meeting
    server, _ = serve([python_model("grpc_test_models:Counting"), python_model("grpc_test_models:Meeting")])
    for name in ("counting", "meeting"):
        client = KServeClient(f"grpc://127.0.0.1:{server.port}/{name}", ClientOptions(timeout_s=30, max_attempts=1))
        errors: list[BaseException] = []

        def call(c: KServeClient = client, errs: list[BaseException] = errors) -> None:
            try:
                c.infer({"x": np.ones(1, np.float32)})
            except BaseException as err:
                errs.append(err)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        client.close()
        assert errors == []
    assert Counting.peak == 1
