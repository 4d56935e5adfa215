"""Models a :mod:`~saferoad.entrypoints.services.model_server` can serve.

``saferoad serve-model --model SPEC`` takes one of:

- an ONNX file (``path/model.onnx``), run with ONNX Runtime on the CPU;
- a model card (``yolox-nano``, ``path/card.toml``, or a folder holding ``card.toml``): the
  card's ONNX model, served under the card's name, so a remote ``ModelDetector`` with the
  same card does the same pre- and post-processing as a local one;
- ``module:attr``: any Python object (or a class, instantiated without arguments) with
  ``predict(inputs: dict[str, numpy.ndarray]) -> dict[str, numpy.ndarray]``. Optional
  attributes describe it to clients (``ModelMetadata``) and let the server check requests:
  ``name``, ``version``, ``platform``, ``inputs``/``outputs`` (lists of
  ``{"name", "datatype", "shape"}``, -1 for a variable dimension), and ``max_batch_size``
  (> 0 when the first dimension of every input and output is a batch dimension the server
  may concatenate across concurrent callers), and ``thread_safe`` (default False: the server
  calls ``predict`` for one request at a time; True lets concurrent requests call it at once,
  as ONNX Runtime sessions allow).

``transport_dtype`` (``serve-model --transport-dtype``) chooses how an ONNX model's float
input travels: ``"model"`` as the model takes it (FP32 for YOLOX-nano); ``"UINT8"`` as 8-bit
integers, cast to the model's float type in the server before ONNX Runtime — for inputs
whose values are whole numbers 0-255 (raw pixels), a quarter of the bytes of FP32 and
exactly the same numbers at the model; ``"auto"`` UINT8 when the model card says the input
is raw 0-255 pixels without normalisation (:attr:`ModelCard.raw_pixels`), else the model's.
ModelMetadata reports the datatype the server accepts, so any KServe client sends the right
one; a request with the other datatype is INVALID_ARGUMENT.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from saferoad.adapters.grpc.tensors import TensorError, datatype_of, dtype_of
from saferoad.adapters.onnx.card import load_card

Arrays = dict[str, NDArray[Any]]

TRANSPORT_DTYPES = ("model", "auto", "UINT8")
"""Choices for ``transport_dtype`` (module docstring)."""

_FLOAT_DATATYPES = ("FP16", "FP32", "FP64")


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """A model input or output as ModelMetadata reports it (``-1``: variable dimension)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass
class ServedModel:
    """One model behind the server: metadata plus a ``predict`` function."""

    name: str
    predict: Callable[[Arrays], Arrays]
    inputs: tuple[TensorMeta, ...] = ()
    outputs: tuple[TensorMeta, ...] = ()
    version: str = "1"
    platform: str = "python"
    max_batch_size: int = 0
    """> 0: the first dimension is a batch the server may concatenate requests along."""
    close: Callable[[], None] = field(default=lambda: None)
    thread_safe: bool = True
    """False: the server runs ``predict`` for one request at a time (a lock)."""
    datatype_hint: str = ""
    """Added to a wrong-datatype error (how this server was told to take its inputs)."""

    def __post_init__(self) -> None:
        if not self.thread_safe:
            inner, lock = self.predict, threading.Lock()

            def locked(inputs: Arrays) -> Arrays:
                with lock:
                    return inner(inputs)

            self.predict = locked

    def check_inputs(self, inputs: Iterable[tuple[str, str, Sequence[int]]]) -> None:
        """Raise :class:`TensorError` when ``inputs`` — (name, datatype, shape) of each, as a
        request declares them — do not fit the declared inputs. The server checks a request
        this way before reading any tensor (a shared-memory input is only copied once it
        is known to fit)."""
        if not self.inputs:
            return
        declared = {m.name: m for m in self.inputs}
        seen: set[str] = set()
        for name, got, shape in inputs:
            seen.add(name)
            meta = declared.get(name)
            if meta is None:
                raise TensorError(
                    f"model {self.name!r} has no input {name!r} (inputs: {', '.join(declared)})"
                )
            dtype_of(got)  # an unknown datatype is named as such
            if got != meta.datatype:
                raise TensorError(
                    f"model {self.name!r} input {name!r}: datatype {got} given, the model takes "
                    f"{meta.datatype}{self.datatype_hint}"
                )
            if len(shape) != len(meta.shape) or any(
                d != -1 and d != g for d, g in zip(meta.shape, shape, strict=True)
            ):
                raise TensorError(
                    f"model {self.name!r} input {name!r}: shape {list(shape)} given, "
                    f"the model takes {list(meta.shape)} (-1: any size)"
                )
        missing = [n for n in declared if n not in seen]
        if missing:
            raise TensorError(f"model {self.name!r}: input {missing[0]!r} is missing")


def load_model(
    spec: str, name: str | None = None, *, intra_op_threads: int = 1, transport_dtype: str = "model"
) -> ServedModel:
    """A :class:`ServedModel` from ``SPEC`` (see the module docstring)."""
    if transport_dtype not in TRANSPORT_DTYPES:
        raise ValueError(
            f"transport dtype {transport_dtype!r}: choose one of {', '.join(TRANSPORT_DTYPES)}"
        )
    path = Path(spec)
    if path.suffix == ".onnx" or (path.is_file() and path.suffix != ".toml"):
        return onnx_model(
            path, name or path.stem, intra_op_threads=intra_op_threads,
            uint8_inputs=transport_dtype == "UINT8",
        )
    if ":" in spec and not path.exists():
        if transport_dtype == "UINT8":
            raise ValueError(
                f"--model {spec!r}: --transport-dtype UINT8 applies to ONNX models; a Python "
                "model declares its own input datatypes"
            )
        return python_model(spec, name)
    card = load_card(spec)
    uint8 = transport_dtype == "UINT8" or (transport_dtype == "auto" and card.raw_pixels)
    return onnx_model(
        card.model_path(), name or card.name, intra_op_threads=intra_op_threads, uint8_inputs=uint8
    )


def onnx_model(
    path: Path, name: str, *, intra_op_threads: int = 1, uint8_inputs: bool = False
) -> ServedModel:
    """Serve an ONNX file with saferoad's ONNX Runtime backend. ``uint8_inputs``: float
    inputs travel as UINT8 and are cast to the model's float type here (module docstring)."""
    # deferred: ONNX Runtime loads only when an ONNX model is served (a Python model needs none)
    from saferoad.adapters.onnx.backend import OnnxBackend

    backend = OnnxBackend(path, intra_op_threads=intra_op_threads, warmup=1)

    def meta(specs: Sequence[Any]) -> tuple[TensorMeta, ...]:
        return tuple(
            TensorMeta(s.name, datatype_of(np.dtype(s.dtype)), tuple(-1 if d is None else d for d in s.shape))
            for s in specs
        )

    inputs, outputs = meta(backend.input_specs()), meta(backend.output_specs())
    predict: Callable[[Arrays], Arrays] = backend.infer
    hint = ""
    if uint8_inputs:
        cast = {m.name: dtype_of(m.datatype) for m in inputs if m.datatype in _FLOAT_DATATYPES}
        if not cast:
            backend.close()
            raise ValueError(f"{path}: --transport-dtype UINT8 needs a float input; the model has none")
        inputs = tuple(TensorMeta(m.name, "UINT8", m.shape) if m.name in cast else m for m in inputs)
        hint = (
            " (this server takes the model's float input as UINT8 pixel values 0-255 and casts "
            "it; serve with --transport-dtype model to send the float tensor)"
        )

        def predict(arrays: Arrays) -> Arrays:
            return backend.infer({k: v.astype(cast[k]) if k in cast else v for k, v in arrays.items()})

    batchable = all(m.shape and m.shape[0] == -1 for m in inputs + outputs)
    return ServedModel(
        name=name,
        predict=predict,
        datatype_hint=hint,
        inputs=inputs,
        outputs=outputs,
        platform="onnxruntime_onnx",
        max_batch_size=64 if batchable else 0,
        close=backend.close,
    )


def python_model(spec: str, name: str | None = None) -> ServedModel:
    """Serve ``module:attr``: an object (or a no-argument class) with ``predict``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--model {spec!r}: expected module:attr, e.g. mypkg.models:Detector")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules in the working directory import
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"--model {spec!r}: cannot import {module_name!r}: {err}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"--model {spec!r}: {module_name!r} has no attribute {attr!r}") from None
    if isinstance(obj, type):
        obj = obj()
    predict = getattr(obj, "predict", None)
    if not callable(predict):
        raise ValueError(f"--model {spec!r}: {type(obj).__name__} has no predict(inputs) method")

    def metas(key: str) -> tuple[TensorMeta, ...]:
        raw = getattr(obj, key, None) or ()
        out = []
        for i, m in enumerate(raw):
            try:
                dtype_of(str(m["datatype"]))
                out.append(TensorMeta(str(m["name"]), str(m["datatype"]), tuple(int(d) for d in m["shape"])))
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(
                    f"--model {spec!r}: {key}[{i}] must be {{name, datatype, shape}} with a KServe datatype: {err}"
                ) from None
        return tuple(out)

    def typed_predict(inputs: Arrays) -> Arrays:
        result = predict(inputs)
        if not isinstance(result, dict):
            raise TypeError(f"{spec}: predict returned {type(result).__name__}, not a dict of arrays")
        return {str(k): np.asarray(v) for k, v in result.items()}

    close = getattr(obj, "close", None)
    return ServedModel(
        name=name or str(getattr(obj, "name", None) or attr.split(".")[-1]),
        predict=typed_predict,
        inputs=metas("inputs"),
        outputs=metas("outputs"),
        version=str(getattr(obj, "version", "1")),
        platform=str(getattr(obj, "platform", "python")),
        max_batch_size=int(getattr(obj, "max_batch_size", 0) or 0),
        close=close if callable(close) else (lambda: None),
        thread_safe=bool(getattr(obj, "thread_safe", False)),
    )
