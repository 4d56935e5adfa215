"""Model cards: the small TOML file that says how to feed a model and read its output.

A card lives in ``saferoad/adapters/onnx/cards/`` (or beside a model) and names the model
file relative to a models root (``$SAFEROAD_SHARED/models``, by default ``../shared/models``
beside the repository). Nothing about a model is guessed: :func:`check_card` compares the
card with what the backend reports and raises :class:`ModelCardError` on any mismatch.

Example (``cards/yolox-nano.toml``)::

    [model]
    name = "yolox-nano"
    file = "yolox-nano/yolox_nano.onnx"

    [input]
    name = "images"
    shape = [1, 3, 416, 416]
    layout = "NCHW"
    colour = "BGR"
    resize = "letterbox"
    pad_value = 114
    align = "top-left"     # where the letterboxed image sits: top-left or centre
    scale = 1.0            # pixel * scale, then (x - mean) / std per channel
    mean = [0.0, 0.0, 0.0]
    std = [1.0, 1.0, 1.0]

    [output]
    name = "output"
    shape = [1, 3549, 85]
    decoder = "yolox"
    strides = [8, 16, 32]

    [classes]
    names_file = "coco80.txt"   # or names = ["person", ...]

    [passes]
    horizon_band = true         # far road users need a second pass over the horizon band
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# re-exported: the card model lives in model_card.py (ultralytics.py builds one too)
from saferoad.adapters.onnx.model_card import (
    ULTRALYTICS_MAX_DETECTIONS as ULTRALYTICS_MAX_DETECTIONS,
)
from saferoad.adapters.onnx.model_card import ULTRALYTICS_NMS_IOU as ULTRALYTICS_NMS_IOU
from saferoad.adapters.onnx.model_card import ULTRALYTICS_SCORE as ULTRALYTICS_SCORE
from saferoad.adapters.onnx.model_card import ULTRALYTICS_STRIDES as ULTRALYTICS_STRIDES
from saferoad.adapters.onnx.model_card import Decoder as Decoder
from saferoad.adapters.onnx.model_card import ModelCard as ModelCard
from saferoad.adapters.onnx.model_card import ModelCardError as ModelCardError
from saferoad.adapters.onnx.model_card import default_models_root as default_models_root
from saferoad.adapters.onnx.ultralytics import card_from_metadata
from saferoad.ports.detector import InferenceBackend, TensorSpec

CARDS_DIR = Path(__file__).resolve().parent / "cards"
"""Cards shipped with saferoad (one per supported model)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ModelTable(_Strict):
    name: str
    file: str
    description: str = ""
    licence: str = ""


class _InputTable(_Strict):
    name: str
    shape: tuple[int, int, int, int]
    layout: Literal["NCHW"] = "NCHW"
    colour: Literal["BGR", "RGB"]
    resize: Literal["letterbox", "stretch"] = "letterbox"
    pad_value: int = Field(114, ge=0, le=255)
    align: Literal["top-left", "centre"] = "top-left"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: Literal["float32"] = "float32"


class _OutputTable(_Strict):
    name: str
    shape: tuple[int, ...]
    """``-1`` marks a dimension the model leaves dynamic."""
    decoder: Decoder
    strides: tuple[int, ...] = ()


class _ClassesTable(_Strict):
    names: tuple[str, ...] | None = None
    names_file: str | None = None


class _Thresholds(_Strict):
    score: float = Field(0.3, ge=0.0, le=1.0)
    nms_iou: float = Field(0.45, ge=0.0, le=1.0)
    max_detections: int = Field(100, ge=1)


class _PassesTable(_Strict):
    horizon_band: bool = False
    """The model needs a second pass over the band around the horizon to see far road
    users (its input shrinks the frame too much for them); see docs/perception.md."""


class _CardFile(_Strict):
    model: _ModelTable
    input: _InputTable
    output: _OutputTable
    classes: _ClassesTable
    thresholds: _Thresholds = _Thresholds.model_validate({})
    passes: _PassesTable = _PassesTable.model_validate({})


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a card. ``path`` may be a ``.toml`` card, a folder holding
    ``card.toml``, or the bare name of a shipped card (``"yolox-nano"``)."""
    p = _resolve_card_path(path)
    if p.suffix.lower() == ".onnx":
        beside = [p.with_suffix(".toml"), p.parent / "card.toml"]
        found = next((b for b in beside if b.is_file()), None)
        if found is None:
            if not p.is_file():
                raise ModelCardError(f"{p}: model file not found")
            # an Ultralytics export carries its layout in its metadata (ultralytics.py)
            from_meta = card_from_metadata(p)
            if from_meta is not None:
                return from_meta
            raise ModelCardError(
                f"{p}: a model needs its card (model card TOML: {beside[0].name} or card.toml "
                "beside it, or a shipped card name) unless it is an Ultralytics export carrying "
                "its metadata; saferoad does not guess a model's layout"
            )
        p = found
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(f"{p}: model card not found") from None
    except UnicodeDecodeError:
        raise ModelCardError(f"{p}: not a text (TOML) model card") from None
    except tomllib.TOMLDecodeError as err:
        raise ModelCardError(f"{p}: not valid TOML: {err}") from None
    try:
        card = _CardFile.model_validate(raw)
    except ValidationError as err:
        lines = [f"{p}: invalid model card"]
        for e in err.errors():
            key = ".".join(str(x) for x in e["loc"]) or "(root)"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            lines.append(f"  {key}: {msg}")
        raise ModelCardError("\n".join(lines)) from None
    names = _class_names(p, card.classes)
    if card.output.decoder == "yolox" and not card.output.strides:
        raise ModelCardError(f"{p}: output.strides: required by the yolox decoder")
    if any(s == 0 for s in card.input.std):
        raise ModelCardError(f"{p}: input.std: must not contain 0")
    return ModelCard(
        path=p,
        name=card.model.name,
        model_file=card.model.file,
        input_name=card.input.name,
        input_shape=card.input.shape,
        layout=card.input.layout,
        colour=card.input.colour,
        resize=card.input.resize,
        pad_value=card.input.pad_value,
        align=card.input.align,
        scale=card.input.scale,
        mean=card.input.mean,
        std=card.input.std,
        input_dtype=card.input.dtype,
        output_name=card.output.name,
        output_shape=card.output.shape,
        decoder=card.output.decoder,
        strides=card.output.strides,
        class_names=names,
        score_threshold=card.thresholds.score,
        nms_iou=card.thresholds.nms_iou,
        max_detections=card.thresholds.max_detections,
        horizon_band=card.passes.horizon_band,
    )


def write_ultralytics_card(
    onnx_path: Path, size: int, *, name: str | None = None, names_file: Path = CARDS_DIR / "coco80.txt"
) -> Path:
    """Write the card of an Ultralytics detection export (``yolo export format=onnx``,
    square ``size``) beside the model as ``<model>.toml`` and return its path: RGB input,
    centred letterbox padded with 114, pixels / 255, output ``[1, 4 + classes, anchors]``,
    and Ultralytics' own predict defaults (conf 0.25, NMS IoU 0.7, 300 detections)."""
    n_classes = len(_class_names(onnx_path, _ClassesTable(names_file=str(names_file))))
    anchors = sum((size // s) ** 2 for s in ULTRALYTICS_STRIDES)
    card = onnx_path.with_suffix(".toml")
    card.write_text(
        f"""[model]
name = "{name or onnx_path.stem}"
file = "{onnx_path}"
[input]
name = "images"
shape = [1, 3, {size}, {size}]
colour = "RGB"
resize = "letterbox"
align = "centre"
pad_value = 114
scale = 0.00392156862745098
[output]
name = "output0"
shape = [1, {4 + n_classes}, {anchors}]
decoder = "ultralytics"
[classes]
names_file = "{names_file}"
[thresholds]
score = {ULTRALYTICS_SCORE}
nms_iou = {ULTRALYTICS_NMS_IOU}
max_detections = {ULTRALYTICS_MAX_DETECTIONS}
""",
        encoding="utf-8",
    )
    return card


def _resolve_card_path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        return p / "card.toml"
    if p.suffix != ".toml" and not p.exists() and (CARDS_DIR / f"{p.name}.toml").is_file():
        return CARDS_DIR / f"{p.name}.toml"
    return p


def _class_names(card_path: Path, table: _ClassesTable) -> tuple[str, ...]:
    if (table.names is None) == (table.names_file is None):
        raise ModelCardError(f"{card_path}: classes: give exactly one of names, names_file")
    if table.names is not None:
        names = table.names
    else:
        assert table.names_file is not None
        f = card_path.parent / table.names_file
        try:
            names = tuple(ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip())
        except FileNotFoundError:
            raise ModelCardError(f"{card_path}: classes.names_file: {f} not found") from None
    if not names:
        raise ModelCardError(f"{card_path}: classes: no class names")
    return tuple(names)


def _shape_ok(card_shape: tuple[int, ...], real: tuple[int | None, ...]) -> bool:
    if len(card_shape) != len(real):
        return False
    return all(c == -1 or r is None or c == r for c, r in zip(card_shape, real, strict=True))


def check_card(card: ModelCard, backend: InferenceBackend) -> None:
    """Raise :class:`ModelCardError` unless the model's real input and output match the card
    (names, ranks, static dimensions, dtype, and the class count the decoder implies)."""
    ins = {s.name: s for s in backend.input_specs()}
    outs = {s.name: s for s in backend.output_specs()}
    where = f"{card.path} (model {card.name})"
    if card.input_name not in ins:
        raise ModelCardError(
            f"{where}: input.name {card.input_name!r} not among the model's inputs {sorted(ins)}"
        )
    if len(ins) != 1:
        raise ModelCardError(f"{where}: the model takes {len(ins)} inputs; cards describe one")
    spec_in: TensorSpec = ins[card.input_name]
    if not _shape_ok(card.input_shape, spec_in.shape):
        raise ModelCardError(
            f"{where}: input.shape {list(card.input_shape)} does not match the model's {_fmt(spec_in.shape)}"
        )
    # uint8: a model server casting raw 0-255 pixels to the model's float (transport UINT8)
    if spec_in.dtype != card.input_dtype and not (spec_in.dtype == "uint8" and card.raw_pixels):
        raise ModelCardError(f"{where}: input.dtype {card.input_dtype} but the model takes {spec_in.dtype}")
    if card.output_name not in outs:
        raise ModelCardError(
            f"{where}: output.name {card.output_name!r} not among the model's outputs {sorted(outs)}"
        )
    spec_out = outs[card.output_name]
    if not _shape_ok(card.output_shape, spec_out.shape):
        raise ModelCardError(
            f"{where}: output.shape {list(card.output_shape)} does not match the model's {_fmt(spec_out.shape)}"
        )
    _check_decoder_layout(card, where)


def _check_decoder_layout(card: ModelCard, where: str) -> None:
    nc = len(card.class_names)
    shape = card.output_shape
    h, w = card.input_height, card.input_width
    if card.decoder == "yolox":
        n_anchors = sum((h // s) * (w // s) for s in card.strides)
        if len(shape) != 3 or shape[2] not in (-1, 5 + nc) or shape[1] not in (-1, n_anchors):
            raise ModelCardError(
                f"{where}: yolox decoder expects output [1, {n_anchors}, {5 + nc}] for {nc} classes "
                f"and strides {list(card.strides)}, card says {list(shape)}"
            )
    elif card.decoder == "ultralytics":
        if len(shape) != 3 or shape[1] not in (-1, 4 + nc):
            raise ModelCardError(
                f"{where}: ultralytics decoder expects output [1, {4 + nc}, N] for {nc} classes, "
                f"card says {list(shape)}"
            )
    elif card.decoder == "fastestdet" and (len(shape) != 4 or shape[1] not in (-1, 5 + nc)):
        raise ModelCardError(
            f"{where}: fastestdet decoder expects output [1, {5 + nc}, H, W] for {nc} classes, "
            f"card says {list(shape)}"
        )


def _fmt(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
