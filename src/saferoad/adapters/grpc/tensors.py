"""Tensors on the wire of the KServe v2 / Open Inference Protocol.

A tensor is a name, a datatype (``"FP32"``, ``"UINT8"``, ``"BYTES"`` ...), a shape and its
elements, either as raw little-endian bytes (``raw_input_contents``/``raw_output_contents``,
flattened row-major, no padding; ``BYTES`` elements each prefixed by a 4-byte little-endian
length) or in the typed repeated field for the datatype (``InferTensorContents``). See
https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/ ("Tensor Data
Types") and Triton's ``protocol/extension_binary_data.md``.

Everything a client can get wrong raises :class:`TensorError` (a ``ValueError``), which the
server answers with ``INVALID_ARGUMENT`` and the message.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

DATATYPE_TO_DTYPE: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
"""KServe v2 datatype names and the NumPy dtypes they map to (BYTES: object arrays of bytes)."""

_DTYPE_TO_DATATYPE = {dt.str.lstrip("<>|="): name for name, dt in DATATYPE_TO_DTYPE.items()}

TYPED_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""The ``InferTensorContents`` field for each datatype; FP16 has none (raw only)."""


class TensorError(ValueError):
    """A tensor that does not match its datatype, shape or the model (INVALID_ARGUMENT)."""


def datatype_of(dtype: np.dtype[Any]) -> str:
    """The KServe datatype of a NumPy dtype; unicode strings travel as BYTES."""
    if dtype.kind in ("O", "S", "U"):
        return "BYTES"
    name = _DTYPE_TO_DATATYPE.get(dtype.str.lstrip("<>|="))
    if name is None:
        raise TensorError(f"NumPy dtype {dtype} has no KServe v2 datatype")
    return name


def dtype_of(datatype: str) -> np.dtype[Any]:
    try:
        return DATATYPE_TO_DTYPE[datatype]
    except KeyError:
        known = ", ".join(DATATYPE_TO_DTYPE)
        raise TensorError(f"unknown datatype {datatype!r} (the protocol has {known})") from None


def _element_count(name: str, shape: Sequence[int]) -> int:
    if any(d < 0 for d in shape):
        raise TensorError(f"tensor {name!r}: shape {list(shape)} has a negative dimension")
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def decode_raw(
    name: str, datatype: str, shape: Sequence[int], raw: bytes | memoryview
) -> NDArray[Any]:
    """A tensor from raw bytes; the byte count must match the shape exactly."""
    dtype = dtype_of(datatype)
    n = _element_count(name, shape)
    if datatype == "BYTES":
        items = _unpack_bytes(name, raw)
        if len(items) != n:
            raise TensorError(
                f"tensor {name!r}: {len(items)} BYTES elements for shape {list(shape)} ({n} expected)"
            )
        arr = np.empty(n, dtype=object)
        arr[:] = items
        return arr.reshape(tuple(shape))
    expected = n * dtype.itemsize
    if len(raw) != expected:
        raise TensorError(
            f"tensor {name!r}: {len(raw)} raw bytes, but {datatype} {list(shape)} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).reshape(tuple(shape))


def decode_typed(name: str, datatype: str, shape: Sequence[int], contents: Any) -> NDArray[Any]:
    """A tensor from an ``InferTensorContents`` message."""
    dtype = dtype_of(datatype)
    field = TYPED_FIELD.get(datatype)
    if field is None:
        raise TensorError(f"tensor {name!r}: {datatype} must be sent as raw contents")
    n = _element_count(name, shape)
    used = [f.name for f, _ in contents.ListFields()]
    wrong = [f for f in used if f != field]
    if wrong:
        raise TensorError(f"tensor {name!r}: datatype {datatype} takes {field}, not {wrong[0]}")
    values = getattr(contents, field)
    if len(values) != n:
        raise TensorError(
            f"tensor {name!r}: {len(values)} elements in {field} for shape {list(shape)} ({n} expected)"
        )
    if datatype == "BYTES":
        arr = np.empty(n, dtype=object)
        arr[:] = list(values)
        return arr.reshape(tuple(shape))
    try:
        return np.asarray(values, dtype=dtype).reshape(tuple(shape))
    except OverflowError as err:
        raise TensorError(f"tensor {name!r}: a value does not fit {datatype}: {err}") from None


def encode_raw(arr: NDArray[Any]) -> bytes:
    """Raw little-endian, row-major bytes of ``arr`` (BYTES: length-prefixed elements)."""
    if datatype_of(arr.dtype) == "BYTES":
        return _pack_bytes(arr)
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a.tobytes()


def raw_view(arr: NDArray[Any]) -> memoryview | bytes:
    """The raw wire bytes of ``arr`` without copying where possible (a view of a
    contiguous little-endian array; BYTES and big-endian arrays are converted)."""
    if datatype_of(arr.dtype) == "BYTES":
        return _pack_bytes(arr)
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big"):
        a = a.astype(a.dtype.newbyteorder("<"))
    return memoryview(a.reshape(-1).view(np.uint8))  # type: ignore[arg-type]


def fill_typed(contents: Any, arr: NDArray[Any]) -> None:
    """Write ``arr`` into an ``InferTensorContents`` message."""
    datatype = datatype_of(arr.dtype)
    field = TYPED_FIELD.get(datatype)
    if field is None:
        raise TensorError(f"{datatype} cannot be sent as typed contents")
    flat = arr.reshape(-1)
    if datatype == "BYTES":
        getattr(contents, field).extend(_as_bytes(x) for x in flat)
    else:
        getattr(contents, field).extend(flat.tolist())


def _as_bytes(x: object) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    return str(x).encode("utf-8")


def _pack_bytes(arr: NDArray[Any]) -> bytes:
    parts = []
    for x in arr.reshape(-1):
        b = _as_bytes(x)
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def _unpack_bytes(name: str, raw: bytes | memoryview) -> list[bytes]:
    items, pos = [], 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise TensorError(f"tensor {name!r}: BYTES contents end inside a length prefix")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > len(raw):
            raise TensorError(f"tensor {name!r}: BYTES element of {length} bytes runs past the end")
        items.append(bytes(raw[pos : pos + length]))
        pos += length
    return items
