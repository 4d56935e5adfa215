"""UINT8 transport: a model whose float input is raw 0-255 pixels takes them as UINT8 over
the wire (a quarter of FP32's bytes) and the model sees exactly the same numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest

from saferoad.adapters.grpc.client import KServeClient, RemoteBackend, RemoteInferenceError
from saferoad.adapters.grpc.models import load_model
from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCardError, check_card, load_card
from saferoad.adapters.onnx.detector import ModelDetector, preprocess_image
from saferoad.domain.types import Frame


def _pixels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, 3, 416, 416)).astype(np.uint8)


def _frames(shared_dir: Path, n: int) -> list[Frame]:
    cap = cv2.VideoCapture(str(shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"))
    frames = []
    try:
        for i in range(n):
            ok, img = cap.read()
            assert ok, "the highway clip has fewer frames than expected"
            frames.append(Frame(i, i / 25.0, np.asarray(img, dtype=np.uint8)))
    finally:
        cap.release()
    return frames


def test_metadata_reports_the_transport_datatype() -> None:
    def input_types(spec: str, transport: str) -> list[str]:
        m = load_model(spec, transport_dtype=transport)
        try:
            return [t.datatype for t in m.inputs]
        finally:
            m.close()

    card = load_card("yolox-nano")
    assert card.raw_pixels  # BGR 0-255, scale 1, no mean/std
    assert not load_card("fastestdet").raw_pixels  # scale 1/255: the input is not whole numbers
    assert input_types("yolox-nano", "model") == ["FP32"]
    assert input_types("yolox-nano", "auto") == ["UINT8"]
    assert input_types("yolox-nano", "UINT8") == ["UINT8"]
    assert input_types("fastestdet", "auto") == ["FP32"]  # normalised input: stays float
    onnx = str(card.model_path())
    assert input_types(onnx, "auto") == ["FP32"]  # a bare ONNX file has no card to say so
    assert input_types(onnx, "UINT8") == ["UINT8"]


def test_bad_transport_choices_are_clear_errors(test_models: Any) -> None:
    with pytest.raises(ValueError, match="transport dtype 'FP16': choose one of model, auto, UINT8"):
        load_model("yolox-nano", transport_dtype="FP16")
    with pytest.raises(ValueError, match="UINT8 applies to ONNX models"):
        load_model("grpc_test_models:Echo", transport_dtype="UINT8")


def test_uint8_transport_gives_the_model_the_same_numbers(serve: Any) -> None:
    model = load_model("yolox-nano", transport_dtype="auto")
    local = OnnxBackend(load_card("yolox-nano").model_path(), warmup=0)
    server, _ = serve([model])
    x = _pixels(3)
    try:
        with KServeClient(f"grpc://127.0.0.1:{server.port}/yolox-nano") as c:
            (meta,) = c.model_metadata().inputs
            assert (meta.name, meta.datatype, meta.shape) == ("images", "UINT8", (1, 3, 416, 416))
            remote = c.infer({"images": x})["output"]
            want = local.infer({"images": x.astype(np.float32)})["output"]
            assert remote.dtype == np.float32 and np.array_equal(remote, want)  # bit-exact
            # FP32 to a UINT8 input, and a wrong shape: INVALID_ARGUMENT naming the fix; the
            # server keeps serving
            with pytest.raises(RemoteInferenceError) as err:
                c.infer({"images": x.astype(np.float32)})
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert "datatype FP32 given, the model takes UINT8" in str(err.value)
            assert "--transport-dtype model" in str(err.value)
            with pytest.raises(RemoteInferenceError) as err:
                c.infer({"images": x[..., :400]})
            assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "shape" in str(err.value)
            assert c.server_ready()
            assert np.array_equal(c.infer({"images": x})["output"], want)
    finally:
        local.close()


def test_preprocess_as_uint8_holds_the_float_tensors_values(shared_dir: Path) -> None:
    card = load_card("yolox-nano")
    (frame,) = _frames(shared_dir, 1)
    f32, info = preprocess_image(frame.image, card)
    u8, info8 = preprocess_image(frame.image, card, as_uint8=True)
    assert u8.dtype == np.uint8 and u8.shape == f32.shape and u8.flags.c_contiguous
    assert info8 == info and np.array_equal(u8.astype(np.float32), f32)
    with pytest.raises(ValueError, match="normalised, it cannot be sent as uint8"):
        preprocess_image(frame.image, load_card("fastestdet"), as_uint8=True)


def test_card_check_accepts_uint8_only_for_raw_pixel_cards(serve: Any) -> None:
    fastest = load_model("fastestdet", transport_dtype="UINT8")  # forced on a normalised model
    server, _ = serve([fastest])
    backend = RemoteBackend.from_url(f"grpc://127.0.0.1:{server.port}/fastestdet")
    try:
        with pytest.raises(ModelCardError, match=r"input\.dtype float32 but the model takes uint8"):
            check_card(load_card("fastestdet"), backend)
    finally:
        backend.close()


def test_remote_detector_over_uint8_matches_local_detector(serve: Any, shared_dir: Path) -> None:
    card = load_card("yolox-nano")
    server, _ = serve([load_model("yolox-nano", transport_dtype="auto")])
    local = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0))
    remote = ModelDetector(card, RemoteBackend.from_url(f"grpc://127.0.0.1:{server.port}/yolox-nano"))
    try:
        frames = _frames(shared_dir, 3)
        (blob,) = remote.preprocess(frames[0])[0].values()
        assert blob.dtype == np.uint8  # the server said UINT8, so the client sends uint8
        (blob,) = local.preprocess(frames[0])[0].values()
        assert blob.dtype == np.float32
        for f in frames:
            a, b = local.detect(f), remote.detect(f)
            assert len(a) > 0
            assert np.array_equal(a.xyxy, b.xyxy) and np.array_equal(a.scores, b.scores)
            assert a.classes == b.classes and a.labels == b.labels and a.attributes == b.attributes
    finally:
        local.close()
        remote.close()
