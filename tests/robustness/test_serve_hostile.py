"""A hostile client of ``saferoad serve`` (issue #14, defect 4).

Clients may set only the allow-listed analysis options: a request that names a host
(``inference.url``), a secret (``inference.token_env``), a file (``road_events.speed_zones``,
``perception.replay_path``, a model) or a resource limit is refused, and while such requests are
served no client-chosen host is ever called, no file outside the request is opened (an audit
hook watches every ``open`` of the server process), no secret leaves the process. Without a token
a service refuses to listen beyond loopback.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.server import is_loopback
from saferoad.config import SaferoadConfig, load_config
from saferoad.entrypoints.services.analysis_service import CLIENT_OPTIONS, serve_analysis

SECRET_ENV = "SAFEROAD_TEST_SERVER_SECRET"
SECRET = "s3cr3t-value-that-must-stay-home"

_OPENED: list[str] = []
_WATCH = threading.Event()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH.is_set() and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cannot be removed; records only while _WATCH is set


class Listener(threading.Thread):
    """A 'client-chosen host': counts every connection made to it."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    srv, _ = serve_analysis(load_config(), host="127.0.0.1", port=0)
    ch = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    yield pb_grpc.AnalysisServiceStub(ch)
    ch.close()
    srv.stop(0)


def _tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(folder, arcname=folder.name)
    return buf.getvalue()


def _upload(data: bytes, options: list[str], detector: str = "") -> Iterator[Any]:
    opts = pb.AnalyzeOptions(set=options, detector=detector)
    yield pb.UploadRequest(header=pb.UploadHeader(name="rec", archive_format="tar", options=opts))
    for i in range(0, len(data), 1 << 20):
        yield pb.UploadRequest(chunk=data[i : i + 1 << 20])


def hostile_options(host_port: int, outside: Path) -> list[tuple[list[str], str]]:
    url = f"grpc://127.0.0.1:{host_port}/stolen"
    return [
        ([f"inference.url={url}", f"inference.token_env={SECRET_ENV}"], "grpc"),
        ([f"inference.url={url}"], "grpc"),
        ([f"inference.token_env={SECRET_ENV}"], ""),
        ([f"road_events.speed_zones={outside}"], ""),
        ([f"perception.replay_path={outside}"], "replay"),
        ([f"perception.models_root={outside.parent}"], "onnx"),
        ([f"perception.model={outside}"], "onnx"),
        ([f"cabin.detector={outside}"], ""),
        ([f"inference.tls_root_certs={outside}"], ""),
        ([f"store.url=sqlite:///{outside}"], ""),
        ([f"edge.ingest_url=http://127.0.0.1:{host_port}/"], ""),
        (["motion.resample_hz=1000000000"], ""),
        (["motion.timeline_hz=1000000"], ""),
        (["perception.workers=100000"], ""),
        (["inference.max_upload_mb=100000"], ""),
        (["inference.max_concurrent_analyses=1000"], ""),
        (["road_events.clip_before_s=100000"], ""),
        (["road_events.clock_offsets_s.video=1"], ""),
        (["motion.braking_g=0.3"], "../../etc/passwd"),
    ]


def test_hostile_options_are_refused_and_nothing_leaves(server: Any, braking_rec: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "zones.geojson"
    outside.parent.mkdir()
    outside.write_text('{"type": "FeatureCollection", "features": []}')
    listener = Listener()
    listener.start()
    archive = _tar(braking_rec)
    cases = hostile_options(listener.port, outside)
    refused = 0
    _OPENED.clear()
    _WATCH.set()
    try:
        for options, detector in cases:
            path_request = pb.AnalyzePathRequest(
                path=str(braking_rec), options=pb.AnalyzeOptions(set=options, detector=detector)
            )
            for start in ("path", "upload"):
                with pytest.raises(grpc.RpcError) as info:
                    if start == "path":
                        list(server.AnalyzePath(path_request, timeout=60))
                    else:
                        list(server.AnalyzeUpload(_upload(archive, options, detector), timeout=60))
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (options, info.value.details())
                assert SECRET not in (info.value.details() or "")
                refused += 1
        info_resp = server.GetServerInfo(pb.GetServerInfoRequest(), timeout=10)
    finally:
        _WATCH.clear()
        listener.stop.set()
        listener.join()
    assert SECRET not in str(info_resp)
    assert listener.connections == 0
    assert not [p for p in _OPENED if str(outside.parent) in p]
    allowed = (str(braking_rec), "/tmp/saferoad-upload-", sys.prefix, sys.base_prefix, str(Path(__file__).parents[2]), "/proc/", "/dev/", "/sys/")
    stray = sorted({p for p in _OPENED if not p.startswith(allowed) and os.path.isabs(p)})
    assert stray == [], stray
    print(f"serve: {refused} hostile requests refused, 0 connections to the client's host, {len(_OPENED)} opens all inside the request or the installation")


def test_allowed_options_still_work(server: Any, braking_rec: Path) -> None:
    opts = pb.AnalyzeOptions(set=["motion.braking_g=0.4", "road_events.speed_limit_kmh=50"], detector="replay")
    msgs = list(server.AnalyzePath(pb.AnalyzePathRequest(path=str(braking_rec), options=opts), timeout=120))
    assert msgs[-1].WhichOneof("kind") == "summary"
    assert any(m.WhichOneof("kind") == "event" and m.event.type == "harsh_braking" for m in msgs)


def test_every_allowed_option_is_a_real_threshold_not_a_host_file_or_limit() -> None:
    dump = SaferoadConfig().model_dump(mode="json")  # what a client sends: perception.detector as its name
    words = ("url", "host", "path", "file", "root", "token", "secret", "model", "zones", "workers", "threads", "max_upload", "hz", "concurrent")
    for dotted in CLIENT_OPTIONS:
        section, key = dotted.split(".")
        value = dump[section][key]
        assert isinstance(value, bool | int | float | str) or value is None, dotted
        assert not any(w in key for w in words if not (w == "hz" and key == "lowpass_hz")), dotted


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_no_token_no_listening_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match=rf"refusing to listen on {host} without a token"):
        serve_analysis(load_config(), host=host, port=0)


def test_loopback_and_token_listening_are_allowed() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    srv, _ = serve_analysis(load_config(), host="0.0.0.0", port=0, token="t0ken")
    srv.stop(0)


def test_analyze_path_stays_inside_its_roots(braking_rec: Path, tmp_path: Path) -> None:
    root = tmp_path / "allowed"
    root.mkdir()
    inside = Path(shutil.copytree(braking_rec, root / "rec"))
    (root / "escape").symlink_to(braking_rec)  # a link inside the root to a folder outside it
    cfg = load_config(None, {"inference": {"analyze_path_roots": [str(root)]}})
    srv, _ = serve_analysis(cfg, host="127.0.0.1", port=0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{srv.port}") as ch:
            stub = pb_grpc.AnalysisServiceStub(ch)
            msgs = list(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(inside)), timeout=120))
            assert msgs[-1].WhichOneof("kind") == "summary"
            for path in (braking_rec, root / "escape", root / ".." / braking_rec.name, Path("/etc")):
                with pytest.raises(grpc.RpcError) as info:
                    list(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(path)), timeout=60))
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, path
    finally:
        srv.stop(0)
