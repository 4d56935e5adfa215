"""Parsers of the gRPC adapters: tensor contents (raw and typed) and inference URLs."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from saferoad.adapters.grpc.client import build_request, decode_response, parse_inference_url
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.tensors import (
    TensorError,
    datatype_of,
    decode_raw,
    decode_typed,
    encode_raw,
    fill_typed,
)
from saferoad.entrypoints.services.model_server import decode_request

DTYPES = [np.bool_, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32,
          np.int64, np.float16, np.float32, np.float64]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    return draw(hnp.arrays(dtype, shape))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@settings(max_examples=50, deadline=None)
@given(arrays())
def test_raw_roundtrip(a: np.ndarray) -> None:
    dt = datatype_of(a.dtype)
    assert _same(decode_raw("t", dt, a.shape, encode_raw(a)), a)


@settings(max_examples=50, deadline=None)
@given(arrays())
def test_typed_roundtrip(a: np.ndarray) -> None:
    dt = datatype_of(a.dtype)
    if dt == "FP16":
        with pytest.raises(TensorError, match="cannot be sent as typed"):
            fill_typed(pb.InferTensorContents(), a)
        return
    c = pb.InferTensorContents()
    fill_typed(c, a)
    assert _same(decode_typed("t", dt, a.shape, c), a)


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), arrays(), min_size=1, max_size=4))
def test_request_and_response_roundtrip(inputs: dict[str, np.ndarray]) -> None:
    req = pb.ModelInferRequest.FromString(build_request("m", "", inputs).SerializeToString())
    got, typed = decode_request(req)
    assert not typed and list(got) == list(inputs)
    for k in inputs:
        assert _same(got[k], inputs[k])
    resp = pb.ModelInferResponse()
    for k, v in inputs.items():
        resp.outputs.add(name=k, datatype=datatype_of(v.dtype), shape=list(v.shape))
        resp.raw_output_contents.append(encode_raw(v))
    back = decode_response(resp)
    for k in inputs:
        assert _same(back[k], inputs[k]) and back[k].flags.writeable


@settings(max_examples=33, deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=6))
def test_bytes_roundtrip(items: list[bytes]) -> None:
    a = np.empty(len(items), dtype=object)
    a[:] = items
    assert decode_raw("s", "BYTES", [len(items)], encode_raw(a)).tolist() == items


@settings(max_examples=66, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(["FP32", "INT64", "UINT8", "BYTES", "FP16"]),
       st.lists(st.integers(0, 6), max_size=3))
def test_raw_decode_never_returns_a_wrong_size(raw: bytes, dt: str, shape: list[int]) -> None:
    try:
        a = decode_raw("t", dt, shape, raw)
    except TensorError:
        return
    assert list(a.shape) == shape


def test_raw_too_few_bytes() -> None:
    with pytest.raises(TensorError, match=r"tensor 'x': 7 raw bytes, but FP32 \[2\] needs 8"):
        decode_raw("x", "FP32", [2], b"\0" * 7)


def test_negative_dimension() -> None:
    with pytest.raises(TensorError, match="negative dimension"):
        decode_raw("x", "FP32", [-1, 2], b"")


def test_unknown_datatype() -> None:
    with pytest.raises(TensorError, match="unknown datatype 'FLOAT32'"):
        decode_raw("x", "FLOAT32", [1], b"\0" * 4)


def test_bytes_truncated_prefix_and_element() -> None:
    with pytest.raises(TensorError, match="inside a length prefix"):
        decode_raw("s", "BYTES", [1], b"\x01\x00")
    with pytest.raises(TensorError, match="runs past the end"):
        decode_raw("s", "BYTES", [1], struct.pack("<I", 10) + b"abc")
    with pytest.raises(TensorError, match="2 BYTES elements for shape"):
        decode_raw("s", "BYTES", [1], struct.pack("<I", 1) + b"a" + struct.pack("<I", 0))


def test_typed_wrong_field_and_count() -> None:
    c = pb.InferTensorContents(fp32_contents=[1.0, 2.0])
    with pytest.raises(TensorError, match="datatype INT32 takes int_contents, not fp32_contents"):
        decode_typed("x", "INT32", [2], c)
    with pytest.raises(TensorError, match="2 elements in fp32_contents for shape \\[3\\]"):
        decode_typed("x", "FP32", [3], c)
    with pytest.raises(TensorError, match="FP16 must be sent as raw"):
        decode_typed("x", "FP16", [2], c)


def test_typed_value_out_of_range() -> None:
    c = pb.InferTensorContents(int_contents=[300])
    with pytest.raises(TensorError, match="does not fit INT8"):
        decode_typed("x", "INT8", [1], c)


def test_mixed_raw_and_typed_request() -> None:
    req = build_request("m", "", {"a": np.zeros(1, np.float32)})
    req.inputs[0].contents.fp32_contents.append(0.0)
    with pytest.raises(TensorError, match="cannot be mixed"):
        decode_request(req)


def test_duplicate_and_empty_inputs() -> None:
    with pytest.raises(TensorError, match="no inputs"):
        decode_request(pb.ModelInferRequest(model_name="m"))
    req = build_request("m", "", {"a": np.zeros(1, np.float32)})
    req.inputs.add(name="a", datatype="FP32", shape=[1])
    req.raw_input_contents.append(b"\0" * 4)
    with pytest.raises(TensorError, match="'a' appears twice"):
        decode_request(req)


def test_unsupported_numpy_dtype() -> None:
    with pytest.raises(TensorError, match="complex128 has no KServe v2 datatype"):
        datatype_of(np.dtype(np.complex128))


# -- URLs -----------------------------------------------------------------------------------
def test_parse_urls() -> None:
    t = parse_inference_url("grpc://127.0.0.1:8001/yolox-nano")
    assert (t.host, t.port, t.model, t.version, t.tls) == ("127.0.0.1", 8001, "yolox-nano", "", False)
    t = parse_inference_url("grpcs://triton.example:443/yolox/3")
    assert (t.host, t.port, t.model, t.version, t.tls) == ("triton.example", 443, "yolox", "3", True)
    t = parse_inference_url("grpc://[::1]:9000/m")
    assert t.address == "[::1]:9000" and str(t) == "grpc://[::1]:9000/m"


@pytest.mark.parametrize(
    ("url", "msg"),
    [
        ("", "inference.url is empty"),
        ("http://h:1/m", "scheme must be grpc:// or grpcs://"),
        ("grpc://h/m", "needs host and port"),
        ("grpc://h:x/m", "port is not a number"),
        ("grpc://h:1", "path must be /model"),
        ("grpc://h:1/a/b/c", "path must be /model"),
    ],
)
def test_bad_urls(url: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_inference_url(url)


@settings(max_examples=33, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), st.integers(1, 65535),
       st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), st.booleans())
def test_url_roundtrip(host: str, port: int, model: str, tls: bool) -> None:
    if model in (".", ".."):
        return
    url = f"{'grpcs' if tls else 'grpc'}://{host}:{port}/{model}"
    t = parse_inference_url(url)
    assert str(t) == url and t.port == port and t.model == model


# -- wire.py: pre-serialized raw contents are byte-identical to protobuf's ------------------
@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), arrays(), max_size=4), st.text(max_size=5),
       st.lists(st.text(min_size=1, max_size=4), max_size=2))
def test_serialized_request_matches_protobuf(inputs: dict[str, np.ndarray], rid: str, outs: list[str]) -> None:
    from saferoad.adapters.grpc.client import serialize_request

    blob = serialize_request("m", "2", inputs, outs, rid)
    assert blob == build_request("m", "2", inputs, outs, rid).SerializeToString()
    if inputs:
        got, _ = decode_request(pb.ModelInferRequest.FromString(blob))
        for k in inputs:
            assert _same(got[k], inputs[k])


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), arrays(), min_size=1, max_size=4))
def test_response_bytes_parse_both_ways(outputs: dict[str, np.ndarray]) -> None:
    from saferoad.adapters.grpc.client import parse_response
    from saferoad.adapters.grpc.models import ServedModel
    from saferoad.entrypoints.services.model_server import encode_response

    blob = encode_response(ServedModel("m", lambda x: x), "id", outputs)
    msg = pb.ModelInferResponse.FromString(blob)  # what tritonclient or any peer sees
    assert [o.name for o in msg.outputs] == list(outputs) and len(msg.raw_output_contents) == len(outputs)
    for via in (parse_response(blob), decode_response(msg)):
        for k in outputs:
            assert _same(via[k], outputs[k]) and via[k].flags.writeable


@settings(max_examples=66, deadline=None)
@given(st.binary(max_size=64))
def test_split_raw_on_garbage_raises_valueerror_or_splits(data: bytes) -> None:
    from saferoad.adapters.grpc.wire import split_raw

    try:
        head, raws = split_raw(data, 7)
    except ValueError:
        return
    assert len(head) + sum(r.nbytes for r in raws) <= len(data)


def test_server_rejects_a_malformed_message(serve: Any, test_models: Any) -> None:
    import grpc

    from saferoad.adapters.grpc.client import INFER_METHOD
    from saferoad.adapters.grpc.models import python_model

    server, _ = serve([python_model("grpc_test_models:Echo")])
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        call = ch.unary_unary(INFER_METHOD)
        with pytest.raises(grpc.RpcError) as info:
            call(b"\x3a\xff\xff\x03ab", timeout=5)  # a raw field longer than the message
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid ModelInferRequest: truncated" in info.value.details()
