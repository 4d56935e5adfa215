"""JSON lines read one object at a time, each with its ``file:line`` for error messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple


class JsonLine(NamedTuple):
    """One object of a JSON-lines file."""

    line: int
    """1-based line number in the file (blank lines count)."""
    where: str
    """``"FILE:LINE"``, the prefix of every error message about this object."""
    data: dict[str, Any]


def iter_jsonl(
    path: Path, *, error: Callable[[str], ValueError] = ValueError
) -> Iterator[JsonLine]:
    """Yield a :class:`JsonLine` for each non-blank line of ``path``.

    Raises ``error(message)`` (a ``ValueError`` by default) naming the file and line for a line
    that is not valid JSON or not a JSON object; checking the object's fields is the caller's
    job (``where`` is for its errors).
    """
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise error(f"{where}: not valid JSON ({err.msg}, column {err.colno})") from None
            if not isinstance(obj, dict):
                raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
            yield JsonLine(lineno, where, obj)
