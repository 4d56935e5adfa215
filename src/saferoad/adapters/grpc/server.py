"""Hosting a gRPC service: one server with the standard health service (``grpc.health.v1``),
server reflection, an optional bearer token and TLS, and a graceful :meth:`GrpcServer.stop`.

Shared by the services under :mod:`saferoad.entrypoints.services` (``saferoad serve`` and
``saferoad serve-model``); it knows nothing of what they serve.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from saferoad.observability import get_logger

_log = get_logger("grpc.model_server")  # the logger name the servers' logs have always had


class _BearerAuth(grpc.ServerInterceptor):  # type: ignore[misc]
    """Require ``authorization: Bearer TOKEN`` on the inference RPCs (health and reflection
    stay open, as load balancers and grpcurl need them)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: Any, context: Any) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        method = handler_call_details.method or ""
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return continuation(handler_call_details)
        meta = dict(handler_call_details.invocation_metadata or ())
        got = meta.get("authorization")
        got_bytes = got.encode() if isinstance(got, str) else bytes(got or b"")
        if not hmac.compare_digest(got_bytes, self._expected):  # constant time: no timing leak
            return self._deny_stream if method.endswith("/ModelStreamInfer") else self._deny
        return continuation(handler_call_details)


class GrpcServer:
    """A started gRPC server with health checking and reflection; :meth:`stop` is graceful."""

    def __init__(
        self,
        server: grpc.Server,
        port: int,
        health_servicer: health.HealthServicer,
        services: list[str],
        on_close: Callable[[], None],
        on_stopping: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_stopping = on_stopping
        self.server = server
        self.port = port
        self.health = health_servicer
        self.services = services
        self._on_close = on_close
        self._stopped = threading.Event()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting calls, let calls in flight finish (up to ``grace_s``), then release
        the models. Health turns NOT_SERVING first, so load balancers drain the server."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._on_stopping()
        self.health.enter_graceful_shutdown()
        started = time.perf_counter()
        self.server.stop(grace_s).wait()
        self._on_close()
        _log.info("server_stopped", port=self.port, drain_s=round(time.perf_counter() - started, 3))

    def wait(self, timeout_s: float | None = None) -> bool:
        return bool(self.server.wait_for_termination(timeout_s))

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for s in ["", *self.services]:
            self.health.set(s, status)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to any interface


def start_server(
    register: Callable[[grpc.Server], None],
    services: list[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 16,
    max_message_bytes: int = 64 * 1024 * 1024,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
    token: str | None = None,
    on_close: Callable[[], None] = lambda: None,
    on_stopping: Callable[[], None] = lambda: None,
) -> GrpcServer:
    """Start a gRPC server with ``register``'s services, health and reflection on ``host:port``
    (``port=0``: an ephemeral port, see :attr:`GrpcServer.port`). Without a ``token`` it
    listens on loopback only: anything else is refused (``ValueError``)."""
    if not token and not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host} without a token: anyone who can reach it could use the "
            "service; pass --token-env VAR (clients send 'authorization: Bearer $VAR') or listen on 127.0.0.1"
        )
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),  # a second server on a busy port fails instead of sharing it
    ]
    interceptors = [_BearerAuth(token)] if token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        options=options,
        interceptors=interceptors,
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    address = f"{host}:{port}"
    try:
        if tls_cert is not None and tls_key is not None:
            creds = grpc.ssl_server_credentials([(tls_key, tls_cert)])
            bound = server.add_secure_port(address, creds)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError as err:
        raise ValueError(f"cannot listen on {address}: {err}") from None
    if bound == 0:
        raise ValueError(f"cannot listen on {address} (in use, or not an address of this machine)")
    server.start()
    out = GrpcServer(server, bound, health_servicer, services, on_close, on_stopping)
    out.set_serving(True)
    return out
