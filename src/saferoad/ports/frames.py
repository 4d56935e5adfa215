"""Frame source port: anything that yields decoded frames with timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from saferoad.domain.types import Frame


@runtime_checkable
class FrameSource(Protocol):
    """Yields frames in presentation order; ``t_s`` is seconds from the source's start."""

    fps: float
    width: int
    height: int

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
