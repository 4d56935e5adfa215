"""A KServe v2 / Open Inference Protocol gRPC client, and the remote inference backend.

``grpc://host:port/model[/version]`` (``grpcs://`` for TLS) names a model on any compatible
server: saferoad's ``serve-model``, Triton, KServe, MLServer. :class:`KServeClient` keeps one
channel for its lifetime (HTTP/2 multiplexes every call over it), gives each attempt a
deadline, and retries transient failures only — ``UNAVAILABLE`` (server restarting, connection
refused) and ``DEADLINE_EXCEEDED`` (inference is idempotent, so running it twice is harmless)
— with exponential backoff and jitter. Every other status is raised at once as
:class:`RemoteInferenceError`, with the server's message.

:class:`RemoteBackend` is an :class:`~saferoad.ports.detector.InferenceBackend`: put it under
``ModelDetector`` and the card's letterbox, decode and NMS run exactly as with ONNX Runtime.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2 as pb
from saferoad.adapters.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.models import Arrays, TensorMeta
from saferoad.adapters.grpc.shm import EXTENSION as SHM_EXTENSION
from saferoad.adapters.grpc.shm import (
    OwnedRegion,
    SharedMemoryError,
    TensorRef,
    aligned,
    set_ref_params,
    tensor_ref,
)
from saferoad.adapters.grpc.tensors import (
    TensorError,
    datatype_of,
    decode_raw,
    decode_typed,
    dtype_of,
    encode_raw,
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
from saferoad.ports.detector import TensorSpec

_log = get_logger("grpc.client")

INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
STREAM_INFER_METHOD = "/inference.GRPCInferenceService/ModelStreamInfer"

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
STREAM_RETRY_AFTER_S = 30.0
"""A thread whose stream the server refused (it has all the streams it keeps) sends unary
calls for this long, then tries a stream again."""


class RemoteInferenceError(ValueError):
    """A call the model server refused or that kept failing; ``code`` is the gRPC status."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class InferenceTarget:
    host: str
    port: int
    model: str
    version: str = ""
    tls: bool = False

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        scheme = "grpcs" if self.tls else "grpc"
        return f"{scheme}://{self.address}/{self.model}" + (f"/{self.version}" if self.version else "")


def parse_inference_url(url: str) -> InferenceTarget:
    """``grpc://host:port/model[/version]`` or ``grpcs://...`` -> :class:`InferenceTarget`."""
    if not url:
        raise ValueError(
            "inference.url is empty: set it to grpc://host:port/model (e.g. "
            "--set inference.url=grpc://127.0.0.1:8001/yolox-nano)"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("grpc", "grpcs"):
        raise ValueError(f"inference URL {url!r}: scheme must be grpc:// or grpcs://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"inference URL {url!r}: the port is not a number") from None
    if not parts.hostname or port is None:
        raise ValueError(f"inference URL {url!r}: needs host and port, e.g. grpc://127.0.0.1:8001/model")
    path = [p for p in parts.path.split("/") if p]
    if not 1 <= len(path) <= 2:
        raise ValueError(f"inference URL {url!r}: the path must be /model or /model/version")
    return InferenceTarget(
        parts.hostname, port, path[0], path[1] if len(path) > 1 else "", parts.scheme == "grpcs"
    )


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Deadlines, retries, TLS and auth (defaults and meaning: ``[inference]`` in docs/config.md)."""

    timeout_s: float = 2.0
    max_attempts: int = 8
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    root_certs: bytes | None = None
    server_name: str = ""
    token: str | None = None
    max_message_bytes: int = 64 * 1024 * 1024
    shared_memory: bool = False
    """Send inputs and receive fixed-size outputs through system shared memory (Triton's
    extension; client and server on the same machine)."""
    stream: bool = False
    """Send inference requests over one persistent ModelStreamInfer stream per calling
    thread instead of one ModelInfer call each (Triton's streaming RPC)."""

    @classmethod
    def from_config(cls, cfg: Any) -> ClientOptions:
        """From an :class:`~saferoad.config.inference.InferenceConfig`."""
        roots = None
        if cfg.tls_root_certs:
            p = Path(cfg.tls_root_certs)
            try:
                roots = p.read_bytes()
            except FileNotFoundError:
                raise FileNotFoundError(f"{p}: inference.tls_root_certs not found") from None
        return cls(
            timeout_s=cfg.timeout_s,
            max_attempts=cfg.retry_max_attempts,
            initial_backoff_s=cfg.retry_initial_backoff_s,
            max_backoff_s=cfg.retry_max_backoff_s,
            multiplier=cfg.retry_multiplier,
            root_certs=roots,
            server_name=cfg.tls_server_name,
            token=os.environ.get(cfg.token_env) or None if cfg.token_env else None,
            max_message_bytes=cfg.max_message_mb * 1024 * 1024,
            shared_memory=cfg.shared_memory,
            stream=cfg.stream,
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]


class KServeClient:
    """One channel to one model on a KServe v2 gRPC server (thread-safe)."""

    def __init__(self, url: str | InferenceTarget, options: ClientOptions | None = None) -> None:
        self.target = url if isinstance(url, InferenceTarget) else parse_inference_url(url)
        self.options = options or ClientOptions()
        o = self.options
        channel_options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", o.max_message_bytes),
            ("grpc.max_receive_message_length", o.max_message_bytes),
            # Reconnect soon after a server restart (gRPC's default first backoff is 1 s).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", int(o.max_backoff_s * 1000)),
        ]
        if o.server_name:
            channel_options.append(("grpc.ssl_target_name_override", o.server_name))
        if self.target.tls:
            creds = grpc.ssl_channel_credentials(root_certificates=o.root_certs)
            self._channel = grpc.secure_channel(self.target.address, creds, options=channel_options)
        else:
            if o.token and self.target.host not in ("127.0.0.1", "localhost", "::1"):
                _log.warning("token_over_plaintext", target=str(self.target))
            self._channel = grpc.insecure_channel(self.target.address, options=channel_options)
        self._stub: Any = pb_grpc.GRPCInferenceServiceStub(self._channel)  # type: ignore[no-untyped-call]
        # ModelInfer with pre-serialized bytes both ways (see wire.py: one copy per tensor)
        self._infer_bytes = self._channel.unary_unary(INFER_METHOD)
        self._stream_bytes = self._channel.stream_stream(STREAM_INFER_METHOD)
        self._local = threading.local()
        self._streams: set[_InferStream] = set()
        self._watchdog: threading.Thread | None = None
        self._closed = threading.Event()
        self._metadata = (("authorization", f"Bearer {o.token}"),) if o.token else ()
        self._lock = threading.RLock()  # re-entrant: a stream's finalizer may run under it
        self._shm: _ShmPool | None = None
        self._shm_lock = threading.Lock()
        self.retries = 0
        """Attempts that failed transiently and were retried (for tests and logs)."""

    # -- calls -------------------------------------------------------------------------------
    def _call(self, method: Callable[..., Any], request: Any, what: str) -> Any:
        o = self.options
        delay = o.initial_backoff_s
        for attempt in range(1, o.max_attempts + 1):
            try:
                return method(request, timeout=o.timeout_s, metadata=self._metadata)
            except grpc.RpcError as err:
                code = err.code() if hasattr(err, "code") else None
                details = err.details() if hasattr(err, "details") else str(err)
                if code not in RETRYABLE or attempt == o.max_attempts:
                    suffix = f" after {attempt} attempts" if attempt > 1 else ""
                    name = code.name if code is not None else "error"
                    raise RemoteInferenceError(
                        f"{self.target} {what}: {name}: {details}{suffix}", code
                    ) from None
                with self._lock:
                    self.retries += 1
                sleep = min(delay, o.max_backoff_s) * random.uniform(0.8, 1.2)
                _log.warning(
                    "grpc_retry", target=str(self.target), call=what, code=code.name if code else None,
                    attempt=attempt, sleep_s=round(sleep, 3),
                )
                time.sleep(sleep)
                delay *= o.multiplier
        raise AssertionError("unreachable")

    def server_live(self) -> bool:
        return bool(self._call(self._stub.ServerLive, pb.ServerLiveRequest(), "ServerLive").live)

    def server_ready(self) -> bool:
        return bool(self._call(self._stub.ServerReady, pb.ServerReadyRequest(), "ServerReady").ready)

    def model_ready(self) -> bool:
        req = pb.ModelReadyRequest(name=self.target.model, version=self.target.version)
        return bool(self._call(self._stub.ModelReady, req, "ModelReady").ready)

    def server_metadata(self) -> dict[str, Any]:
        r = self._call(self._stub.ServerMetadata, pb.ServerMetadataRequest(), "ServerMetadata")
        return {"name": r.name, "version": r.version, "extensions": list(r.extensions)}

    def model_metadata(self) -> ModelInfo:
        req = pb.ModelMetadataRequest(name=self.target.model, version=self.target.version)
        r = self._call(self._stub.ModelMetadata, req, "ModelMetadata")

        def metas(ts: Any) -> tuple[TensorMeta, ...]:
            return tuple(TensorMeta(t.name, t.datatype, tuple(t.shape)) for t in ts)

        return ModelInfo(r.name, tuple(r.versions), r.platform, metas(r.inputs), metas(r.outputs))

    def infer(
        self, inputs: Mapping[str, np.ndarray], outputs: list[str] | None = None, request_id: str = ""
    ) -> Arrays:
        """Run the model on ``inputs`` and return its outputs by name: raw tensor contents on
        the socket, or through system shared memory when ``options.shared_memory`` is on."""
        if self.options.shared_memory:
            return self._shm_pool().infer(inputs, outputs, request_id)
        blob = serialize_request(self.target.model, self.target.version, inputs, outputs, request_id)
        return parse_response(self._infer_serialized(blob))

    def _infer_serialized(self, blob: bytes) -> bytes | memoryview:
        """The serialized ModelInferResponse to a serialized ModelInferRequest: one ModelInfer
        call, or a round trip on this thread's ModelStreamInfer stream (``options.stream``)."""
        if self.options.stream and time.monotonic() >= getattr(self._local, "unary_until", 0.0):
            try:
                return self._call(self._stream_roundtrip, blob, "ModelStreamInfer")  # type: ignore[no-any-return]
            except RemoteInferenceError as err:
                # The server has all the streams it keeps open (each holds one of its
                # threads) and refused this one before reading the request: this thread
                # goes on with unary calls, and tries a stream again after a while.
                if err.code != grpc.StatusCode.RESOURCE_EXHAUSTED or STREAMS_FULL not in str(err):
                    raise
                self._local.unary_until = time.monotonic() + STREAM_RETRY_AFTER_S
                _log.warning(
                    "grpc_stream_refused_using_unary", target=str(self.target), reason=str(err),
                    retry_stream_after_s=STREAM_RETRY_AFTER_S,
                )
        return self._call(self._infer_bytes, blob, "ModelInfer")  # type: ignore[no-any-return]

    # -- Triton's streaming inference (ModelStreamInfer) -------------------------------------
    def _stream_roundtrip(self, blob: bytes, timeout: float, metadata: Any = None) -> memoryview | bytes:
        """Send ``blob`` on this thread's stream and wait up to ``timeout`` for its response.
        Failures of the stream raise :class:`_StreamFailure` (a ``grpc.RpcError``, so
        :meth:`_call` retries the transient ones on a fresh stream); an ``error_message``
        response raises :class:`RemoteInferenceError` (no status code: Triton's
        ModelStreamInferResponse carries only the message)."""
        owner = getattr(self._local, "owner", None)
        stream = owner.stream if owner is not None else None
        if stream is None or stream.broken:
            stream = self._open_stream(stream)
        try:
            data = stream.roundtrip(blob, timeout)
        except _StreamFailure:
            self._forget_stream(stream)
            raise
        rest, body = split_raw(data, STREAM_RESPONSE_FIELD)
        if rest:
            try:
                message = pb.ModelStreamInferResponse.FromString(rest).error_message
            except DecodeError as err:
                raise RemoteInferenceError(f"malformed stream response from the server: {err}") from None
            if message:
                raise RemoteInferenceError(f"{self.target} ModelStreamInfer: {message}")
        if len(body) != 1:
            raise RemoteInferenceError(
                f"malformed stream response from the server: {len(body)} infer_response fields"
            )
        return body[0]

    def _open_stream(self, old: _InferStream | None) -> _InferStream:
        if old is not None:
            self._forget_stream(old)
        if self._closed.is_set():
            raise RemoteInferenceError(f"{self.target}: the client is closed")
        requests = _RequestQueue()
        call = self._stream_bytes(iter(requests), metadata=self._metadata or None)
        stream = _InferStream(call, requests)
        with self._lock:
            self._streams.add(stream)
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch_deadlines, name="grpc-stream-deadlines", daemon=True
                )
                self._watchdog.start()
        # The calling thread's local storage holds the stream's owner; when the thread ends,
        # the owner goes and its finalizer closes the stream (which frees a server thread).
        owner = _StreamOwner(stream)
        weakref.finalize(owner, self._forget_stream, stream)
        self._local.owner = owner
        return stream

    def _forget_stream(self, stream: _InferStream) -> None:
        with self._lock:
            self._streams.discard(stream)
        stream.close()

    def _watch_deadlines(self) -> None:
        """Cancel a stream whose request is past its deadline (the caller then sees
        DEADLINE_EXCEEDED); checks every 1/20 of ``timeout_s``, at most every 50 ms."""
        interval = min(0.05, self.options.timeout_s / 20)
        while not self._closed.wait(interval):
            now = time.monotonic()
            with self._lock:
                late = [s for s in self._streams if 0 < s.deadline < now]
            for s in late:
                s.expire()

    # -- Triton's system shared-memory extension ---------------------------------------------
    def shm_register(self, name: str, key: str, byte_size: int, offset: int = 0) -> None:
        req = pb.SystemSharedMemoryRegisterRequest(name=name, key=key, offset=offset, byte_size=byte_size)
        self._call(self._stub.SystemSharedMemoryRegister, req, "SystemSharedMemoryRegister")

    def shm_unregister(self, name: str = "") -> None:
        req = pb.SystemSharedMemoryUnregisterRequest(name=name)
        self._call(self._stub.SystemSharedMemoryUnregister, req, "SystemSharedMemoryUnregister")

    def shm_status(self, name: str = "") -> dict[str, tuple[str, int, int]]:
        """Registered regions: name -> (key, offset, byte_size)."""
        req = pb.SystemSharedMemoryStatusRequest(name=name)
        r = self._call(self._stub.SystemSharedMemoryStatus, req, "SystemSharedMemoryStatus")
        return {k: (v.key, v.offset, v.byte_size) for k, v in r.regions.items()}

    def _shm_pool(self) -> _ShmPool:
        with self._shm_lock:
            if self._shm is None:
                self._shm = _ShmPool(self)
            return self._shm

    def close(self) -> None:
        with self._shm_lock:
            pool, self._shm = self._shm, None
        if pool is not None:
            pool.close()
        self._closed.set()
        with self._lock:
            streams, self._streams = self._streams, set()
            watchdog = self._watchdog
        for stream in streams:
            stream.close()
        if watchdog is not None:
            watchdog.join(timeout=1.0)
        self._channel.close()

    def __enter__(self) -> KServeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_request(
    model: str,
    version: str,
    inputs: Mapping[str, np.ndarray],
    outputs: list[str] | None = None,
    request_id: str = "",
) -> Any:
    req = pb.ModelInferRequest(model_name=model, model_version=version, id=request_id)
    for name, arr in inputs.items():
        a = np.asarray(arr)
        req.inputs.add(name=name, datatype=datatype_of(a.dtype), shape=list(a.shape))
        req.raw_input_contents.append(encode_raw(a))
    for name in outputs or ():
        req.outputs.add(name=name)
    return req


def serialize_request(
    model: str,
    version: str,
    inputs: Mapping[str, np.ndarray],
    outputs: list[str] | None = None,
    request_id: str = "",
) -> bytes:
    """The serialized ModelInferRequest of :func:`build_request`, built with one copy of
    each tensor (wire.py)."""
    req = pb.ModelInferRequest(model_name=model, model_version=version, id=request_id)
    blobs = []
    for name, arr in inputs.items():
        a = np.asarray(arr)
        req.inputs.add(name=name, datatype=datatype_of(a.dtype), shape=list(a.shape))
        blobs.append(raw_view(a))
    for name in outputs or ():
        req.outputs.add(name=name)
    return join_with_raw(req.SerializeToString(), REQUEST_RAW_FIELD, blobs)


def parse_response(data: bytes | memoryview) -> Arrays:
    """Output arrays of a serialized ModelInferResponse."""
    try:
        head, raws = split_raw(data, RESPONSE_RAW_FIELD)
        resp = pb.ModelInferResponse.FromString(head)
    except (ValueError, DecodeError) as err:
        raise RemoteInferenceError(f"malformed response from the server: {err}") from None
    return decode_response(resp, raws)


def decode_response(resp: Any, raws: Sequence[bytes | memoryview] | None = None) -> Arrays:
    """Output arrays of a ModelInferResponse (raw or typed contents), writable copies.
    ``raws``: the raw contents when they were split off the message (wire.py)."""
    raw = resp.raw_output_contents if raws is None else raws
    if raw and len(raw) != len(resp.outputs):
        raise RemoteInferenceError(
            f"server sent {len(raw)} raw_output_contents for {len(resp.outputs)} outputs"
        )
    out: Arrays = {}
    try:
        for i, t in enumerate(resp.outputs):
            if raw:
                arr = decode_raw(t.name, t.datatype, t.shape, raw[i])
            else:
                arr = decode_typed(t.name, t.datatype, t.shape, t.contents)
            out[t.name] = np.array(arr, copy=True)
    except TensorError as err:
        raise RemoteInferenceError(f"malformed response from the server: {err}") from None
    return out


class _RequestQueue:
    """The request iterator of one stream: blocks until a request is put; ``None`` ends it."""

    def __init__(self) -> None:
        self.q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def __iter__(self) -> Any:
        return iter(self.q.get, None)


class _StreamOwner:
    """Held only by one thread's local storage: the stream that thread uses."""

    def __init__(self, stream: _InferStream) -> None:
        self.stream = stream


class _StreamFailure(grpc.RpcError):  # type: ignore[misc]
    """A stream that broke (or timed out) before answering a request."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class _InferStream:
    """One open ModelStreamInfer call, used by one thread: request -> its response, in order."""

    def __init__(self, call: Any, requests: _RequestQueue) -> None:
        self.call = call
        self.requests = requests
        self.deadline = 0.0
        """monotonic time by which the request in flight must be answered; 0: none."""
        self.broken = False
        self._timed_out = False

    def roundtrip(self, blob: bytes, timeout: float) -> bytes:
        self._timed_out = False
        self.deadline = time.monotonic() + timeout
        try:
            self.requests.q.put(blob)
            return next(self.call)  # type: ignore[no-any-return]
        except StopIteration:
            self.broken = True
            raise _StreamFailure(grpc.StatusCode.UNAVAILABLE, "the server ended the inference stream") from None
        except grpc.RpcError as err:
            self.broken = True
            if self._timed_out:
                raise _StreamFailure(
                    grpc.StatusCode.DEADLINE_EXCEEDED, f"no response on the stream within {timeout} s"
                ) from None
            code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
            details = err.details() if hasattr(err, "details") else str(err)
            if code == grpc.StatusCode.CANCELLED:  # not by us: the server closed it (draining)
                code, details = grpc.StatusCode.UNAVAILABLE, f"the server cancelled the stream: {details}"
            raise _StreamFailure(code, details) from None
        finally:
            self.deadline = 0.0

    def expire(self) -> None:
        self._timed_out = True
        self.call.cancel()

    def close(self) -> None:
        self.broken = True
        self.requests.q.put(None)  # half-close: the server's request iterator ends
        self.call.cancel()


@dataclass
class _ShmSlot:
    """One caller's input and output regions (created, registered and reused as a pair)."""

    inp: OwnedRegion
    out: OwnedRegion | None
    registered: bool = False

    def close(self) -> None:
        self.inp.close()
        if self.out is not None:
            self.out.close()


class _ShmPool:
    """A client's shared-memory regions: one slot per concurrent call, created on first use
    and reused for every later call (regions are only re-created when an input outgrows its
    slot). Outputs with a fixed size in ModelMetadata go to the output region; any other
    output (a variable dimension, BYTES) comes back on the socket."""

    def __init__(self, client: KServeClient) -> None:
        self.client = client
        target = client.target
        extensions = client.server_metadata()["extensions"]
        if SHM_EXTENSION not in extensions:
            raise RemoteInferenceError(
                f"{target}: inference.shared_memory is on, but the server does not offer Triton's "
                f"system shared-memory extension ({SHM_EXTENSION!r} is not among its extensions "
                f"{extensions}); set inference.shared_memory = false to send tensors over the socket"
            )
        info = client.model_metadata()
        self.output_names = [m.name for m in info.outputs]
        self.out_layout: dict[str, tuple[int, int]] = {}
        end = 0
        for m in info.outputs:
            if m.datatype == "BYTES" or any(d < 0 for d in m.shape):
                continue
            try:
                itemsize = dtype_of(m.datatype).itemsize
            except TensorError as err:
                raise RemoteInferenceError(f"{target}: output {m.name!r} in ModelMetadata: {err}") from None
            nbytes = int(np.prod(m.shape, dtype=np.int64)) * itemsize
            self.out_layout[m.name] = (end, nbytes)
            end = aligned(end + nbytes)
        self.out_size = end
        self._free: list[_ShmSlot] = []
        self._all: list[_ShmSlot] = []
        self._lock = threading.Lock()

    def _acquire(self, need: int) -> _ShmSlot:
        with self._lock:
            for i, slot in enumerate(self._free):
                if slot.inp.byte_size >= need:
                    return self._free.pop(i)
            if self._free:  # too small for these inputs: retire one, make a bigger one
                small = self._free.pop()
                self._all.remove(small)
            else:
                small = None
        if small is not None:
            self._drop(small)
        inp = OwnedRegion(max(need, 1))
        try:
            out = OwnedRegion(self.out_size) if self.out_size else None
        except BaseException:
            inp.close()  # do not leave the input object in /dev/shm until garbage collection
            raise
        slot = _ShmSlot(inp, out)
        with self._lock:
            self._all.append(slot)
        return slot

    def _release(self, slot: _ShmSlot) -> None:
        with self._lock:
            if slot in self._all:
                self._free.append(slot)

    def _register(self, slot: _ShmSlot) -> None:
        for region in (slot.inp, slot.out):
            if region is None:
                continue
            try:
                self.client.shm_register(region.name, region.key, region.byte_size)
            except RemoteInferenceError as err:
                if err.code == grpc.StatusCode.ALREADY_EXISTS:
                    continue  # ours (unique random name): an earlier attempt got through
                if err.code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                    raise RemoteInferenceError(
                        f"{err} -- system shared memory needs the model server on this machine, "
                        "running as the same user; set inference.shared_memory = false for a "
                        "server elsewhere",
                        err.code,
                    ) from None
                raise
        slot.registered = True

    def _drop(self, slot: _ShmSlot) -> None:
        if slot.registered:
            for region in (slot.inp, slot.out):
                if region is not None:
                    try:
                        self.client.shm_unregister(region.name)
                    except RemoteInferenceError as err:
                        _log.warning("shm_unregister_failed", region=region.name, error=str(err))
        slot.close()

    def infer(self, inputs: Mapping[str, np.ndarray], outputs: list[str] | None, request_id: str) -> Arrays:
        views: list[tuple[str, str, list[int], memoryview | bytes, int]] = []
        end = 0
        for name, arr in inputs.items():
            a = np.asarray(arr)
            view = raw_view(a)
            views.append((name, datatype_of(a.dtype), list(a.shape), view, end))
            end = aligned(end + (len(view) if isinstance(view, bytes) else view.nbytes))
        slot = self._acquire(end)
        try:
            for _, _, _, view, offset in views:
                slot.inp.write(offset, view)
            t = self.client.target
            req = pb.ModelInferRequest(model_name=t.model, model_version=t.version, id=request_id)
            for name, datatype, shape, view, offset in views:
                tensor = req.inputs.add(name=name, datatype=datatype, shape=shape)
                n = len(view) if isinstance(view, bytes) else view.nbytes
                set_ref_params(tensor.parameters, TensorRef(slot.inp.name, n, offset))
            for name in outputs or self.output_names:
                wanted = req.outputs.add(name=name)
                if name in self.out_layout and slot.out is not None:
                    offset, n = self.out_layout[name]
                    set_ref_params(wanted.parameters, TensorRef(slot.out.name, n, offset))
            blob = req.SerializeToString()
            for attempt in (1, 2):
                if not slot.registered:
                    self._register(slot)
                try:
                    data = self.client._infer_serialized(blob)
                except RemoteInferenceError as err:
                    # NOT_FOUND on ModelInfer; a stream's error_message has no status code
                    lost = err.code in (grpc.StatusCode.NOT_FOUND, None) and "shared" in str(err).lower()
                    if attempt == 1 and lost:  # the server restarted and forgot the regions
                        _log.warning("shm_reregister", target=str(t))
                        with self._lock:
                            for s in self._all:
                                s.registered = False
                        continue
                    raise
                return self._parse(data, slot)
            raise AssertionError("unreachable")
        finally:
            self._release(slot)

    def _parse(self, data: bytes | memoryview, slot: _ShmSlot) -> Arrays:
        try:
            head, raws = split_raw(data, RESPONSE_RAW_FIELD)
            resp = pb.ModelInferResponse.FromString(head)
        except (ValueError, DecodeError) as err:
            raise RemoteInferenceError(f"malformed response from the server: {err}") from None
        if raws and len(raws) != len(resp.outputs):
            raise RemoteInferenceError(
                f"server sent {len(raws)} raw_output_contents for {len(resp.outputs)} outputs"
            )
        out: Arrays = {}
        try:
            for i, t in enumerate(resp.outputs):
                ref = tensor_ref(f"output {t.name!r}", t.parameters)
                if ref is None:
                    arr = (
                        decode_raw(t.name, t.datatype, t.shape, raws[i])
                        if raws
                        else decode_typed(t.name, t.datatype, t.shape, t.contents)
                    )
                    out[t.name] = np.array(arr, copy=True)
                    continue
                if slot.out is None or ref.region != slot.out.name or ref.offset + ref.byte_size > slot.out.byte_size:
                    raise TensorError(f"output {t.name!r} names shared memory this client did not give: {ref}")
                # one copy out of the region, into a writable array of the caller's own
                buf = np.empty(ref.byte_size, np.uint8)
                buf[:] = np.frombuffer(slot.out.mm, np.uint8, ref.byte_size, ref.offset)
                out[t.name] = decode_raw(t.name, t.datatype, t.shape, buf.data)
        except (TensorError, SharedMemoryError) as err:
            raise RemoteInferenceError(f"malformed response from the server: {err}") from None
        return out

    def close(self) -> None:
        with self._lock:
            slots, self._all, self._free = self._all, [], []
        for slot in slots:
            if slot.registered:
                for region in (slot.inp, slot.out):
                    if region is None:
                        continue
                    with suppress(grpc.RpcError):  # best effort, one short try: the server may be gone
                        self.client._stub.SystemSharedMemoryUnregister(
                            pb.SystemSharedMemoryUnregisterRequest(name=region.name),
                            timeout=1.0,
                            metadata=self.client._metadata,
                        )
            slot.close()


class RemoteBackend:
    """An :class:`~saferoad.ports.detector.InferenceBackend` over :class:`KServeClient`."""

    def __init__(self, client: KServeClient) -> None:
        self.client = client
        self._info: ModelInfo | None = None

    @classmethod
    def from_url(cls, url: str, options: ClientOptions | None = None) -> RemoteBackend:
        return cls(KServeClient(url, options))

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            self._info = self.client.model_metadata()
        return self._info

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.client.infer(inputs)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_spec(m) for m in self.info.inputs)

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_spec(m) for m in self.info.outputs)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RemoteBackend({str(self.client.target)!r})"


def _spec(m: TensorMeta) -> TensorSpec:
    dt = dtype_of(m.datatype)
    return TensorSpec(m.name, tuple(None if d < 0 else d for d in m.shape), "object" if dt.kind == "O" else dt.name)


def backend_from_config(cfg: Any) -> RemoteBackend:
    """The remote backend ``perception.detector = "grpc"`` uses (``saferoad.adapters.detectors``
    builds the ``ModelDetector`` around it): ``cfg.inference.url`` with the deadlines,
    retries, TLS and token of ``cfg.inference``."""
    return RemoteBackend(KServeClient(cfg.inference.url, ClientOptions.from_config(cfg.inference)))
