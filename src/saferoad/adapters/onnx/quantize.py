"""INT8 models: static quantization (QDQ) with ONNX Runtime's tools, calibrated on real footage.

:func:`quantize_card` turns the FP32 model of a card into ``OUT_DIR/model.onnx`` (weights INT8
per output channel, activations UINT8 with ranges measured on calibration frames, QDQ format,
which ONNX Runtime's CPU provider fuses into QLinearConv and friends) and writes
``OUT_DIR/card.toml``: the same card pointing at the new model, so ``--model OUT_DIR`` runs it.

The calibration frames go through the card's own pre-processing
(:func:`~saferoad.adapters.onnx.detector.preprocess_image`), so the ranges are those the model
sees in use. Models below opset 13 are converted first (per-channel QDQ needs opset 13), then
ONNX Runtime's ``quant_pre_process`` (shape inference and graph optimisation) runs as its
documentation recommends. What it costs and what it gains is measured by
``benchmarks/bench_int8.py`` and reported in docs/perception.md.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from saferoad.adapters.onnx.card import ModelCard, ModelCardError
from saferoad.adapters.onnx.detector import preprocess_image
from saferoad.adapters.video.frames import VideoFrameSource, open_frames

Method = Literal["minmax", "entropy", "percentile"]
MIN_OPSET = 13


@dataclass(frozen=True)
class QuantizeResult:
    card_path: Path
    model_path: Path
    calibration_frames: int
    quantized_nodes: dict[str, int]
    """Operator counts of the INT8 model: QuantizeLinear / DequantizeLinear pairs and the
    operators left in float between them."""
    seconds: float


def _video_stride(source: str | Path, n_frames: int) -> int:
    """A stride that spreads ``n_frames`` over a video whose container declares its length
    (1 otherwise, or for image folders)."""
    src = open_frames(source)
    try:
        declared = src.declared_frames if isinstance(src, VideoFrameSource) else 0
    finally:
        src.close()
    return max(1, declared // n_frames) if declared else 1


def calibration_blobs(
    card: ModelCard, sources: Sequence[str | Path], n_frames: int
) -> list[NDArray[np.float32]]:
    """Up to ``n_frames`` input tensors, spread evenly over ``sources`` (videos, image folders
    or images), pre-processed as the detector does."""
    if n_frames < 1:
        raise ValueError(f"calibration frames must be >= 1, got {n_frames}")
    if not sources:
        raise ValueError("no calibration source given")
    per_source = max(1, -(-n_frames // len(sources)))
    blobs: list[NDArray[np.float32]] = []
    for source in sources:
        stride = _video_stride(source, per_source)
        frames = open_frames(source, stride=stride)
        try:
            for i, frame in enumerate(frames):
                if i >= per_source or len(blobs) >= n_frames:
                    break
                blob, _ = preprocess_image(frame.image, card)
                blobs.append(blob)
        finally:
            frames.close()
    if not blobs:
        raise ValueError(f"{', '.join(map(str, sources))}: no frame read for calibration")
    return blobs


class _Reader:
    """ONNX Runtime's ``CalibrationDataReader`` protocol over prepared tensors."""

    def __init__(self, name: str, blobs: list[NDArray[np.float32]]) -> None:
        self._name = name
        self._blobs = blobs
        self._it: Iterator[NDArray[np.float32]] = iter(blobs)

    def get_next(self) -> dict[str, NDArray[np.float32]] | None:
        blob = next(self._it, None)
        return None if blob is None else {self._name: blob}

    def rewind(self) -> None:
        self._it = iter(self._blobs)


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def card_toml(card: ModelCard, model_file: Path, *, name: str, description: str) -> str:
    """``card`` as card TOML, its model replaced by ``model_file`` (absolute)."""
    names = ", ".join(_toml_str(n) for n in card.class_names)
    lines = [
        "[model]",
        f"name = {_toml_str(name)}",
        f"file = {_toml_str(str(model_file))}",
        f"description = {_toml_str(description)}",
        "",
        "[input]",
        f"name = {_toml_str(card.input_name)}",
        f"shape = {list(card.input_shape)}",
        f"layout = {_toml_str(card.layout)}",
        f"colour = {_toml_str(card.colour)}",
        f"resize = {_toml_str(card.resize)}",
        f"pad_value = {card.pad_value}",
        f"align = {_toml_str(card.align)}",
        f"scale = {card.scale!r}",
        f"mean = {list(card.mean)}",
        f"std = {list(card.std)}",
        "",
        "[output]",
        f"name = {_toml_str(card.output_name)}",
        f"shape = {list(card.output_shape)}",
        f"decoder = {_toml_str(card.decoder)}",
        f"strides = {list(card.strides)}",
        "",
        "[classes]",
        f"names = [{names}]",
        "",
        "[thresholds]",
        f"score = {card.score_threshold!r}",
        f"nms_iou = {card.nms_iou!r}",
        f"max_detections = {card.max_detections}",
    ]
    if getattr(card, "horizon_band", False):
        lines += ["", "[passes]", "horizon_band = true"]
    return "\n".join(lines) + "\n"


def output_tail(model: Any) -> list[str]:
    """Names of the nodes between the last convolutions and the graph's outputs (activations,
    concatenations, reshapes of the detection head). They stay float: the head concatenates
    box values (input pixels, a range of hundreds) with probabilities (0-1) in one tensor, and
    one UINT8 scale for both leaves a probability about two steps, which lost most detections
    in the first try (benchmarks/bench_int8.py)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    tail: list[str] = []
    seen: set[int] = set()
    stack = [o.name for o in model.graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        tail.append(node.name)
        stack.extend(node.input)
    return tail


def _op_counts(path: Path) -> dict[str, int]:
    import onnx  # deferred: onnx is needed by quantization and its benchmark only

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def executed_ops(path: Path, *, threads: int = 1) -> dict[str, int]:
    """Operator counts of the graph ONNX Runtime's CPU provider actually runs for the model at
    ``path``, after all its graph optimisations (QDQ fused into ``QLinear*`` kernels, NCHWc or
    NHWC layouts, fused activations); contrib operators are named ``domain:op``. Whatever is
    neither ``QLinear*`` nor ``Quantize``/``DequantizeLinear`` in an INT8 model runs in float
    (or on UINT8 without re-quantizing: Concat, MaxPool, Reshape, Resize ...)."""
    # deferred: onnx and onnxruntime are needed by quantization and its benchmark only
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="saferoad-opt-") as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        graph = onnx.load(opts.optimized_model_filepath, load_external_data=False).graph
    counts: dict[str, int] = {}
    for node in graph.node:
        key = f"{node.domain.split('.')[-1]}:{node.op_type}" if node.domain else node.op_type
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def layer_errors(
    fp32_path: Path, int8_path: Path, inputs: Sequence[dict[str, NDArray[np.float32]]]
) -> list[tuple[str, str, float]]:
    """(node, operator, SQNR in dB) for every float-model tensor the INT8 model also computes,
    in graph order: how far the INT8 model's value of that tensor is from the float model's on
    ``inputs`` (signal power over error power, errors accumulated from the input on). ONNX
    Runtime's ``qdq_loss_debug``; where it falls steeply is where the accuracy goes."""
    # deferred: onnx and onnxruntime.quantization are needed by the benchmark only
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory(prefix="saferoad-qdq-debug-") as tmp:
        f_aug, q_aug = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        modify_model_output_intermediate_tensors(str(fp32_path), str(f_aug))
        modify_model_output_intermediate_tensors(str(int8_path), str(q_aug))
        f_act = collect_activations(str(f_aug), list(inputs))
        q_act = collect_activations(str(q_aug), list(inputs))
    matching = create_activation_matching(q_act, f_act)
    # a tensor only the INT8 model has (one the opset conversion or pre-processing renamed or
    # added) has no float value to compare with; qdq_loss_debug raises KeyError on it
    errors = compute_activation_error({k: m for k, m in matching.items() if "float" in m})
    nodes = onnx.load(str(fp32_path), load_external_data=False).graph.node
    rows = []
    for node in nodes:
        err = errors.get(node.output[0]) if node.output else None
        if err is not None and "xmodel_err" in err:
            rows.append((node.name, node.op_type, float(err["xmodel_err"])))
    return rows


def quantize_card(
    card: ModelCard,
    out_dir: Path,
    calibration: Sequence[str | Path],
    *,
    n_frames: int = 64,
    method: Method = "minmax",
    per_channel: bool = True,
    weights: Literal["s8", "u8"] = "s8",
    form: Literal["qdq", "qoperator"] = "qdq",
    float_head: bool = True,
    models_root: Path | None = None,
    reduce_range: bool = False,
    op_types: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    extra_options: dict[str, Any] | None = None,
) -> QuantizeResult:
    """Write ``out_dir/model.onnx`` (static INT8, QDQ) and ``out_dir/card.toml`` for
    ``card``'s model, calibrated on ``n_frames`` frames of ``calibration``. ``float_head``:
    keep :func:`output_tail` in float (the default; off only to measure what it costs).
    ``weights`` (S8, the default, or U8), ``form`` (QDQ, the default, or QOperator: the
    ``QLinear*`` operators written out), ``reduce_range`` (7-bit weights, for CPUs without VNNI), ``op_types`` (the operator types
    to quantize; default all ONNX Runtime can), ``exclude`` (more node names kept float) and
    ``extra_options`` (``quantize_static``'s, e.g. ``CalibPercentile``) are passed to ONNX
    Runtime as they are; benchmarks/bench_int8.py ``--variants`` measures them."""
    # deferred: onnx and onnxruntime.quantization are needed by this command only
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    t0 = time.perf_counter()
    if weights == "u8" and form != "qdq":
        # ONNX Runtime 1.32 writes INT8 convolution weights in QOperator form whatever
        # weight_type says (seen in the written model); refuse rather than mislabel the card
        raise ValueError("UINT8 weights need the QDQ form (QOperator writes INT8 weights)")
    src = card.model_path(models_root)
    if not src.is_file():
        raise ModelCardError(f"{card.path}: model file {src} not found")
    blobs = calibration_blobs(card, calibration, n_frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = (out_dir / "model.onnx").resolve()
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    with tempfile.TemporaryDirectory(prefix="saferoad-quant-", dir=out_dir) as tmp:
        model: Any = onnx.load(str(src))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            model = version_converter.convert_version(model, MIN_OPSET)
        staged = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(staged))
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(staged), str(pre), skip_symbolic_shape=True)
        keep_float = output_tail(onnx.load(str(pre))) if float_head else []
        if float_head and any(not name for name in keep_float):
            raise ModelCardError(f"{src}: unnamed nodes in the output head; cannot keep it float")
        quantize_static(
            str(pre),
            str(Path(tmp) / "int8.onnx"),
            _Reader(card.input_name, blobs),
            quant_format=QuantFormat.QDQ if form == "qdq" else QuantFormat.QOperator,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,  # U8S8: S8 activations ran 2.3x slower here
            weight_type=QuantType.QInt8 if weights == "s8" else QuantType.QUInt8,
            calibrate_method=methods[method],
            nodes_to_exclude=keep_float + list(exclude),
            reduce_range=reduce_range,
            extra_options=dict(extra_options or {}),
            **({"op_types_to_quantize": list(op_types)} if op_types else {}),
        )
        q: Any = onnx.load(str(Path(tmp) / "int8.onnx"))
        sources = ", ".join(str(s) for s in calibration)
        onnx.helper.set_model_props(
            q,
            {
                "saferoad.quantized_from": str(src),
                "saferoad.calibration": f"{len(blobs)} frames of {sources}",
                "saferoad.quantization": f"static {form.upper()} U8{weights.upper()}, {method}, "
                + ("per-channel" if per_channel else "per-tensor")
                + (f", {len(keep_float)} output-head nodes float" if keep_float else "")
                + (f", excluded {', '.join(exclude)}" if exclude else "")
                + (", reduce_range" if reduce_range else ""),
            },
        )
        onnx.save(q, str(out))
    floated = [*keep_float, *exclude]
    desc = (
        f"{card.name} INT8 (static {form.upper()}, U8 activations / {weights.upper()} weights "
        f"{'per channel' if per_channel else 'per tensor'}, {method} calibration on "
        f"{len(blobs)} frames of {sources}"
        + (f"{', reduce_range' if reduce_range else ''}{', only ' + '/'.join(op_types) if op_types else ''})")
        + (
            f". Kept float: {len(keep_float)} output-head nodes after the last convolutions (box pixels "
            "and probabilities share one tensor: one UINT8 scale leaves a probability about two steps)"
            if keep_float
            else ""
        )
        + (f"; {len(exclude)} more excluded by name ({', '.join(exclude)})" if exclude else "")
        + (". Nothing kept float." if not floated else ".")
        + " Accuracy and speed against FP32: benchmarks/bench_int8.py, docs/perception.md"
    )
    card_path = out_dir / "card.toml"
    card_path.write_text(card_toml(card, out, name=f"{card.name}-int8", description=desc), encoding="utf-8")
    return QuantizeResult(card_path, out, len(blobs), _op_counts(out), time.perf_counter() - t0)
