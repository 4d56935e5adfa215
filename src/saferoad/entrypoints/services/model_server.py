"""``saferoad serve-model``: a KServe v2 / Open Inference Protocol gRPC server.

Implements every RPC of ``inference.GRPCInferenceService`` in ``protos/grpc_predict_v2.proto``
(ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer, and Triton's
ModelStreamInfer and system shared-memory RPCs) for the models
of :mod:`saferoad.adapters.grpc.models`, plus the standard gRPC health service
(``grpc.health.v1.Health``) and server reflection, so Triton's ``tritonclient``, KServe clients
and ``grpcurl`` talk to it unchanged.

Errors are gRPC status codes with a message that says what to fix: an unknown model or
version is ``NOT_FOUND``; a wrong datatype, shape, input name or byte count is
``INVALID_ARGUMENT``; a message over the size limit is ``RESOURCE_EXHAUSTED`` (gRPC's own
check, before any of this code runs); a model that raises is ``INTERNAL``. None of them stops
the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from saferoad._version import __version__
from saferoad.adapters.grpc.batching import BatcherClosed, DynamicBatcher
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.models import Arrays, ServedModel
from saferoad.adapters.grpc.server import GrpcServer, start_server
from saferoad.adapters.grpc.shm import EXTENSION as SHM_EXTENSION
from saferoad.adapters.grpc.shm import (
    PARAM_BYTE_SIZE,
    SharedMemoryError,
    SharedMemoryRegistry,
    TensorRef,
    set_ref_params,
    tensor_ref,
)
from saferoad.adapters.grpc.tensors import (
    TYPED_FIELD,
    TensorError,
    datatype_of,
    decode_raw,
    decode_typed,
    dtype_of,
    fill_typed,
    raw_view,
)
from saferoad.adapters.grpc.wire import (
    REQUEST_RAW_FIELD,
    RESPONSE_RAW_FIELD,
    STREAM_RESPONSE_FIELD,
    STREAMS_FULL,
    join_with_raw,
    split_raw,
)
from saferoad.observability import get_logger

_log = get_logger("grpc.model_server")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ServerStats:
    """Counters (for tests and the load test): requests, batches, rows and errors."""

    requests: int = 0
    errors: int = 0
    batches: int = 0
    batched_requests: int = 0
    max_batch_requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def batch(self, requests: int, rows: int) -> None:
        with self._lock:
            self.batches += 1
            self.batched_requests += requests
            self.max_batch_requests = max(self.max_batch_requests, requests)


def stream_limit(max_workers: int) -> int:
    """Streams a server with ``max_workers`` threads keeps open at once: each open
    ModelStreamInfer call holds one of grpcio's synchronous worker threads for its whole life,
    so a quarter of them (at least 2) stay for unary calls, metadata and health checks; a
    server with 2 threads or fewer takes no streams (clients fall back to unary calls)."""
    return max(0, max_workers - max(2, max_workers // 4))


class _OpenStream:
    """A ModelStreamInfer call in progress (for a graceful drain)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.busy = False


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """The KServe v2 RPCs over a set of :class:`ServedModel`."""

    def __init__(
        self,
        models: Iterable[ServedModel],
        *,
        max_batch_size: int = 8,
        max_batch_delay_s: float = 0.002,
        shared_memory: bool = True,
        max_streams: int = stream_limit(16),
    ) -> None:
        self.models = {m.name: m for m in models}
        self.max_streams = max_streams
        self.stats = ServerStats()
        self.ready = True
        self.batchers: dict[str, DynamicBatcher] = {}
        self.shm: SharedMemoryRegistry | None = SharedMemoryRegistry() if shared_memory else None
        self._streams: set[_OpenStream] = set()
        self._streams_lock = threading.Lock()
        for m in self.models.values():
            limit = min(max_batch_size, m.max_batch_size)
            if limit > 1:
                self.batchers[m.name] = DynamicBatcher(m, limit, max_batch_delay_s, self.stats.batch)

    # -- health and metadata ---------------------------------------------------------------
    def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=self.ready)

    def ModelReady(self, request: Any, context: Any) -> Any:
        m = self.models.get(request.name)
        ok = m is not None and request.version in ("", m.version) and self.ready
        return pb.ModelReadyResponse(ready=ok)

    def ServerMetadata(self, request: Any, context: Any) -> Any:
        extensions = [SHM_EXTENSION] if self.shm is not None else []
        return pb.ServerMetadataResponse(name="saferoad", version=__version__, extensions=extensions)

    def ModelMetadata(self, request: Any, context: Any) -> Any:
        try:
            m = self._model(request.name, request.version)
            return pb.ModelMetadataResponse(
                name=m.name,
                versions=[m.version],
                platform=m.platform,
                inputs=[_tensor_meta(t) for t in m.inputs],
                outputs=[_tensor_meta(t) for t in m.outputs],
            )
        except _Abort as err:
            context.abort(err.code, err.message)

    # -- Triton's system shared-memory extension (shm.py) -----------------------------------
    def _shm_registry(self, context: Any) -> SharedMemoryRegistry:
        if self.shm is None:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                "this server's system shared-memory extension is off (inference.serve_shared_memory = false)",
            )
        assert self.shm is not None
        return self.shm

    def SystemSharedMemoryRegister(self, request: Any, context: Any) -> Any:
        shm = self._shm_registry(context)
        try:
            shm.register(request.name, request.key, request.offset, request.byte_size)
        except SharedMemoryError as err:
            context.abort(err.code, err.message)
        _log.info("shm_registered", region=request.name, key=request.key, byte_size=request.byte_size)
        return pb.SystemSharedMemoryRegisterResponse()

    def SystemSharedMemoryUnregister(self, request: Any, context: Any) -> Any:
        self._shm_registry(context).unregister(request.name)
        return pb.SystemSharedMemoryUnregisterResponse()

    def SystemSharedMemoryStatus(self, request: Any, context: Any) -> Any:
        resp = pb.SystemSharedMemoryStatusResponse()
        shm = self._shm_registry(context)
        try:
            regions = shm.status(request.name)
        except SharedMemoryError as err:
            context.abort(err.code, err.message)
        for name, key, offset, byte_size in regions:
            st = resp.regions[name]
            st.name, st.key, st.offset, st.byte_size = name, key, offset, byte_size
        return resp

    # -- inference ---------------------------------------------------------------------------
    def ModelInfer(self, request: Any, context: Any) -> Any:
        """ModelInfer on a parsed message (the generated servicer interface)."""
        return pb.ModelInferResponse.FromString(self.ModelInferBytes(request.SerializeToString(), context))

    def ModelInferBytes(self, data: bytes, context: Any) -> bytes:
        """ModelInfer on the serialized request, answering the serialized response: the
        tensors are read and written in place (wire.py). This is what the server runs."""
        try:
            return self._infer_serialized(data, context)
        except _Abort as err:
            context.abort(err.code, err.message)
        raise AssertionError("unreachable: context.abort raises")

    def ModelStreamInferBytes(self, requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        """Triton's ModelStreamInfer on serialized messages: each request is validated and run
        exactly as by ModelInfer, and answered in order by a ModelStreamInferResponse with the
        ModelInferResponse in ``infer_response`` (field 2) or, for a request it refuses, the
        reason in ``error_message`` (field 1; the stream stays open, as in Triton). A client
        that goes away ends the request iterator; nothing else is left behind. When the
        server drains, an idle stream is cancelled at once and a busy one ends after its
        response (clients reopen on the restarted server)."""
        state = _OpenStream(context)
        with self._streams_lock:
            full = len(self._streams) >= self.max_streams
            if not full:
                self._streams.add(state)
        if full:
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{STREAMS_FULL}: this server keeps {self.max_streams} ModelStreamInfer streams open at "
                "once (each holds one of its worker threads; inference.server_workers sets how many): "
                "use unary ModelInfer, or close a stream",
            )
        try:
            for data in requests:
                with self._streams_lock:
                    state.busy = True
                try:
                    try:
                        body = self._infer_serialized(data, context)
                    except _Abort as err:
                        yield pb.ModelStreamInferResponse(error_message=err.message).SerializeToString()
                    else:
                        yield join_with_raw(b"", STREAM_RESPONSE_FIELD, (body,))
                finally:
                    with self._streams_lock:
                        state.busy = False
                        draining = not self.ready
                if draining:
                    return
        finally:
            with self._streams_lock:
                self._streams.discard(state)

    def _infer_serialized(self, data: bytes, context: Any) -> bytes:
        """One inference on a serialized ModelInferRequest; refusals raise :class:`_Abort`."""
        self.stats.add(requests=1)
        try:
            try:
                head, raws = split_raw(data, REQUEST_RAW_FIELD)
                request = pb.ModelInferRequest.FromString(head)
            except (ValueError, DecodeError) as err:
                raise TensorError(f"not a valid ModelInferRequest: {err}") from None
            return self._infer(request, raws, context)
        except _Abort:
            self.stats.add(errors=1)
            raise
        except TensorError as err:
            self.stats.add(errors=1)
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
        except SharedMemoryError as err:
            self.stats.add(errors=1)
            raise _Abort(err.code, err.message) from None

    def _model(self, name: str, version: str) -> ServedModel:
        m = self.models.get(name)
        if m is None:
            raise _Abort(
                grpc.StatusCode.NOT_FOUND,
                f"unknown model {name!r}; this server has: {', '.join(sorted(self.models)) or 'none'}",
            )
        if version not in ("", m.version):
            raise _Abort(
                grpc.StatusCode.NOT_FOUND,
                f"model {name!r} has no version {version!r} (versions: {m.version})",
            )
        return m

    def _infer(self, request: Any, raws: Sequence[bytes | memoryview], context: Any) -> bytes:
        m = self._model(request.model_name, request.model_version)
        m.check_inputs((t.name, t.datatype, t.shape) for t in request.inputs)
        inputs, typed = decode_request(request, raws, self.shm)
        # the shared-memory parameters of requested outputs, checked before the model runs
        out_refs = {o.name: tensor_ref(f"output {o.name!r}", o.parameters) for o in request.outputs}
        for name, ref in out_refs.items():
            if ref is not None:
                if self.shm is None:
                    raise TensorError(f"output {name!r}: this server takes no shared-memory outputs")
                self.shm.check(f"output {name!r}", ref)
        outputs = self._run(m, inputs, context)
        wanted = [o.name for o in request.outputs]
        if wanted:
            unknown = [w for w in wanted if w not in outputs]
            if unknown:
                raise TensorError(
                    f"model {m.name!r} has no output {unknown[0]!r} (outputs: {', '.join(outputs)})"
                )
            outputs = {w: outputs[w] for w in wanted}
        refs = {k: r for k, r in out_refs.items() if r is not None}
        return encode_response(m, request.id, outputs, typed=typed, shm=self.shm if refs else None, refs=refs)

    def _run(self, m: ServedModel, inputs: Arrays, context: Any) -> Arrays:
        batcher = self.batchers.get(m.name)
        try:
            if batcher is None:
                return m.predict(inputs)
            fut = batcher.submit(inputs)
            remaining = context.time_remaining()  # huge for a call without deadline (a stream)
            return fut.result(timeout=remaining if remaining < threading.TIMEOUT_MAX else None)
        except (TensorError, _Abort):
            raise
        except futures.TimeoutError:
            raise _Abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"model {m.name!r}: deadline passed") from None
        except (ValueError, TypeError, KeyError) as err:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"model {m.name!r} rejected the inputs: {err}") from None
        except BatcherClosed as err:
            raise _Abort(grpc.StatusCode.UNAVAILABLE, f"model {m.name!r}: {err}") from None
        except Exception as err:
            _log.exception("model_failed", model=m.name)
            raise _Abort(grpc.StatusCode.INTERNAL, f"model {m.name!r} failed: {type(err).__name__}: {err}") from None

    def stopping(self) -> None:
        """The server is draining: report not ready (calls in flight still finish); cancel
        the streams that wait for a request (a busy one ends after its response)."""
        with self._streams_lock:
            self.ready = False
            idle = [s for s in self._streams if not s.busy]
        for s in idle:
            s.context.cancel()

    def close(self) -> None:
        self.ready = False
        for b in self.batchers.values():
            b.close()
        for m in self.models.values():
            m.close()
        if self.shm is not None:
            self.shm.close()
        st = self.stats
        _log.info(
            "model_server_closed", requests=st.requests, errors=st.errors, batches=st.batches,
            batched_requests=st.batched_requests,
        )


def decode_request(
    request: Any,
    raws: Sequence[bytes | memoryview] | None = None,
    shm: SharedMemoryRegistry | None = None,
) -> tuple[Arrays, bool]:
    """The input arrays of a ModelInferRequest, and whether they came as typed contents.
    ``raws``: the raw contents when they were split off the message (wire.py). Inputs with
    shared-memory parameters are read from ``shm`` (Triton's extension); the raw contents
    are then one per *other* input, in order, as tritonclient and Triton send them."""
    raw = raws or request.raw_input_contents
    if not request.inputs:
        raise TensorError("the request has no inputs")
    refs = [tensor_ref(f"input {t.name!r}", t.parameters) for t in request.inputs]
    n_other = sum(r is None for r in refs)
    if raw and len(raw) != n_other:
        per = "input not in shared memory" if n_other != len(refs) else "input"
        raise TensorError(f"{len(raw)} raw_input_contents for {n_other} inputs: give one per {per}, in order")
    arrays: Arrays = {}
    typed = False
    j = 0
    for t, ref in zip(request.inputs, refs, strict=True):
        if t.name in arrays:
            raise TensorError(f"input {t.name!r} appears twice")
        if ref is not None:
            if t.HasField("contents"):
                raise TensorError(f"input {t.name!r}: contents and shared memory cannot be mixed in one input")
            if shm is None:
                raise TensorError(f"input {t.name!r}: this server takes no shared-memory inputs")
            arrays[t.name] = _decode_shm_input(t, ref, shm)
        elif raw:
            if t.HasField("contents"):
                raise TensorError(
                    f"input {t.name!r}: contents and raw_input_contents cannot be mixed in one request"
                )
            arrays[t.name] = decode_raw(t.name, t.datatype, t.shape, raw[j])
            j += 1
        else:
            arrays[t.name] = decode_typed(t.name, t.datatype, t.shape, t.contents)
            typed = True
    return arrays, typed


def _decode_shm_input(t: Any, ref: TensorRef, shm: SharedMemoryRegistry) -> Any:
    what = f"input {t.name!r}"
    if t.datatype != "BYTES":
        try:
            dtype = dtype_of(t.datatype)
        except TensorError as err:
            raise TensorError(f"{what}: {err}") from None
        if any(d < 0 for d in t.shape):
            raise TensorError(f"{what}: shape {list(t.shape)} has a negative dimension")
        need = int(np.prod(list(t.shape), dtype=np.int64)) * dtype.itemsize
        if ref.byte_size != need:
            raise SharedMemoryError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{what}: {PARAM_BYTE_SIZE} is {ref.byte_size}, but {t.datatype} {list(t.shape)} "
                f"needs {need} bytes (region {ref.region!r})",
            )
    return decode_raw(t.name, t.datatype, t.shape, shm.read(what, ref))


def encode_response(
    m: ServedModel,
    request_id: str,
    outputs: Arrays,
    *,
    typed: bool = False,
    shm: SharedMemoryRegistry | None = None,
    refs: dict[str, TensorRef] | None = None,
) -> bytes:
    """A serialized ModelInferResponse: raw contents, or typed ones when the request used
    typed ones (and every output has a typed field; FP16 forces raw). Outputs in ``refs``
    are written to shared memory and answered with the region's parameters, no contents
    (an empty raw entry each when other outputs travel raw, so indices line up)."""
    refs = refs or {}
    resp = pb.ModelInferResponse(model_name=m.name, model_version=m.version, id=request_id)
    try:
        datatypes = {k: datatype_of(v.dtype) for k, v in outputs.items()}
    except TensorError as err:
        raise _Abort(grpc.StatusCode.INTERNAL, f"model {m.name!r} output: {err}") from None
    as_typed = typed and all(d in TYPED_FIELD for d in datatypes.values())
    blobs: list[memoryview | bytes] = []
    for name, arr in outputs.items():
        out = resp.outputs.add(name=name, datatype=datatypes[name], shape=list(arr.shape))
        ref = refs.get(name)
        if ref is not None and shm is not None:
            written = shm.write(f"output {name!r}", ref, raw_view(arr))
            set_ref_params(out.parameters, TensorRef(ref.region, written, ref.offset))
            if not as_typed:
                blobs.append(b"")
        elif as_typed:
            fill_typed(out.contents, arr)
        else:
            blobs.append(raw_view(arr))
    if all(ref is not None for ref in (refs.get(k) for k in outputs)):
        blobs = []  # every output in shared memory: no raw contents at all
    return join_with_raw(resp.SerializeToString(), RESPONSE_RAW_FIELD, blobs)


def _tensor_meta(t: Any) -> Any:
    return pb.ModelMetadataResponse.TensorMetadata(name=t.name, datatype=t.datatype, shape=list(t.shape))


def register_inference_service(servicer: InferenceServicer, server: grpc.Server) -> None:
    """Register the KServe v2 RPCs (as the generated ``add_..._to_server`` would), with
    ModelInfer taking and returning serialized bytes (``ModelInferBytes``)."""
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    handlers = {}
    for method in service.methods:
        if method.name == "ModelInfer":
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(servicer.ModelInferBytes)
            continue
        if method.name == "ModelStreamInfer":
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(servicer.ModelStreamInferBytes)
            continue
        req_cls = getattr(pb, method.input_type.name)
        resp_cls = getattr(pb, method.output_type.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=req_cls.FromString,
            response_serializer=resp_cls.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


def serve_models(
    models: list[ServedModel],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_batch_size: int = 8,
    max_batch_delay_s: float = 0.002,
    max_workers: int = 16,
    max_message_bytes: int = 64 * 1024 * 1024,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
    token: str | None = None,
    shared_memory: bool = True,
) -> tuple[GrpcServer, InferenceServicer]:
    """Start the KServe v2 model server for ``models`` (``shared_memory``: offer Triton's
    system shared-memory extension)."""
    servicer = InferenceServicer(
        models,
        max_batch_size=max_batch_size,
        max_batch_delay_s=max_batch_delay_s,
        shared_memory=shared_memory,
        max_streams=stream_limit(max_workers),
    )
    try:
        server = start_server(
            lambda s: register_inference_service(servicer, s),
            [SERVICE_NAME],
            host=host,
            port=port,
            max_workers=max_workers,
            max_message_bytes=max_message_bytes,
            tls_cert=tls_cert,
            tls_key=tls_key,
            token=token,
            on_close=servicer.close,
            on_stopping=servicer.stopping,
        )
    except BaseException:
        servicer.close()
        raise
    _log.info(
        "model_server_started",
        host=host,
        port=server.port,
        models=[m.name for m in models],
        batching={k: b.max_batch_size for k, b in servicer.batchers.items()},
    )
    return server, servicer
