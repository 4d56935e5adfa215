"""A local ONNX run and a run through ``saferoad serve-model`` give the same tracks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.grpc.detector import remote_detector
from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.adapters.video.frames import open_frames
from saferoad.application.perception import run_perception
from saferoad.config import load_config


def _tracks(clip: Path, detector: Any, cfg: Any) -> list[tuple[Any, ...]]:
    rows = []
    frames = open_frames(clip)
    try:
        for frame, objs in run_perception(frames, detector, None, None, cfg):
            for o in objs:
                rows.append((frame.index, round(frame.t_s, 6), o.track_id, o.cls.value, o.score,
                             o.xyxy, o.distance_m, o.is_lead))
    finally:
        frames.close()
    return rows


@pytest.mark.slow
def test_same_tracks_local_and_through_serve_model(shared_dir: Path, server_process: Any) -> None:
    clip = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    card = load_card("yolox-nano")
    proc = server_process("serve-model", "--model", "yolox-nano", "--port", "0")
    url = f"grpc://127.0.0.1:{proc.port}/yolox-nano"
    cfg = load_config(None, {"perception": {"detector": "grpc"}, "inference": {"url": url}})

    local_det = ModelDetector(card, OnnxBackend(card.model_path()))
    local = _tracks(clip, local_det, cfg)
    remote_det = remote_detector(cfg, card)
    try:
        remote = _tracks(clip, remote_det, cfg)
        retries = remote_det.backend.client.retries
    finally:
        remote_det.close()
    assert len({r[0] for r in local}) == 38  # every frame of the clip has tracked objects
    assert len({r[2] for r in local}) >= 2
    assert remote == local  # bit-exact: the same tensors, the same post-processing
    assert retries == 0
