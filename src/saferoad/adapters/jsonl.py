"""Text and JSON read with the file (and line) in every error message: a whole text file
(:func:`read_text`), a whole JSON file (:func:`read_json`), or JSON lines one object at a
time (:func:`iter_jsonl`)."""

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
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}:{lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise error(f"{where}: not UTF-8 text (binary data in a JSON-lines file?)") from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise error(f"{where}: not valid JSON ({err.msg}, column {err.colno})") from None
            if not isinstance(obj, dict):
                raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
            yield JsonLine(lineno, where, obj)


def read_text(path: Path, *, error: Callable[[str], ValueError] = ValueError, missing: str = "missing") -> str:
    """The UTF-8 text of ``path``; ``error(message)`` naming the file when it is not there
    (``missing``: what to say) or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text ({err.reason})") from None


def read_json(path: Path, *, error: Callable[[str], ValueError] = ValueError, missing: str = "missing") -> Any:
    """The JSON value in ``path``. Raises ``error(message)`` (a ``ValueError`` by default)
    naming the file (``missing``: what to say when it is not there), or the file and line
    for text that is not UTF-8 or not valid JSON; checking the value is the caller's job."""
    text = read_text(path, error=error, missing=missing)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
