"""Zero-copy handling of raw tensor contents on the protobuf wire.

A 416x416 FP32 frame is 2 MB. Through the generated protobuf classes it is copied about
three times each way (array -> bytes -> message -> serialized). ``ModelInferRequest`` field 7
(``raw_input_contents``) and ``ModelInferResponse`` field 6 (``raw_output_contents``) are
``repeated bytes`` at the top level of the message, and protobuf's encoding lets such a field
be appended after the rest of the message (https://protobuf.dev/programming-guides/encoding/,
"Last One Wins" / repeated fields). So the small part of a message goes through protobuf and
the tensors are written and read directly: one copy on the way out, none on the way in (the
arrays view the received buffer until the caller copies them).

The bytes are exactly what the protobuf classes would produce, so any KServe v2 peer (Triton,
tritonclient) reads them; tests/grpc check both directions against the generated classes.
"""

from __future__ import annotations

from collections.abc import Iterable

REQUEST_RAW_FIELD = 7
RESPONSE_RAW_FIELD = 6
STREAM_RESPONSE_FIELD = 2
"""``ModelStreamInferResponse.infer_response``: a serialized ModelInferResponse wrapped as
this one length-delimited field is a valid ModelStreamInferResponse (one more copy of the
response, none through protobuf)."""
STREAM_ERROR_FIELD = 1
STREAMS_FULL = "too many open inference streams"
"""How ``serve-model`` starts its RESOURCE_EXHAUSTED message for a ModelStreamInfer it refuses
(each open stream holds a server thread); saferoad's client then sends that thread's
requests as unary ModelInfer calls."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated protobuf message (varint)")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed protobuf varint")


def join_with_raw(head: bytes, field: int, blobs: Iterable[memoryview | bytes]) -> bytes:
    """``head`` (a serialized message without the raw field) followed by ``blobs`` as
    repeated-bytes field ``field``: one copy of each blob."""
    tag = _varint((field << 3) | 2)
    parts: list[memoryview | bytes] = [head]
    for b in blobs:
        parts += [tag, _varint(len(b) if isinstance(b, bytes) else b.nbytes), b]
    return b"".join(parts)


def split_raw(data: bytes | memoryview, field: int) -> tuple[bytes, list[memoryview]]:
    """Split a serialized message into (everything but ``field``, the ``field`` entries as
    views of ``data``). Only top-level fields are walked; nested messages are skipped whole."""
    buf = memoryview(data)
    rest: list[memoryview] = []
    raws: list[memoryview] = []
    pos, n = 0, len(buf)
    while pos < n:
        start = pos
        key, pos = _read_varint(buf, pos)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            _, pos = _read_varint(buf, pos)
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        elif wt == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > n:
                raise ValueError("truncated protobuf message (length-delimited field)")
            if fno == field:
                raws.append(buf[pos : pos + length])
                pos += length
                continue
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        if pos > n:
            raise ValueError("truncated protobuf message")
        rest.append(buf[start:pos])
    return b"".join(rest), raws
