"""Event sink port: where detected events go (a file, a gRPC stream, a database)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from saferoad.domain.types import Event


@runtime_checkable
class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...
