"""Task executor port: runs one function over many inputs, somewhere (a local process pool,
a Ray cluster), and hands back each result as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TaskExecutor(Protocol):
    """Runs ``fn(item)`` for every item; ``map_unordered`` yields ``(index, result)`` in
    completion order, or ``(index, exception)`` when the task itself could not run (a worker
    died, a cluster lost a node). ``fn`` must be a module-level function and items picklable."""

    name: str
    workers: int

    def __enter__(self) -> TaskExecutor: ...

    def __exit__(self, *exc: object) -> None: ...

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]: ...
