"""``saferoad model quantize``: a static INT8 (QDQ) copy of a shipped model, calibrated on real
footage, with a card that ``--model OUT_DIR`` runs. Speed and accuracy are measured by
benchmarks/bench_int8.py, not asserted here."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.adapters.onnx.quantize import (
    calibration_blobs,
    executed_ops,
    layer_errors,
    output_tail,
    quantize_card,
)
from saferoad.adapters.video.frames import open_frames
from saferoad.domain.types import Frame
from saferoad.entrypoints.cli.app import app


def test_quantize_cli_writes_an_int8_model_that_detect_runs(tmp_path: Path, shared_dir: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    out = tmp_path / "int8"
    res = CliRunner().invoke(
        app, ["model", "quantize", "yolox-nano", "-o", str(out), "--calibration", str(video), "--frames", "6"]
    )
    assert res.exit_code == 0, res.output
    card = load_card(out)
    fp32 = load_card("yolox-nano")
    assert card.name == "yolox-nano-int8" and card.model_path() == (out / "model.onnx").resolve()
    # everything but the model file is the FP32 card's
    same = ("input_shape", "colour", "resize", "align", "pad_value", "scale", "output_shape", "decoder",
            "strides", "class_names", "score_threshold", "nms_iou", "max_detections")  # fmt: skip
    assert all(getattr(card, k) == getattr(fp32, k) for k in same)
    desc = tomllib.loads((out / "card.toml").read_text())["model"]["description"]
    assert "6 frames of" in desc
    # the card says what stayed float and why
    q8 = onnx.load(str(out / "model.onnx"))
    nodes = {n.name: n.op_type for n in q8.graph.node}
    head = [n for n in output_tail(q8) if nodes[n] not in ("QuantizeLinear", "DequantizeLinear")]
    assert f"Kept float: {len(head)} output-head nodes" in desc and len(head) >= 6

    model = onnx.load(str(out / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 100 and ops.count("DequantizeLinear") > 100
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= ops.count("Conv")  # every convolution's weights are INT8
    props = {p.key: p.value for p in model.metadata_props}
    assert "6 frames of" in props["saferoad.calibration"]
    # the output head stays float: no Q/DQ pair between the head's Sigmoids and the output
    # (the last convolutions' outputs are quantized and dequantized; nothing after them is)
    by_name = {n.name: n for n in model.graph.node}
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    head = [by_name[name] for name in output_tail(model)]
    assert "Sigmoid" in {n.op_type for n in head}
    assert all(producer[n.input[0]] == "Conv" for n in head if n.op_type == "QuantizeLinear")

    # it runs, and finds most of what FP32 finds on a real frame
    frames = open_frames(video, stride=10)
    img = next(iter(frames)).image
    frames.close()
    d8 = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0)).detect(Frame(0, 0.0, img))
    d32 = ModelDetector(fp32, OnnxBackend(fp32.model_path(), warmup=0)).detect(Frame(0, 0.0, img))
    assert len(d32.xyxy) >= 2 and len(d8.xyxy) >= 1
    from saferoad.domain.tracking import iou_matrix

    assert iou_matrix(d32.xyxy, d8.xyxy).max(axis=1).max() >= 0.7

    det_out = tmp_path / "det"
    res = CliRunner().invoke(app, ["detect", str(video), "-o", str(det_out), "--model", str(out), "--stride", "10"])
    assert res.exit_code == 0, res.output
    assert (det_out / "tracks.parquet").is_file()


def test_calibration_spreads_frames_and_refuses_nothing(shared_dir: Path) -> None:
    card = load_card("yolox-nano")
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"  # 38 frames
    blobs = calibration_blobs(card, [video], 5)
    assert len(blobs) == 5 and all(b.shape == (1, 3, 416, 416) and b.dtype == np.float32 for b in blobs)
    assert not np.array_equal(blobs[0], blobs[1])  # spread over the clip, not one frame twice
    with pytest.raises(ValueError, match="no calibration source"):
        calibration_blobs(card, [], 5)
    with pytest.raises(ValueError, match="frames must be >= 1"):
        calibration_blobs(card, [video], 0)


def test_output_tail_stops_at_the_last_convolutions() -> None:
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1"),
        helper.make_node("Sigmoid", ["c1"], ["s1"], name="sig1"),
        helper.make_node("Conv", ["s1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Sigmoid", ["c2"], ["s2"], name="sig2"),
        helper.make_node("Concat", ["c2", "s2"], ["y"], axis=1, name="cat"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )  # fmt: skip
    assert sorted(output_tail(helper.make_model(graph))) == ["cat", "sig2"]


def test_bad_method_is_a_user_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["model", "quantize", "yolox-nano", "-o", str(tmp_path), "--method", "bogus"])
    assert res.exit_code == 2 and "--method" in res.output


def test_executed_ops_and_layer_errors_show_what_runs_and_where_it_drifts(tmp_path: Path, shared_dir: Path) -> None:
    """The diagnostics behind benchmarks/bench_int8.py on a real INT8 model: ONNX Runtime runs
    every convolution as QLinearConv (none left float), and the per-tensor SQNR against FP32 is
    finite for every convolution and lower at the head than at the first one (errors accumulate)."""
    video = shared_dir / "data" / "video" / "parking_lot_cars.mp4"
    fp32 = load_card("yolox-nano")
    res = quantize_card(fp32, tmp_path / "int8", [video], n_frames=4, exclude=["Conv_41"])
    ran = executed_ops(res.model_path)
    # the excluded first convolution runs in float; every other one is fused to QLinearConv
    assert ran.get("microsoft:QLinearConv") == 112 and ran.get("nchwc:Conv", 0) + ran.get("Conv", 0) == 1
    assert "microsoft:QuickGelu" in executed_ops(fp32.model_path())  # FP32's SiLU, fused
    inputs = [{fp32.input_name: calibration_blobs(fp32, [video], 1)[0]}]
    rows = layer_errors(fp32.model_path(), res.model_path, inputs)
    by_name = {name: db for name, _, db in rows}
    convs = [db for _, op, db in rows if op == "Conv"]
    assert len(convs) >= 100 and all(np.isfinite(convs))
    assert np.median(convs[-10:]) < by_name["Conv_41"]  # errors accumulate towards the head


def test_fastestdet_a_relu_model_quantizes_and_its_diagnostics_run(tmp_path: Path, shared_dir: Path) -> None:
    """FastestDet (ShuffleNetV2, ReLU, channel shuffles as Reshape/Transpose/Gather, opset 11):
    every convolution runs as QLinearConv with its ReLU fused, the head (sigmoid / softmax)
    stays float, and ``layer_errors`` skips the tensors only the INT8 model has (ONNX Runtime's
    ``qdq_loss_debug`` raised KeyError 'float' on them)."""
    video = shared_dir / "data" / "video" / "parking_lot_cars.mp4"
    fp32 = load_card("fastestdet")
    res = quantize_card(fp32, tmp_path / "int8", [video], n_frames=2)
    card = load_card(tmp_path / "int8")
    assert card.decoder == "fastestdet" and card.output_shape == fp32.output_shape
    ran = executed_ops(res.model_path)
    assert ran.get("microsoft:QLinearConv") == 70 and "Relu" not in ran  # ReLU fused into QLinearConv
    assert {"Sigmoid", "Softmax"} <= set(ran)  # the float head
    inputs = [{fp32.input_name: calibration_blobs(fp32, [video], 1)[0]}]
    rows = layer_errors(fp32.model_path(), res.model_path, inputs)
    relus = [db for _, op, db in rows if op == "Relu"]
    assert len(relus) >= 10 and all(np.isfinite(relus))


def _description(folder: Path) -> str:
    return str(tomllib.loads((folder / "card.toml").read_text())["model"]["description"])


def test_qoperator_form_and_uint8_weights(tmp_path: Path, shared_dir: Path) -> None:
    """``form="qoperator"`` writes the QLinear* operators themselves (no float convolution);
    ``weights="u8"`` stores UINT8 weights (QDQ only: refused with QOperator); cards say which."""
    video = shared_dir / "data" / "video" / "parking_lot_cars.mp4"
    card = load_card("yolox-nano")
    res = quantize_card(card, tmp_path / "qop", [video], n_frames=2, form="qoperator")
    ops = [n.op_type for n in onnx.load(str(res.model_path)).graph.node]
    assert ops.count("QLinearConv") == 113 and "Conv" not in ops
    assert "static QOPERATOR, U8 activations / S8 weights" in _description(tmp_path / "qop")

    res = quantize_card(card, tmp_path / "u8", [video], n_frames=2, weights="u8")
    model = onnx.load(str(res.model_path))
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    dq_of = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    stored = {t.name: t.data_type for t in model.graph.initializer}
    assert {stored[dq_of[w]] for w in conv_weights} == {onnx.TensorProto.UINT8}
    assert "U8 activations / U8 weights" in _description(tmp_path / "u8")
    with pytest.raises(ValueError, match="UINT8 weights need the QDQ form"):
        quantize_card(card, tmp_path / "x", [video], n_frames=1, form="qoperator", weights="u8")
