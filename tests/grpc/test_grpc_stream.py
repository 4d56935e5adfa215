"""Triton's streaming inference (ModelStreamInfer) in ``serve-model`` and the client's
``inference.stream`` switch: real servers on 127.0.0.1, real frames, real ONNX models."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from saferoad.adapters.grpc.client import (
    ClientOptions,
    KServeClient,
    RemoteInferenceError,
    serialize_request,
)
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.models import ServedModel, TensorMeta, load_model, python_model
from saferoad.entrypoints.services.model_server import stream_limit

from .conftest import assert_detects_like_local, infer_in_thread

STREAM = ClientOptions(stream=True, timeout_s=10)
STREAM_SHM = ClientOptions(stream=True, shared_memory=True, timeout_s=10)


def _healthy(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return bool(r.status == health_pb2.HealthCheckResponse.SERVING)


def _doubler(test_models: Any, delay_s: float = 0.0, max_batch_size: int = 0) -> ServedModel:
    """The test Doubler (y = 2x + 1) as a served model taking [-1, 4] FP32 rows."""
    model = test_models.Doubler(delay_s=delay_s)
    return ServedModel(
        "doubler", model.predict, inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),), max_batch_size=max_batch_size,
    )


def _clip_frames(shared_dir: Path, n: int, dtype: Any) -> list[np.ndarray]:
    """``n`` frames of the highway clip as 1x3x416x416 tensors (whole pixel values)."""
    import cv2

    cap = cv2.VideoCapture(str(shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"))
    out = []
    try:
        for _ in range(n):
            ok, img = cap.read()
            assert ok
            x = cv2.resize(img, (416, 416), interpolation=cv2.INTER_AREA)
            out.append(np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(dtype))
    finally:
        cap.release()
    return out


@pytest.mark.parametrize("shm", [False, True], ids=["socket", "shm"])
def test_stream_matches_unary_and_local_onnx_bit_for_bit(serve: Any, shared_dir: Path, shm: bool) -> None:
    server, servicer = serve([load_model("yolox-nano", transport_dtype="auto")])
    local = load_model("yolox-nano", transport_dtype="model")
    url = f"grpc://127.0.0.1:{server.port}/yolox-nano"
    opts = ClientOptions(shared_memory=shm, timeout_s=10)
    with KServeClient(url, opts) as unary, KServeClient(url, STREAM_SHM if shm else STREAM) as stream:
        for x in _clip_frames(shared_dir, 3, np.uint8):
            want = local.predict({"images": x.astype(np.float32)})["output"]
            got = stream.infer({"images": x}, request_id="s")["output"]
            assert got.dtype == np.float32 and got.flags.writeable
            assert np.array_equal(got, want)
            assert np.array_equal(got, unary.infer({"images": x})["output"])
        assert len(stream._streams) == 1  # one stream, reused for every frame
        assert stream.retries == 0
    assert servicer.stats.errors == 0
    if shm:
        assert servicer.shm is not None and len(servicer.shm) == 0  # unregistered at close


def test_detector_from_config_over_stream_matches_local(serve: Any, shared_dir: Path) -> None:
    """``inference.stream = true`` as configuration builds the detector: the same detections
    as local ONNX Runtime on frames of the highway clip."""
    from saferoad.adapters.grpc.client import backend_from_config
    from saferoad.config import load_config

    server, servicer = serve([load_model("yolox-nano", transport_dtype="auto")])
    cfg = load_config(None, {"inference": {
        "url": f"grpc://127.0.0.1:{server.port}/yolox-nano", "stream": True,
    }})
    backend = backend_from_config(cfg)
    assert backend.client.options.stream
    try:
        assert_detects_like_local(shared_dir, backend)
    finally:
        backend.close()
    # 3 frames x 2 inferences: the full frame and the horizon band (yolox-nano's card asks for
    # it; without a configured camera the band comes from the default one)
    assert servicer.stats.requests == 6


def test_error_response_keeps_the_stream_open(serve: Any) -> None:
    server, servicer = serve([load_model("yolox-nano", transport_dtype="auto")])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/yolox-nano", STREAM) as c:
        good = np.zeros((1, 3, 416, 416), np.uint8)
        c.infer({"images": good})
        stream = c._local.owner.stream
        with pytest.raises(RemoteInferenceError, match="datatype FP64 given, the model takes UINT8") as info:
            c.infer({"images": good.astype(np.float64)})
        assert info.value.code is None  # Triton's stream responses carry a message, no status
        with pytest.raises(RemoteInferenceError, match="shape"):
            c.infer({"images": np.zeros((1, 3, 8, 8), np.uint8)})
        out = c.infer({"images": good})["output"]
        assert out.shape == (1, 3549, 85)
        assert c._local.owner.stream is stream and not stream.broken  # the same stream, still open
        assert c.retries == 0
    assert servicer.stats.errors == 2 and servicer.stats.requests == 4


def test_unknown_model_on_the_stream(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/nope", STREAM) as c:
        with pytest.raises(RemoteInferenceError, match="unknown model 'nope'"):
            c.infer({"x": np.ones(1, np.float32)})
    assert _healthy(server.port)


def test_two_threads_stream_at_once(serve: Any, test_models: Any) -> None:
    served = _doubler(test_models, delay_s=0.01, max_batch_size=16)
    server, servicer = serve([served], max_batch_size=8, max_batch_delay_s=0.005)
    client = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler", STREAM)
    errors: list[BaseException] = []
    seen: set[int] = set()

    def worker(k: int) -> None:
        try:
            for j in range(15):
                x = np.full((1 + j % 3, 4), 100 * k + j, np.float32)
                y = client.infer({"x": x})["y"]
                assert np.array_equal(y, x * 2 + 1), (k, j)
            seen.add(id(client._local.owner.stream))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert servicer.stats.requests == 30 and servicer.stats.errors == 0
    assert len(seen) == 2
    # one stream per calling thread, closed when its thread has ended (each open stream
    # holds a server worker thread)
    gc.collect()
    assert len(client._streams) == 0
    for _ in range(100):
        if not servicer._streams:
            break
        time.sleep(0.05)
    assert not servicer._streams
    assert client.infer({"x": np.ones((1, 4), np.float32)})["y"].tolist() == [[3.0] * 4]
    assert len(client._streams) == 1  # this thread's
    client.close()
    assert len(client._streams) == 0


def test_stream_limit_keeps_threads_for_other_calls() -> None:
    assert [stream_limit(w) for w in (1, 2, 3, 4, 8, 16, 32)] == [0, 0, 1, 2, 6, 12, 24]


def test_streams_past_the_limit_are_refused_and_the_client_falls_back_to_unary(
    serve: Any, test_models: Any
) -> None:
    """Each open stream holds one of the server's worker threads: with 4 workers the server
    keeps 2 streams open and refuses a third with RESOURCE_EXHAUSTED, so its caller sends
    unary ModelInfer calls instead and health checks still get a thread."""
    served = _doubler(test_models)
    server, servicer = serve([served], max_workers=4)
    assert servicer.max_streams == 2
    client = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler", STREAM)
    opened = threading.Barrier(4)  # three callers and this test
    done = threading.Event()
    errors: list[BaseException] = []
    streamed: list[bool] = []

    def caller(k: int, after: threading.Event | None, ready: threading.Event) -> None:
        try:
            if after is not None:
                assert after.wait(10)
            x = np.full((1, 4), k, np.float32)
            assert np.array_equal(client.infer({"x": x})["y"], x * 2 + 1)
            ready.set()
            opened.wait(10)
            assert np.array_equal(client.infer({"x": x + 1})["y"], (x + 1) * 2 + 1)  # again, same way
            streamed.append(time.monotonic() >= getattr(client._local, "unary_until", 0.0))
            assert done.wait(10)  # keep the thread (and its stream) until the checks are made
        except BaseException as err:
            errors.append(err)
            opened.abort()

    first, second, third = threading.Event(), threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=caller, args=(1, None, first)),
        threading.Thread(target=caller, args=(2, first, second)),
        threading.Thread(target=caller, args=(3, second, third)),
    ]
    for t in threads:
        t.start()
    try:
        opened.wait(10)
        for _ in range(100):
            if len(streamed) == 3:
                break
            time.sleep(0.02)
        assert sorted(streamed) == [False, True, True], (streamed, errors)
        assert len(servicer._streams) == 2
        assert _healthy(server.port)
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            call = ch.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")(
                iter([serialize_request("doubler", "", {"x": np.ones((1, 4), np.float32)})])
            )
            with pytest.raises(grpc.RpcError) as info:
                list(call)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too many open inference streams" in (info.value.details() or "")
        assert "inference.server_workers" in (info.value.details() or "")
    finally:
        done.set()
        for t in threads:
            t.join(10)
        client.close()
    assert not errors, errors
    assert servicer.stats.errors == 0  # a refused stream never reached a model


def test_a_refused_thread_tries_a_stream_again_later(
    serve: Any, test_models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After STREAM_RETRY_AFTER_S of unary calls the thread opens a stream again, and gets one
    when the server has a free place by then."""
    from saferoad.adapters.grpc import client as client_module

    monkeypatch.setattr(client_module, "STREAM_RETRY_AFTER_S", 0.3)
    served = _doubler(test_models)
    server, servicer = serve([served], max_workers=3)  # one stream at a time
    assert servicer.max_streams == 1
    x = np.ones((1, 4), np.float32)
    holder = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler", STREAM)
    client = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler", STREAM)
    try:
        assert holder.infer({"x": x})["y"].tolist() == [[3.0] * 4]  # takes the one place
        assert client.infer({"x": x})["y"].tolist() == [[3.0] * 4]  # refused: unary
        assert len(client._streams) == 0
        holder.close()  # frees the place
        for _ in range(100):
            if not servicer._streams:
                break
            time.sleep(0.02)
        time.sleep(0.35)
        assert client.infer({"x": x})["y"].tolist() == [[3.0] * 4]
        assert len(client._streams) == 1 and len(servicer._streams) == 1  # streaming again
    finally:
        holder.close()
        client.close()
    assert servicer.stats.errors == 0


@pytest.mark.parametrize("shm", [False, True], ids=["socket", "shm"])
def test_server_restart_mid_run_stream_reopens_and_finishes(serve: Any, shm: bool) -> None:
    yolox = load_model("yolox-nano")
    server, _ = serve([yolox])
    port = server.port
    opts = ClientOptions(stream=True, shared_memory=shm, timeout_s=5, max_attempts=10)
    client = KServeClient(f"grpc://127.0.0.1:{port}/yolox-nano", opts)
    frames = [np.random.default_rng(i).integers(0, 256, (1, 3, 416, 416)).astype(np.float32) for i in range(8)]
    expected = [yolox.predict({"images": f})["output"] for f in frames]
    state: dict[str, Any] = {}

    def restart() -> None:
        server.stop(0)
        time.sleep(0.5)  # the port is closed: the stream breaks, reopening fails UNAVAILABLE
        state["new"] = serve([load_model("yolox-nano")], port=port)

    results = []
    for i, f in enumerate(frames):
        if i == 3:
            t = threading.Thread(target=restart)
            t.start()
            time.sleep(0.1)
        results.append(client.infer({"images": f})["output"])
    t.join(30)
    client.close()
    assert client.retries > 0
    for got, want in zip(results, expected, strict=True):
        assert np.array_equal(got, want)
    if shm:  # the new server was given the client's regions again, and they were released
        assert state["new"][1].shm is not None and len(state["new"][1].shm) == 0


def test_client_disconnect_mid_stream_leaves_server_healthy(serve: Any, test_models: Any) -> None:
    server, servicer = serve([python_model("grpc_test_models:Slow")])
    url = f"grpc://127.0.0.1:{server.port}/slow"
    client = KServeClient(url, ClientOptions(stream=True, timeout_s=10, max_attempts=1))
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["y"] = client.infer({"x": np.array([1.0], np.float32)})
        except BaseException as err:
            result["err"] = err

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.2)  # the request is inside predict (0.6 s)
    client.close()  # cancels the stream mid-request
    t.join(10)
    assert isinstance(result.get("err"), RemoteInferenceError)
    time.sleep(0.7)  # the model finishes the abandoned request
    assert _healthy(server.port)
    with KServeClient(url, ClientOptions(stream=True, timeout_s=10)) as again:
        assert again.infer({"x": np.array([2.0], np.float32)})["y"].tolist() == [3.0]
    assert servicer.stats.errors == 0


def test_stream_deadline_cancels_and_retries_then_raises(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Slow")])
    opts = ClientOptions(stream=True, timeout_s=0.2, max_attempts=2, initial_backoff_s=0.01)
    with KServeClient(f"grpc://127.0.0.1:{server.port}/slow", opts) as c:
        with pytest.raises(RemoteInferenceError, match=r"DEADLINE_EXCEEDED.*after 2 attempts") as info:
            c.infer({"x": np.array([1.0], np.float32)})
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert c.retries == 1
    time.sleep(1.3)  # the two abandoned requests finish on the server
    assert _healthy(server.port)


def test_graceful_shutdown_finishes_the_stream_request_in_flight(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Slow")])
    url = f"grpc://127.0.0.1:{server.port}/slow"
    busy = KServeClient(url, ClientOptions(stream=True, timeout_s=10, max_attempts=1))
    idle = KServeClient(url, ClientOptions(stream=True, timeout_s=10, max_attempts=1))
    idle.infer({"x": np.array([0.0], np.float32)})  # an open stream with nothing in flight
    t, result = infer_in_thread(busy, {"x": np.array([1.0], np.float32)}, "y")
    time.sleep(0.2)  # the request is inside predict (0.6 s)
    stopper = threading.Thread(target=server.stop, args=(60.0,))
    stopper.start()
    t.join(10)
    # the drain does not wait out the grace period for the idle stream: it is cancelled
    stopper.join(20)
    assert not stopper.is_alive()
    assert "err" not in result, result.get("err")
    assert result["y"].tolist() == [2.0]
    with pytest.raises(RemoteInferenceError, match="UNAVAILABLE"):
        idle.infer({"x": np.array([2.0], np.float32)})  # server gone; no retries allowed
    busy.close()
    idle.close()


def test_bearer_token_on_the_stream(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")], token="s3cret")
    url = f"grpc://127.0.0.1:{server.port}/echo"
    x = {"x": np.ones(1, np.float32)}
    with KServeClient(url, ClientOptions(stream=True, token="wrong")) as c:
        with pytest.raises(RemoteInferenceError, match="UNAUTHENTICATED"):
            c.infer(x)
        assert c.retries == 0
    with KServeClient(url, ClientOptions(stream=True, token="s3cret")) as c:
        assert c.infer(x)["out_x"].tolist() == [1.0]
        assert c.infer(x)["out_x"].tolist() == [1.0]


def test_stream_wire_form_matches_the_generated_classes(serve: Any, test_models: Any) -> None:
    """Requests through the generated stub's ModelStreamInfer: responses parse with the
    generated ModelStreamInferResponse, in order, errors as error_message."""
    from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    server, _ = serve([python_model("grpc_test_models:Echo")])
    reqs = [
        pb.ModelInferRequest.FromString(serialize_request("echo", "", {"x": np.array([k], np.int32)}, request_id=str(k)))
        for k in range(3)
    ]
    reqs.insert(1, pb.ModelInferRequest(model_name="nope"))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)  # type: ignore[no-untyped-call]
        responses = list(stub.ModelStreamInfer(iter(reqs), timeout=10))
    assert len(responses) == 4
    assert "unknown model 'nope'" in responses[1].error_message
    assert not responses[1].HasField("infer_response")
    for r, k in zip([responses[0], *responses[2:]], range(3), strict=True):
        assert r.error_message == ""
        assert r.infer_response.id == str(k)
        assert np.frombuffer(r.infer_response.raw_output_contents[0], np.int32).tolist() == [k]
