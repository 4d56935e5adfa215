"""saferoad.v1.AnalysisService on real gRPC: paths, uploads, bad input, disconnects."""

from __future__ import annotations

import io
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2_grpc as pb_grpc
from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.services.analysis_service import event_from_message, serve_analysis
from saferoad.entrypoints.wiring import analyze_recording


@pytest.fixture
def trip(shared_dir: Path) -> Path:
    return shared_dir / "data" / "imu" / "driver-behavior-dataset" / "trip17"


@pytest.fixture
def service() -> Iterator[Any]:
    started: list[Any] = []

    def start(**kw: Any) -> tuple[Any, Any, Any]:
        sets = kw.pop("sets", {})
        cfg = load_config(None, sets)
        server, servicer = serve_analysis(cfg, host="127.0.0.1", port=0, **kw)
        ch = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        started.append((server, ch))
        return server, servicer, pb_grpc.AnalysisServiceStub(ch)

    yield start
    for server, ch in started:
        ch.close()
        server.stop(0)


def _healthy(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="saferoad.v1.AnalysisService"), timeout=5)
    return bool(r.status == health_pb2.HealthCheckResponse.SERVING)


def _collect(stream: Any) -> tuple[Any, list[Any], Any]:
    msgs = list(stream)
    assert msgs[0].WhichOneof("kind") == "started"
    assert msgs[-1].WhichOneof("kind") == "summary"
    events = [m.event for m in msgs[1:-1]]
    assert all(m.WhichOneof("kind") == "event" for m in msgs[1:-1])
    return msgs[0].started, events, msgs[-1].summary


def _local_events(trip: Path) -> list[dict[str, Any]]:
    res = analyze_recording(open_recording(trip), load_config())
    return [e.to_dict() for e in res.events]


def test_analyze_path_streams_the_same_events_as_analyze(service: Any, trip: Path) -> None:
    _, _, stub = service()
    started, events, summary = _collect(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(trip)), timeout=300))
    assert started.source_format == "driver-behavior-dataset"
    assert started.duration_s > 60
    got = [event_from_message(e).to_dict() for e in events]
    assert got == _local_events(trip)
    assert summary.n_events == len(events)
    assert summary.summary["n_events"] == len(events)
    assert summary.summary["source_format"] == "driver-behavior-dataset"


def _tar_bytes(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(folder, arcname=folder.name)
    return buf.getvalue()


def _zip_bytes(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)  # files at the archive's root this time
    return buf.getvalue()


def _upload(fmt: str, data: bytes, chunk: int = 64 * 1024, name: str = "trip17") -> Iterator[Any]:
    yield pb.UploadRequest(header=pb.UploadHeader(archive_format=fmt, name=name))
    for i in range(0, len(data), chunk):
        yield pb.UploadRequest(chunk=data[i : i + chunk])


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_analyze_upload(service: Any, trip: Path, fmt: str) -> None:
    _, _, stub = service()
    data = _tar_bytes(trip) if fmt == "tar" else _zip_bytes(trip)
    started, events, summary = _collect(stub.AnalyzeUpload(_upload(fmt, data), timeout=300))
    assert started.recording == "trip17" and started.source_format == "driver-behavior-dataset"
    assert [event_from_message(e).to_dict() for e in events] == _local_events(trip)
    assert summary.n_events == len(events)


def _zip_with(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, "x")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("case", "code", "text"),
    [
        ("missing_path", grpc.StatusCode.NOT_FOUND, "no such recording on the server"),
        ("empty_path", grpc.StatusCode.INVALID_ARGUMENT, "path is empty"),
        ("not_a_recording", grpc.StatusCode.INVALID_ARGUMENT, "not a recording folder"),
        ("bad_option", grpc.StatusCode.INVALID_ARGUMENT, "motion.no_such_key: unknown key"),
        ("bad_detector", grpc.StatusCode.INVALID_ARGUMENT, "perception.detector"),
        ("no_header", grpc.StatusCode.INVALID_ARGUMENT, "first message must be the header"),
        ("bad_format", grpc.StatusCode.INVALID_ARGUMENT, "expected 'tar' or 'zip'"),
        ("garbage", grpc.StatusCode.INVALID_ARGUMENT, "not a readable tar archive"),
        ("traversal", grpc.StatusCode.INVALID_ARGUMENT, "points outside the recording"),
        ("too_big", grpc.StatusCode.RESOURCE_EXHAUSTED, "upload larger than"),
    ],
)
def test_bad_requests(service: Any, tmp_path: Path, trip: Path, case: str, code: grpc.StatusCode, text: str) -> None:
    server, _, stub = service(sets={"inference": {"max_upload_mb": 1}})
    if case in ("missing_path", "empty_path", "not_a_recording", "bad_option", "bad_detector"):
        path = {"missing_path": str(tmp_path / "nope"), "empty_path": "", "not_a_recording": str(tmp_path)}.get(case, str(trip))
        opts = pb.AnalyzeOptions(
            set=["motion.no_such_key=1"] if case == "bad_option" else [],
            detector="yolo" if case == "bad_detector" else "",
        )
        call = stub.AnalyzePath(pb.AnalyzePathRequest(path=path, options=opts), timeout=60)
    else:
        if case == "no_header":
            reqs: Iterator[Any] = iter([pb.UploadRequest(chunk=b"abc")])
        elif case == "bad_format":
            reqs = _upload("rar", b"abc")
        elif case == "garbage":
            reqs = _upload("tar", b"this is not a tar file" * 10)
        elif case == "traversal":
            reqs = _upload("zip", _zip_with("../../evil.txt"))
        else:
            reqs = _upload("tar", b"\0" * (1024 * 1024 + 10))
        call = stub.AnalyzeUpload(reqs, timeout=60)
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == code
    assert text in info.value.details()
    assert _healthy(server.port)


def test_client_disconnect_mid_upload_leaves_server_healthy(service: Any, trip: Path) -> None:
    import tempfile

    server, _, stub = service()
    before = set(Path(tempfile.gettempdir()).glob("saferoad-upload-*"))
    gate, finish = threading.Event(), threading.Event()

    def slow_upload() -> Iterator[Any]:
        data = _tar_bytes(trip)
        yield pb.UploadRequest(header=pb.UploadHeader(archive_format="tar"))
        yield pb.UploadRequest(chunk=data[:10000])
        gate.set()
        finish.wait(30)  # never finishes in time: the client cancels first
        yield pb.UploadRequest(chunk=data[10000:])

    call = stub.AnalyzeUpload(slow_upload(), timeout=60)

    def consume() -> None:
        with pytest.raises(grpc.RpcError):
            list(call)

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert gate.wait(10)
    time.sleep(0.3)
    call.cancel()
    consumer.join(10)
    finish.set()
    assert call.code() == grpc.StatusCode.CANCELLED
    deadline = time.monotonic() + 10
    while set(Path(tempfile.gettempdir()).glob("saferoad-upload-*")) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(Path(tempfile.gettempdir()).glob("saferoad-upload-*")) - before  # cleaned up
    assert _healthy(server.port)
    started, _, _ = _collect(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(trip)), timeout=300))
    assert started.source_format == "driver-behavior-dataset"


def test_client_disconnect_mid_stream_and_busy_server(trip: Path) -> None:
    release = threading.Event()
    calls: list[int] = []

    def gated_analyze(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        release.wait(30)  # hold the analysis open, then run the real one
        return analyze_recording(*args, **kw)

    cfg = load_config(None, {"inference": {"max_concurrent_analyses": 1}})
    server, servicer = serve_analysis(cfg, host="127.0.0.1", port=0, analyze=gated_analyze)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            stub = pb_grpc.AnalysisServiceStub(ch)
            call = stub.AnalyzePath(pb.AnalyzePathRequest(path=str(trip)), timeout=60)
            first = next(call)
            assert first.WhichOneof("kind") == "started"
            # the only slot is taken: a second analysis is refused, not queued forever
            with pytest.raises(grpc.RpcError) as info:
                list(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(trip)), timeout=60))
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "server busy" in info.value.details()
            call.cancel()  # the client goes away mid-stream
            release.set()
            deadline = time.monotonic() + 30
            while servicer.active and time.monotonic() < deadline:
                time.sleep(0.05)
            assert servicer.active == 0
            assert _healthy(server.port)
            _, events, summary = _collect(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(trip)), timeout=300))
            assert summary.n_events == len(events)
            info_resp = stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=5)
            assert info_resp.detector == cfg.perception.detector.type and info_resp.saferoad_version
    finally:
        release.set()
        server.stop(0)


def test_reflection_describes_the_service(service: Any) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    server, _, _ = service()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        assert {"saferoad.v1.AnalysisService", "grpc.health.v1.Health"} <= set(db.get_services())
        fd = db.FindFileContainingSymbol("saferoad.v1.AnalysisService")
        methods = {m.name: m for m in fd.service[0].method}
        assert set(methods) == {"AnalyzePath", "AnalyzeUpload", "GetServerInfo"}
        assert methods["AnalyzeUpload"].client_streaming and methods["AnalyzeUpload"].server_streaming
        assert "google/protobuf/struct.proto" in fd.dependency
        assert db.FindFileByName("google/protobuf/struct.proto").package == "google.protobuf"


def test_upload_folder_removed_after_a_client_leaves_mid_analysis(trip: Path) -> None:
    import tempfile

    release = threading.Event()
    seen: list[Path] = []

    def gated_analyze(recording: Any, *args: Any, **kw: Any) -> Any:
        seen.append(recording.path)
        release.wait(30)  # the client leaves while this analysis is running
        return analyze_recording(recording, *args, **kw)

    before = set(Path(tempfile.gettempdir()).glob("saferoad-upload-*"))
    server, servicer = serve_analysis(load_config(), host="127.0.0.1", port=0, analyze=gated_analyze)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            call = pb_grpc.AnalysisServiceStub(ch).AnalyzeUpload(_upload("tar", _tar_bytes(trip)), timeout=60)
            assert next(call).WhichOneof("kind") == "started"
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                time.sleep(0.05)
            call.cancel()
            time.sleep(0.6)  # the handler notices the cancel; the worker still reads the files
            assert seen and seen[0].exists()
            release.set()
            deadline = time.monotonic() + 30
            while servicer.active and time.monotonic() < deadline:
                time.sleep(0.05)
        assert servicer.active == 0
        assert not seen[0].exists()
        assert not set(Path(tempfile.gettempdir()).glob("saferoad-upload-*")) - before
        assert _healthy(server.port)
    finally:
        release.set()
        server.stop(0)
