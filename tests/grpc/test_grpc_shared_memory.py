"""Triton's system shared-memory extension in ``serve-model`` and the client (real servers on
127.0.0.1, real POSIX shared memory in /dev/shm)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.adapters.grpc.client import ClientOptions, KServeClient, RemoteInferenceError
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.models import ServedModel, TensorMeta, load_model, python_model
from saferoad.adapters.grpc.shm import (
    EXTENSION,
    SHM_DIR,
    OwnedRegion,
    SharedMemoryError,
    TensorRef,
    set_ref_params,
    shm_path,
    tensor_ref,
)

from .conftest import assert_detects_like_local

SHM = ClientOptions(shared_memory=True)


def _own_shm_files() -> set[str]:
    return {f for f in os.listdir(SHM_DIR) if f.startswith(f"saferoad-{os.getpid()}-")}


@pytest.fixture
def regions() -> Iterator[list[OwnedRegion]]:
    made: list[OwnedRegion] = []
    yield made
    for r in made:
        r.close()


@pytest.fixture
def echo_server(serve: Any) -> Iterator[tuple[Any, Any, Any]]:
    server, servicer = serve([python_model("grpc_test_models:Echo")])
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield server, servicer, pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
    channel.close()


def _healthy(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        got = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return bool(got.status == health_pb2.HealthCheckResponse.SERVING)


def _echo_request(
    x: np.ndarray, in_ref: TensorRef | None, out_ref: TensorRef | None, raw: bool = True
) -> Any:
    req = pb.ModelInferRequest(model_name="echo")
    t = req.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
    if in_ref is not None:
        set_ref_params(t.parameters, in_ref)
    elif raw:
        req.raw_input_contents.append(x.tobytes())
    o = req.outputs.add(name="out_x")
    if out_ref is not None:
        set_ref_params(o.parameters, out_ref)
    return req


def _register(stub: Any, region: OwnedRegion, name: str | None = None, offset: int = 0, size: int | None = None) -> None:
    stub.SystemSharedMemoryRegister(
        pb.SystemSharedMemoryRegisterRequest(
            name=name or region.name, key=region.key, offset=offset,
            byte_size=region.byte_size - offset if size is None else size,
        ),
        timeout=5,
    )


# -- bit-exact results through shared memory ------------------------------------------------
@pytest.mark.parametrize("transport", ["auto", "model"])
def test_shm_matches_local_onnx_and_socket_bit_for_bit(serve: Any, transport: str) -> None:
    model = load_model("yolox-nano", transport_dtype=transport)
    local = load_model("yolox-nano", transport_dtype="model")
    server, servicer = serve([model])
    url = f"grpc://127.0.0.1:{server.port}/yolox-nano"
    dtype = np.uint8 if transport == "auto" else np.float32
    frames = [np.random.default_rng(i).integers(0, 256, (1, 3, 416, 416)).astype(dtype) for i in range(3)]
    before = _own_shm_files()
    with KServeClient(url) as sock, KServeClient(url, SHM) as shm:
        for x in frames:
            want = local.predict({"images": x.astype(np.float32)})["output"]
            got = shm.infer({"images": x})["output"]
            assert got.dtype == np.float32 and got.flags.writeable
            assert np.array_equal(got, want)
            assert np.array_equal(got, sock.infer({"images": x})["output"])
        # one input and one output region, created once and reused for every frame
        assert len(shm.shm_status()) == 2 and len(servicer.shm) == 2
        assert len(_own_shm_files() - before) == 2
    # closing the client unregisters and removes its regions
    assert len(servicer.shm) == 0
    assert _own_shm_files() == before
    assert servicer.stats.errors == 0


def test_server_metadata_advertises_the_extension(serve: Any, test_models: Any) -> None:
    server, _ = serve([python_model("grpc_test_models:Echo")])
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo") as c:
        assert EXTENSION in c.server_metadata()["extensions"]


def test_client_shm_with_concurrent_callers_and_a_variable_size_output(serve: Any, test_models: Any) -> None:
    """Doubler's output is [-1, 4] (size unknown before the call): the input goes through
    shared memory, the output over the socket; each concurrent caller gets its own slot."""
    model_obj = test_models.Doubler(delay_s=0.02)
    model = ServedModel(
        "doubler", model_obj.predict, inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),), max_batch_size=16,
    )
    server, servicer = serve([model], max_batch_size=8, max_batch_delay_s=0.02)
    client = KServeClient(f"grpc://127.0.0.1:{server.port}/doubler", SHM)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(4):
                x = np.full((1 + k % 2, 4), k * 100 + j, np.float32)
                assert np.array_equal(client.infer({"x": x})["y"], x * 2 + 1)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert 1 <= len(servicer.shm) <= 6  # at most one input region per concurrent caller
    assert max(model_obj.batch_sizes) > 1  # the batcher still joined callers
    client.close()
    assert len(servicer.shm) == 0


def test_a_batch_mixes_shm_and_socket_callers(serve: Any, test_models: Any, regions: list[OwnedRegion]) -> None:
    model_obj = test_models.Doubler(delay_s=0.05)
    model = ServedModel(
        "doubler", model_obj.predict, inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),), max_batch_size=16,
    )
    server, servicer = serve([model], max_batch_size=8, max_batch_delay_s=0.05)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    stub = pb_grpc.GRPCInferenceServiceStub(channel)  # type: ignore[no-untyped-call]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def caller(k: int) -> None:
        try:
            x = np.full((1, 4), k, np.float32)
            req = pb.ModelInferRequest(model_name="doubler")
            t = req.inputs.add(name="x", datatype="FP32", shape=[1, 4])
            o = req.outputs.add(name="y")
            if k % 2:  # odd callers: input and output in their own shared memory
                region = OwnedRegion(64)
                regions.append(region)
                region.write(0, x.tobytes())
                _register(stub, region)
                set_ref_params(t.parameters, TensorRef(region.name, 16, 0))
                set_ref_params(o.parameters, TensorRef(region.name, 32, 32))
                resp = stub.ModelInfer(req, timeout=10)
                assert not resp.raw_output_contents
                assert resp.outputs[0].parameters["shared_memory_byte_size"].int64_param == 16
                results[k] = np.frombuffer(region.mm[32:48], np.float32).reshape(1, 4)
            else:
                req.raw_input_contents.append(x.tobytes())
                resp = stub.ModelInfer(req, timeout=10)
                results[k] = np.frombuffer(resp.raw_output_contents[0], np.float32).reshape(1, 4)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    channel.close()
    assert not errors, errors
    for k in range(8):
        assert results[k].tolist() == [[2 * k + 1] * 4], k
    assert max(model_obj.batch_sizes) > 1 and servicer.stats.batches < 8


def test_mixed_outputs_keep_raw_indices_aligned(echo_server: Any, regions: list[OwnedRegion]) -> None:
    _, _, stub = echo_server
    region = OwnedRegion(256)
    regions.append(region)
    _register(stub, region)
    a = np.arange(4, dtype=np.float32)
    b = np.arange(3, dtype=np.int32)
    req = pb.ModelInferRequest(model_name="echo")
    req.inputs.add(name="a", datatype="FP32", shape=[4])
    req.inputs.add(name="b", datatype="INT32", shape=[3])
    req.raw_input_contents.extend([a.tobytes(), b.tobytes()])
    set_ref_params(req.outputs.add(name="out_a").parameters, TensorRef(region.name, 64, 64))
    req.outputs.add(name="out_b")
    resp = stub.ModelInfer(req, timeout=5)
    assert [bytes(r) for r in resp.raw_output_contents] == [b"", b.tobytes()]  # tritonclient indexes by output
    assert np.array_equal(np.frombuffer(region.mm[64:80], np.float32), a)
    p = resp.outputs[0].parameters
    assert (p["shared_memory_region"].string_param, p["shared_memory_byte_size"].int64_param,
            p["shared_memory_offset"].int64_param) == (region.name, 16, 64)


# -- error cases: the right status, a message naming the tensor, the server stays healthy ---
def test_register_errors(echo_server: Any, regions: list[OwnedRegion]) -> None:
    server, servicer, stub = echo_server
    region = OwnedRegion(128)
    regions.append(region)
    cases: list[tuple[dict[str, Any], grpc.StatusCode, str]] = [
        (dict(name="r", key="/saferoad-no-such-object", byte_size=8), grpc.StatusCode.NOT_FOUND, "no shared-memory object"),
        (dict(name="r", key="/a/b", byte_size=8), grpc.StatusCode.INVALID_ARGUMENT, "not a POSIX shared-memory name"),
        (dict(name="r", key="", byte_size=8), grpc.StatusCode.INVALID_ARGUMENT, "not a POSIX shared-memory name"),
        (dict(name="r", key=region.key, offset=100, byte_size=29), grpc.StatusCode.INVALID_ARGUMENT, "past the end"),
        (dict(name="r", key=region.key, byte_size=0), grpc.StatusCode.INVALID_ARGUMENT, "byte_size must be > 0"),
        (dict(name="", key=region.key, byte_size=8), grpc.StatusCode.INVALID_ARGUMENT, "name is empty"),
    ]
    for fields, code, text in cases:
        with pytest.raises(grpc.RpcError) as info:
            stub.SystemSharedMemoryRegister(pb.SystemSharedMemoryRegisterRequest(**fields), timeout=5)
        assert info.value.code() == code, fields
        assert text in info.value.details(), (fields, info.value.details())
    _register(stub, region, name="r")
    with pytest.raises(grpc.RpcError) as info:
        _register(stub, region, name="r")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    status = stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(), timeout=5)
    assert {k: (v.key, v.offset, v.byte_size) for k, v in status.regions.items()} == {"r": (region.key, 0, 128)}
    with pytest.raises(grpc.RpcError) as info:
        stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(name="nope"), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(name="nope"), timeout=5)  # idempotent
    stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(), timeout=5)  # all
    assert len(servicer.shm) == 0
    assert _healthy(server.port)


def test_register_refuses_links_and_non_files(echo_server: Any, tmp_path: Path) -> None:
    """A link in /dev/shm must not let a caller map (read, overwrite) a file elsewhere."""
    server, servicer, stub = echo_server
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"keep me" * 16)
    tag = f"saferoad-test-{os.getpid()}"
    link, folder = Path(f"/dev/shm/{tag}-link"), Path(f"/dev/shm/{tag}-dir")
    link.symlink_to(victim)
    folder.mkdir()
    try:
        for key in (f"/{link.name}", f"/{folder.name}"):
            with pytest.raises(grpc.RpcError) as info:
                stub.SystemSharedMemoryRegister(
                    pb.SystemSharedMemoryRegisterRequest(name="r", key=key, byte_size=8), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, key
            assert "is not a shared-memory object" in info.value.details()
    finally:
        link.unlink()
        folder.rmdir()
    assert victim.read_bytes() == b"keep me" * 16
    assert len(servicer.shm) == 0
    assert _healthy(server.port)


def test_infer_errors_name_the_tensor_and_the_server_stays_healthy(
    echo_server: Any, regions: list[OwnedRegion]
) -> None:
    server, servicer, stub = echo_server
    region = OwnedRegion(4096)
    regions.append(region)
    _register(stub, region, offset=1024, size=64)  # the region: bytes 1024..1088 of the object
    x = np.arange(4, dtype=np.float32)  # 16 bytes
    region.write(1024, x.tobytes())
    name = region.name
    bad = [
        ("unknown input region", _echo_request(x, TensorRef("nope", 16), None), grpc.StatusCode.NOT_FOUND,
         "input 'x': unknown shared-memory region 'nope'"),
        ("unknown output region", _echo_request(x, None, TensorRef("nope", 16)), grpc.StatusCode.NOT_FOUND,
         "output 'out_x': unknown shared-memory region 'nope'"),
        ("input past the region", _echo_request(x, TensorRef(name, 16, 56), None), grpc.StatusCode.INVALID_ARGUMENT,
         "input 'x': shared_memory_offset 56 + shared_memory_byte_size 16 is past the end"),
        ("output past the region", _echo_request(x, None, TensorRef(name, 16, 60)), grpc.StatusCode.INVALID_ARGUMENT,
         "output 'out_x': shared_memory_offset 60"),
        ("wrong input byte size", _echo_request(x, TensorRef(name, 12), None), grpc.StatusCode.INVALID_ARGUMENT,
         "input 'x': shared_memory_byte_size is 12, but FP32 [4] needs 16 bytes"),
        ("output region too small", _echo_request(x, None, TensorRef(name, 8)), grpc.StatusCode.INVALID_ARGUMENT,
         "output 'out_x': the result is 16 bytes but shared_memory_byte_size is 8"),
        ("negative offset", _echo_request(x, TensorRef(name, 16, -4), None), grpc.StatusCode.INVALID_ARGUMENT,
         "input 'x': 'shared_memory_offset' is negative"),
    ]
    missing_size = _echo_request(x, None, None, raw=False)
    missing_size.inputs[0].parameters["shared_memory_region"].string_param = name
    bad.append(("no byte size", missing_size, grpc.StatusCode.INVALID_ARGUMENT, "needs both"))
    wrong_kind = _echo_request(x, None, None, raw=False)
    wrong_kind.inputs[0].parameters["shared_memory_region"].int64_param = 3
    wrong_kind.inputs[0].parameters["shared_memory_byte_size"].int64_param = 16
    bad.append(("region not a string", wrong_kind, grpc.StatusCode.INVALID_ARGUMENT, "must be a string_param"))
    extra_raw = _echo_request(x, TensorRef(name, 16), None)
    extra_raw.raw_input_contents.append(x.tobytes())
    bad.append(("raw for a shm input", extra_raw, grpc.StatusCode.INVALID_ARGUMENT,
                "1 raw_input_contents for 0 inputs: give one per input not in shared memory"))
    for what, req, code, text in bad:
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(req, timeout=5)
        assert info.value.code() == code, what
        assert text in info.value.details(), (what, info.value.details())
        assert _healthy(server.port), what
    # a good request through the same region still works, at an offset inside it
    resp = stub.ModelInfer(_echo_request(x, TensorRef(name, 16), TensorRef(name, 16, 32)), timeout=5)
    assert resp.outputs[0].name == "out_x"
    assert np.array_equal(np.frombuffer(region.mm[1056:1072], np.float32), x)
    # an unregistered region is unknown again
    stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(name=name), timeout=5)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(_echo_request(x, TensorRef(name, 16), None), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert servicer.stats.errors == len(bad) + 1
    assert _healthy(server.port)


@pytest.mark.parametrize("side", ["input", "output"])
def test_object_truncated_after_registration_is_refused_not_a_crash(
    echo_server: Any, regions: list[OwnedRegion], side: str
) -> None:
    """An input region the object no longer covers gives a short read; a requested output's
    is refused before the model runs (and the object is not regrown)."""
    server, _, stub = echo_server
    region = OwnedRegion(8192)
    regions.append(region)
    _register(stub, region)
    os.truncate(region.path, 16)
    x = np.arange(4, dtype=np.float32)
    ref = TensorRef(region.name, 16, 4096)
    request = _echo_request(x, ref, None) if side == "input" else _echo_request(x, None, ref)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details() or ""
    assert details.startswith(f"{side} '") and "truncated after registration" in details
    assert os.path.getsize(region.path) == 16
    assert _healthy(server.port)


def test_a_failed_write_is_internal_with_the_reason(
    echo_server: Any, regions: list[OwnedRegion], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operating-system error while copying (here /dev/shm full) is answered INTERNAL with
    its reason; the server stays healthy."""
    import errno

    from saferoad.adapters.grpc import shm as shm_module

    server, _, stub = echo_server
    region = OwnedRegion(4096)
    regions.append(region)
    _register(stub, region)

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(shm_module.os, "pwrite", full)
    x = np.arange(4, dtype=np.float32)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(_echo_request(x, None, TensorRef(region.name, 16, 64)), timeout=5)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "output 'out_x': writing shared-memory object" in (info.value.details() or "")
    assert "No space left on device" in (info.value.details() or "")
    monkeypatch.undo()
    assert _healthy(server.port)


CHURN = """
import os, sys, time
path, size = sys.argv[1], int(sys.argv[2])
parent, end = os.getppid(), time.monotonic() + 60  # never outlive a crashed test
print("churning", flush=True)
while os.getppid() == parent and time.monotonic() < end:
    for _ in range(100):
        os.truncate(path, 16)
        os.truncate(path, size)
"""


def test_shm_input_the_model_refuses_is_not_read(serve: Any, regions: list[OwnedRegion]) -> None:
    """The request's declared inputs are checked against the model before any tensor is
    read: a shape the model refuses is answered as such without copying the region (here
    a truncated one, which a read would have reported instead)."""
    server, _ = serve([python_model("grpc_test_models:Doubler")])
    region = OwnedRegion(4096)
    regions.append(region)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)  # type: ignore[no-untyped-call]
        _register(stub, region)
        os.truncate(region.path, 16)
        req = pb.ModelInferRequest(model_name="doubler")
        t = req.inputs.add(name="x", datatype="FP32", shape=[2, 8])
        set_ref_params(t.parameters, TensorRef(region.name, 64, 1024))
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(req, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'x': shape [2, 8] given, the model takes [-1, 4]" in (info.value.details() or "")
    assert _healthy(server.port)


def test_object_shrinking_while_requests_run_never_crashes_the_server(
    echo_server: Any, regions: list[OwnedRegion]
) -> None:
    """A client that keeps truncating and regrowing its object while requests read and write
    it: every request either works or is refused with INVALID_ARGUMENT, and the server lives
    (it copies with pread/pwrite; a mapping would have died of SIGBUS in the window between
    its size check and its copy)."""
    server, _, stub = echo_server
    n = 1 << 18  # 256 Ki floats, 1 MiB each way
    region = OwnedRegion(2 * n * 4)
    regions.append(region)
    _register(stub, region)
    x = np.arange(n, dtype=np.float32)
    region.write(0, x.data)
    # another process, so that its truncations land while the server's copy holds the GIL
    churn = subprocess.Popen(
        [sys.executable, "-c", CHURN, str(region.path), str(region.byte_size)], stdout=subprocess.PIPE
    )
    assert churn.stdout is not None and churn.stdout.readline() == b"churning\n"
    outcomes: dict[str, int] = {"ok": 0, "refused": 0}
    try:
        for _ in range(150):
            try:
                stub.ModelInfer(_echo_request(x, TensorRef(region.name, n * 4), TensorRef(region.name, n * 4, n * 4)), timeout=10)
                outcomes["ok"] += 1
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
                assert "truncated after registration" in (err.details() or "")
                outcomes["refused"] += 1
    finally:
        churn.kill()
        churn.wait()
    assert outcomes["refused"] > 0, outcomes  # the race was exercised
    assert _healthy(server.port)


def test_regions_unmapped_at_shutdown(serve: Any, regions: list[OwnedRegion]) -> None:
    server, servicer = serve([python_model("grpc_test_models:Echo")])
    region = OwnedRegion(64)
    regions.append(region)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        _register(pb_grpc.GRPCInferenceServiceStub(ch), region)  # type: ignore[no-untyped-call]
    assert len(servicer.shm) == 1
    server.stop(1)
    assert len(servicer.shm) == 0


def test_extension_switched_off_on_the_server(serve: Any, regions: list[OwnedRegion]) -> None:
    """`inference.serve_shared_memory = false`: not advertised, RPCs UNIMPLEMENTED, shm
    parameters refused, and saferoad's client stops with a clear error."""
    server, servicer = serve([python_model("grpc_test_models:Echo")], shared_memory=False)
    region = OwnedRegion(64)
    regions.append(region)
    x = np.arange(4, dtype=np.float32)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)  # type: ignore[no-untyped-call]
        assert list(stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=5).extensions) == []
        with pytest.raises(grpc.RpcError) as info:
            _register(stub, region)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "inference.serve_shared_memory = false" in info.value.details()
        for req, text in (
            (_echo_request(x, TensorRef(region.name, 16), None), "input 'x': this server takes no shared-memory"),
            (_echo_request(x, None, TensorRef(region.name, 16)), "output 'out_x': this server takes no shared-memory"),
        ):
            with pytest.raises(grpc.RpcError) as info:
                stub.ModelInfer(req, timeout=5)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert text in info.value.details()
    assert servicer.shm is None
    with KServeClient(f"grpc://127.0.0.1:{server.port}/echo", SHM) as c, pytest.raises(
        RemoteInferenceError, match="does not offer Triton's system shared-memory extension"
    ):
        c.infer({"x": x})
    assert _healthy(server.port)


def test_serve_model_cli_switch(server_process: Any) -> None:
    proc = server_process(
        "serve-model", "--model", "grpc_test_models:Echo", "--port", "0",
        "--set", "inference.serve_shared_memory=false",
    )
    with KServeClient(f"grpc://127.0.0.1:{proc.port}/echo") as c:
        assert c.server_metadata()["extensions"] == []


def test_client_reregisters_after_a_server_restart(serve: Any) -> None:
    model = load_model("yolox-nano")
    server, _ = serve([model])
    port = server.port
    frames = [np.random.default_rng(i).integers(0, 256, (1, 3, 416, 416)).astype(np.float32) for i in range(2)]
    with KServeClient(f"grpc://127.0.0.1:{port}/yolox-nano", ClientOptions(shared_memory=True, timeout_s=5)) as c:
        first = c.infer({"images": frames[0]})["output"]
        server.stop(0)
        time.sleep(0.3)
        _, servicer2 = serve([load_model("yolox-nano")], port=port)
        second = c.infer({"images": frames[1]})["output"]  # the new server knows no regions yet
        assert len(servicer2.shm) == 2
    local = load_model("yolox-nano")  # the first server closed its model
    assert np.array_equal(first, local.predict({"images": frames[0]})["output"])
    assert np.array_equal(second, local.predict({"images": frames[1]})["output"])


def test_config_switch_reaches_the_client() -> None:
    from saferoad.config import load_config

    cfg = load_config(None, {"inference": {"shared_memory": True}})
    assert ClientOptions.from_config(cfg.inference).shared_memory is True
    assert ClientOptions.from_config(load_config().inference).shared_memory is False


# -- parsers: hypothesis ----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(region=st.text(min_size=1, max_size=40), size=st.integers(0, 2**62), offset=st.integers(0, 2**62))
def test_tensor_ref_round_trips_through_parameters(region: str, size: int, offset: int) -> None:
    t = pb.ModelInferRequest.InferInputTensor(name="x")
    set_ref_params(t.parameters, TensorRef(region, size, offset))
    assert tensor_ref("input 'x'", t.parameters) == TensorRef(region, size, offset)


@settings(max_examples=200, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(["shared_memory_region", "shared_memory_byte_size", "shared_memory_offset", "other"]),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.booleans()),
    )
)
def test_tensor_ref_takes_well_formed_parameters_or_raises_invalid_argument(params: dict[str, Any]) -> None:
    t = pb.ModelInferRequest.InferInputTensor(name="x")
    for k, v in params.items():
        if isinstance(v, bool):
            t.parameters[k].bool_param = v
        elif isinstance(v, int):
            t.parameters[k].int64_param = v
        else:
            t.parameters[k].string_param = v
    try:
        ref = tensor_ref("input 'x'", t.parameters)
    except SharedMemoryError as err:
        assert err.code == grpc.StatusCode.INVALID_ARGUMENT and "input 'x'" in err.message
        return
    if ref is None:
        assert not set(params) & {"shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"}
    else:
        assert ref.region == params["shared_memory_region"]
        assert ref.byte_size == params["shared_memory_byte_size"] >= 0
        assert ref.offset == params.get("shared_memory_offset", 0) >= 0


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=300))
def test_shm_path_stays_in_dev_shm(key: str) -> None:
    try:
        path = shm_path(key)
    except SharedMemoryError as err:
        assert err.code == grpc.StatusCode.INVALID_ARGUMENT
        return
    assert path.parent == SHM_DIR and path.name == key.lstrip("/") and path.name not in ("", ".", "..")


def test_detector_from_config_over_shm_matches_local_on_real_frames(serve: Any, shared_dir: Any) -> None:
    """The `grpc` detector as configuration builds it (`inference.shared_memory = true`):
    the same detections as local ONNX Runtime on frames of the highway clip."""
    from saferoad.adapters.grpc.client import backend_from_config
    from saferoad.config import load_config

    server, servicer = serve([load_model("yolox-nano", transport_dtype="auto")])
    cfg = load_config(None, {"inference": {
        "url": f"grpc://127.0.0.1:{server.port}/yolox-nano", "shared_memory": True,
    }})
    backend = backend_from_config(cfg)
    try:
        assert_detects_like_local(shared_dir, backend)
        assert len(servicer.shm) == 2  # the frames went through shared memory
    finally:
        backend.close()
    assert len(servicer.shm) == 0


def test_bad_output_region_is_refused_before_the_model_runs(serve: Any, test_models: Any) -> None:
    model_obj = test_models.Doubler()
    model = ServedModel(
        "doubler", model_obj.predict, inputs=(TensorMeta("x", "FP32", (-1, 4)),),
        outputs=(TensorMeta("y", "FP32", (-1, 4)),),
    )
    server, _ = serve([model], max_batch_size=1)
    req = pb.ModelInferRequest(model_name="doubler")
    req.inputs.add(name="x", datatype="FP32", shape=[1, 4])
    req.raw_input_contents.append(np.zeros((1, 4), np.float32).tobytes())
    set_ref_params(req.outputs.add(name="y").parameters, TensorRef("nowhere", 16))
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as info:
            stub.ModelInfer(req, timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "output 'y': unknown shared-memory region 'nowhere'" in info.value.details()
    assert model_obj.batch_sizes == []  # the model never ran
