"""A user's own Ultralytics export runs without a card: its metadata (task, names, imgsz,
stride) and its graph say how to feed it and read it, and an export whose layout the decoder
cannot read is refused with a message naming what does not fit. The models are real ONNX
graphs built here with the onnx helper API, carrying the metadata keys Ultralytics writes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCardError, load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.domain.types import Frame, RoadClass
from saferoad.entrypoints.cli.app import app

NAMES = {0: "person", 1: "car", 2: "dog", 3: "stop sign"}
SIZE = (64, 96)  # imgsz [h, w]: anchors 8x12 + 4x6 + 2x3 = 126
ANCHORS = sum((SIZE[0] // s) * (SIZE[1] // s) for s in (8, 16, 32))


def _meta(**over: str) -> dict[str, str]:
    """The metadata ``yolo export format=onnx`` writes (values as Ultralytics formats them)."""
    meta = {
        "description": "Ultralytics YOLO11n model trained on coco.yaml",
        "author": "Ultralytics",
        "date": "2026-11-02T10:00:00",
        "version": "8.3.40",
        "license": "AGPL-3.0 License (https://ultralytics.com/license)",
        "docs": "https://docs.ultralytics.com",
        "stride": "32",
        "task": "detect",
        "batch": "1",
        "imgsz": str(list(SIZE)),
        "names": str(NAMES),
        "args": "{'batch': 1, 'half': False, 'dynamic': False, 'simplify': True, 'opset': None, 'nms': False}",
    }
    meta.update(over)
    return meta


def _export(
    path: Path,
    meta: dict[str, str],
    boxes: list[tuple[float, float, float, float, int, float]] = (),  # type: ignore[assignment]
    *,
    in_shape: list[int | str] | None = None,
    out_shape: list[int | str] | None = None,
) -> Path:
    """A real ONNX graph with the Ultralytics detection layout: images [1, 3, h, w] →
    output0 [1, 4 + classes, anchors]; its output is a fixed table (+ 0 × the input's mean)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    oshape = out_shape or [1, 4 + len(NAMES), ANCHORS]
    const = np.zeros([d if isinstance(d, int) else (ANCHORS if i == 2 else 1) for i, d in enumerate(oshape)], np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        const[0, :4, i] = (cx, cy, w, h)
        const[0, 4 + cls, i] = score
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["table", "z"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "main_graph",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape or [1, 3, *SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, oshape)],
        [numpy_helper.from_array(const, "table"), numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def test_card_read_from_the_export_metadata(tmp_path: Path) -> None:
    model = _export(tmp_path / "my-yolo.onnx", _meta())
    card = load_card(model)
    assert card.path == model and card.name == "my-yolo"
    assert card.model_path() == model.resolve()
    assert card.class_names == ("person", "car", "dog", "stop sign")
    assert card.input_name == "images" and card.input_shape == (1, 3, 64, 96)
    assert card.output_name == "output0" and card.output_shape == (1, 8, ANCHORS)
    assert card.decoder == "ultralytics" and card.strides == (8, 16, 32)
    # Ultralytics' preprocessing: RGB, centred letterbox padded with 114, pixels / 255
    assert (card.colour, card.resize, card.align, card.pad_value) == ("RGB", "letterbox", "centre", 114)
    assert card.scale == pytest.approx(1 / 255)
    assert card.raw_pixels is False


def test_the_export_detects_without_a_card(tmp_path: Path) -> None:
    # frame 64x192 into the 64x96 input: scale 0.5, centred, pad top 16
    boxes = [(32.0, 32.0, 20.0, 10.0, 1, 0.9), (70.0, 30.0, 8.0, 8.0, 2, 0.95), (80.0, 40.0, 6.0, 6.0, 3, 0.6)]
    model = _export(tmp_path / "my-yolo.onnx", _meta(), boxes)
    card = load_card(model)
    det = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0))
    d = det.detect(Frame(0, 0.0, np.zeros((64, 192, 3), np.uint8)))
    got = {(c.value, lab): b.tolist() for c, lab, b in zip(d.classes, d.labels or (), d.xyxy, strict=True)}
    assert set(got) == {("vehicle", "car"), ("stop_sign", "stop sign")}  # the dog is not a road class
    np.testing.assert_allclose(got[("vehicle", "car")], [44.0, 22.0, 84.0, 42.0], atol=1e-3)
    np.testing.assert_allclose(got[("stop_sign", "stop sign")], [154.0, 42.0, 166.0, 54.0], atol=1e-3)
    assert RoadClass.VEHICLE in d.classes


def test_dynamic_axes_take_the_metadata_size(tmp_path: Path) -> None:
    model = _export(
        tmp_path / "dyn.onnx",
        _meta(imgsz="[64, 96]"),
        in_shape=["batch", 3, "height", "width"],
        out_shape=["batch", 8, "anchors"],
    )
    card = load_card(model)
    assert card.input_shape == (1, 3, 64, 96)
    # ONNX Runtime may infer the anchors from the graph; either way the card says 8 channels
    assert card.output_shape in ((1, 8, -1), (1, 8, ANCHORS))
    det = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0))
    assert det.detect(Frame(0, 0.0, np.zeros((64, 96, 3), np.uint8))).xyxy.shape == (0, 4)


@pytest.mark.parametrize(
    ("meta", "shapes", "message"),
    [
        ({"task": "segment"}, {}, "task='segment'"),
        ({"task": "pose"}, {}, "task='pose'"),
        ({"nms": "True"}, {"out_shape": [1, 300, 6]}, "nms=True"),
        ({"end2end": "True"}, {"out_shape": [1, 300, 6]}, "end2end=True"),
        ({"half": "True"}, {}, "half=True"),
        ({}, {"out_shape": [1, 300, 6]}, r"output output0 \[1, 300, 6\] is not the detection layout \[1, 8, 126\]"),
        ({"imgsz": "[640, 640]"}, {}, r"does not match metadata imgsz \[640, 640\]"),
        ({"names": "{0: 'person', 2: 'car'}"}, {}, "metadata names"),
        ({"names": "__import__('os').system('true')"}, {}, "not a Python literal"),
        ({"stride": "20"}, {}, "stride=20"),
        ({}, {"in_shape": [4, 3, 64, 96]}, r"input images \[4, 3, 64, 96\]"),
    ],
)
def test_a_layout_that_does_not_fit_is_refused_by_name(
    tmp_path: Path, meta: dict[str, str], shapes: dict[str, list[int]], message: str
) -> None:
    model = _export(tmp_path / "bad.onnx", _meta(**meta), **shapes)  # type: ignore[arg-type]
    with pytest.raises(ModelCardError, match=message) as err:
        load_card(model)
    assert str(model) in str(err.value)


def test_partial_metadata_is_refused_and_none_needs_a_card(tmp_path: Path) -> None:
    meta = _meta()
    del meta["stride"]
    with pytest.raises(ModelCardError, match="without stride"):
        load_card(_export(tmp_path / "partial.onnx", meta))
    with pytest.raises(ModelCardError, match="a model needs its card"):
        load_card(_export(tmp_path / "plain.onnx", {"author": "someone"}))
    with pytest.raises(ModelCardError, match="model file not found"):
        load_card(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelCardError, match="cannot read it as an ONNX model"):
        load_card(tmp_path / "junk.onnx")


def test_detect_cli_runs_an_export_by_path(tmp_path: Path) -> None:
    model = _export(tmp_path / "my-yolo.onnx", _meta(), [(32.0, 32.0, 20.0, 10.0, 1, 0.9)])
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), np.zeros((64, 192, 3), np.uint8))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["detect", str(img), "-o", str(out), "--model", str(model)])
    assert res.exit_code == 0, res.output
    tracks = pd.read_parquet(out / "tracks.parquet")
    assert len(tracks) == 1 and tracks["cls"].iloc[0] == "vehicle"
    summary = json.loads((out / "detect.json").read_text())
    assert "my-yolo" in json.dumps(summary)

    bad = _export(tmp_path / "seg.onnx", _meta(task="segment"))
    res = CliRunner().invoke(app, ["detect", str(img), "-o", str(tmp_path / "o2"), "--model", str(bad)])
    assert res.exit_code == 2
    assert "task='segment'" in " ".join(res.output.split())
