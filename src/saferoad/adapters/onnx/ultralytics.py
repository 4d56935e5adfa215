"""The card of an Ultralytics export, read from the model itself.

``yolo export format=onnx`` writes its settings into the ONNX model's metadata
(``metadata_props``): ``task``, ``names`` (a Python dict literal ``{0: 'person', ...}``),
``imgsz`` (``[640, 640]``), ``stride`` (the largest, 32 for P3-P5 models), ``batch``, ``half``,
``end2end`` / ``nms``. With these and the graph's own input and output, nothing is guessed:
:func:`card_from_metadata` builds the same card :func:`~saferoad.adapters.onnx.card.
write_ultralytics_card` writes (RGB, centred letterbox padded with 114, pixels / 255, output
``[1, 4 + classes, anchors]``, Ultralytics' predict defaults), and refuses, naming it, any export
whose layout the ``ultralytics`` decoder does not read: another task (segment, pose, obb,
classify), NMS or end-to-end outputs (``[1, 300, 6]``), float16 input, a batch other than 1,
an input or output that disagrees with the metadata.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from saferoad.adapters.onnx.model_card import (
    ULTRALYTICS_MAX_DETECTIONS,
    ULTRALYTICS_NMS_IOU,
    ULTRALYTICS_SCORE,
    ModelCard,
    ModelCardError,
)

REQUIRED_KEYS = ("task", "names", "imgsz", "stride")
"""Metadata every Ultralytics export carries (and saferoad needs)."""


def read_onnx_metadata(path: Path) -> tuple[dict[str, str], list[Any], list[Any]]:
    """The model's custom metadata and its inputs and outputs (ONNX Runtime ``NodeArg``s:
    ``name``, ``shape`` with ``str``/``None`` for dynamic dimensions, ``type``)."""
    import onnxruntime as ort  # deferred: only a bare .onnx without its card needs it here

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # reading only
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own Fail / InvalidProtobuf / NoSuchFile types
        raise ModelCardError(f"{path}: cannot read it as an ONNX model: {err}") from None
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    return meta, list(sess.get_inputs()), list(sess.get_outputs())


def card_from_metadata(path: Path) -> ModelCard | None:
    """The card of the Ultralytics export at ``path``; ``None`` when the model carries none
    of Ultralytics' metadata (another exporter: it needs a card). Raises
    :class:`ModelCardError` naming the key or the tensor when the layout does not fit."""
    meta, inputs, outputs = read_onnx_metadata(path)
    return card_from_parts(path, meta, inputs, outputs)


def _literal(path: Path, meta: Mapping[str, str], key: str) -> Any:
    try:
        return ast.literal_eval(meta[key])  # literals only: never evaluates code
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ModelCardError(
            f"{path}: metadata {key}={meta[key]!r}: not a Python literal as Ultralytics writes it"
        ) from None


def _dims(shape: Any) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def _class_names(path: Path, meta: Mapping[str, str]) -> tuple[str, ...]:
    names = _literal(path, meta, "names")
    if isinstance(names, (list, tuple)):
        names = dict(enumerate(names))
    if (
        not isinstance(names, dict)
        or not names
        or sorted(names) != list(range(len(names)))
        or not all(isinstance(v, str) and v.strip() for v in names.values())
    ):
        raise ModelCardError(
            f"{path}: metadata names: expected {{0: 'name', 1: ...}} with ids 0..n-1, "
            f"got {meta['names'][:80]!r}"
        )
    return tuple(names[i] for i in range(len(names)))


def _imgsz(path: Path, meta: Mapping[str, str]) -> tuple[int, int]:
    v = _literal(path, meta, "imgsz")
    if isinstance(v, int):
        v = [v, v]
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and x > 0 for x in v)):
        raise ModelCardError(f"{path}: metadata imgsz={meta['imgsz']!r}: expected [height, width]")
    return int(v[0]), int(v[1])


def card_from_parts(
    path: Path, meta: Mapping[str, str], inputs: list[Any], outputs: list[Any]
) -> ModelCard | None:
    """:func:`card_from_metadata` on what was read (``inputs``/``outputs``: objects with
    ``name``, ``shape`` and ``type`` as ONNX Runtime's ``NodeArg``)."""
    present = [k for k in REQUIRED_KEYS if k in meta]
    if not present:
        return None
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelCardError(
            f"{path}: Ultralytics metadata without {', '.join(missing)} (has {', '.join(present)}); "
            "write a card for it"
        )
    task = meta["task"]
    if task != "detect":
        raise ModelCardError(
            f"{path}: metadata task={task!r}: saferoad reads detection exports (task 'detect'); "
            "a segment, pose, obb or classify model's output has another layout"
        )
    for flag in ("end2end", "nms"):
        if meta.get(flag, "False").strip().lower() == "true":
            raise ModelCardError(
                f"{path}: metadata {flag}=True: the output holds boxes after NMS ([1, N, 6]); "
                "export with nms=False (saferoad runs its own class-wise NMS)"
            )
    if meta.get("half", "False").strip().lower() == "true":
        raise ModelCardError(f"{path}: metadata half=True: float16 input; export with half=False")
    names = _class_names(path, meta)
    h, w = _imgsz(path, meta)
    try:
        stride = int(meta["stride"])
    except ValueError:
        raise ModelCardError(f"{path}: metadata stride={meta['stride']!r}: not an integer") from None
    if stride not in (32, 64) or h % stride or w % stride:
        raise ModelCardError(
            f"{path}: metadata stride={stride} with imgsz [{h}, {w}]: expected stride 32 or 64 "
            "dividing the input size"
        )
    strides = tuple(s for s in (8, 16, 32, 64) if s <= stride)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelCardError(
            f"{path}: {len(inputs)} inputs and {len(outputs)} outputs "
            f"({', '.join(o.name for o in outputs)}); a detection export has one of each"
        )
    inp, out = inputs[0], outputs[0]
    if inp.type != "tensor(float)":
        raise ModelCardError(f"{path}: input {inp.name} is {inp.type}; expected tensor(float)")
    in_dims = _dims(inp.shape)
    want_in = (1, 3, h, w)
    if len(in_dims) != 4 or any(d is not None and d != e for d, e in zip(in_dims, want_in, strict=True)):
        raise ModelCardError(
            f"{path}: input {inp.name} {list(inp.shape)} does not match metadata imgsz "
            f"[{h}, {w}] (expected [1, 3, {h}, {w}])"
        )
    nc = len(names)
    anchors = sum((h // s) * (w // s) for s in strides)
    out_dims = _dims(out.shape)
    if (
        len(out_dims) != 3
        or out_dims[1] not in (None, 4 + nc)
        or out_dims[2] not in (None, anchors)
        or out_dims[0] not in (None, 1)
    ):
        raise ModelCardError(
            f"{path}: output {out.name} {list(out.shape)} is not the detection layout "
            f"[1, {4 + nc}, {anchors}] (4 box values + {nc} classes in metadata names, "
            f"anchors of strides {list(strides)} at {h}x{w})"
        )
    return ModelCard(
        path=path,
        name=path.stem,
        model_file=str(path.resolve()),
        input_name=inp.name,
        input_shape=want_in,
        layout="NCHW",
        colour="RGB",
        resize="letterbox",
        pad_value=114,
        align="centre",
        scale=1 / 255,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        input_dtype="float32",
        output_name=out.name,
        output_shape=(1, 4 + nc, anchors if out_dims[2] is not None else -1),
        decoder="ultralytics",
        strides=strides,
        class_names=names,
        score_threshold=ULTRALYTICS_SCORE,
        nms_iou=ULTRALYTICS_NMS_IOU,
        max_detections=ULTRALYTICS_MAX_DETECTIONS,
    )
