"""``[perception.detector] type = "grpc" url = ...``: the table form's own server URL is the
one the remote detector uses, over ``inference.url`` (issue 16 item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.detectors import build_detector
from saferoad.adapters.grpc.models import load_model
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.config import load_config

from .conftest import assert_detects_like_local


def test_the_detector_table_url_wins_over_inference_url(serve: Any, shared_dir: Path, tmp_path: Path) -> None:
    server, _ = serve([load_model("yolox-nano")])
    conf = tmp_path / "c.toml"
    conf.write_text(
        "[inference]\n"
        'url = "grpc://127.0.0.1:9/nothing-listens-here"\n'  # port 9 (discard): unused on loopback
        "[perception.detector]\n"
        'type = "grpc"\n'
        f'url = "grpc://127.0.0.1:{server.port}/yolox-nano"\n',
        encoding="utf-8",
    )
    det = build_detector(load_config(conf))
    assert isinstance(det, ModelDetector)
    try:
        assert f"127.0.0.1:{server.port}" in repr(det.backend)
        assert_detects_like_local(shared_dir, det.backend, frames=2)
    finally:
        det.close()


def test_a_client_naming_the_servers_own_detector_keeps_its_table(tmp_path: Path) -> None:
    from saferoad.adapters.detectors.replay import ReplayDetectorConfig
    from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
    from saferoad.entrypoints.services.analysis_service import AnalysisServicer

    labels = str(tmp_path / "detections.json")
    server_cfg = load_config(None, {"perception": {"detector": {"type": "replay", "path": labels}}})
    servicer = AnalysisServicer(server_cfg)
    same = servicer._config_for(pb.AnalyzeOptions(detector="replay", set=["motion.braking_g=0.4"]))
    assert isinstance(same.perception.detector, ReplayDetectorConfig) and same.perception.detector.path == labels
    assert same.motion.braking_g == pytest.approx(0.4)
    assert servicer._config_for(pb.AnalyzeOptions(detector="replay")) is server_cfg
    other = servicer._config_for(pb.AnalyzeOptions(detector="onnx"))
    assert other.perception.detector.type == "onnx"
    # a client names a type only: the table's keys (a file, a server) stay the server's
    with pytest.raises(Exception, match="may not be set by a client"):
        servicer._config_for(pb.AnalyzeOptions(set=["perception.detector.path=/etc/passwd"]))
