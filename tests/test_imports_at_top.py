"""Issue 16 item 1: no import inside a function or method in src/saferoad unless a comment on
its line or the line above says why it is deferred (a heavy optional dependency loaded only
where it is needed, the CLI's start-up, a cycle). One comment may cover a block of imports
that follow each other. ``if TYPE_CHECKING:`` imports are at module level and not counted.

A module whose in-function imports are still uncommented is named in ``ALLOWED`` with the
reason; the list may only shrink (a listed module that has become clean fails the test, so its
entry is removed)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "saferoad"

# Shrinking allow-list: module (relative to src/saferoad) -> why it is not yet clean.
ALLOWED: dict[str, str] = {}

_GENERATED = ("_pb2.py", "_pb2_grpc.py")  # protoc output, not ours to edit

# A tool's pragma is not a reason: a type-ignore, noqa, fmt or pragma comment alone does not
# explain a deferred import (a reason may come before or after one).
_PRAGMA = re.compile(r"#\s*(?:noqa\b[:\sA-Z0-9,]*|type:\s*ignore(?:\[[^\]]*\])?|fmt:\s*\w+|pragma:[^#]*)")


def _says_why(comment_line: str) -> bool:
    """Whether ``comment_line`` holds a comment with words in it besides tool pragmas."""
    if "#" not in comment_line:
        return False
    rest = _PRAGMA.sub("", comment_line[comment_line.index("#") :])
    return any(ch.isalpha() for ch in rest.replace("#", " "))


# A CLI module whose every function-level import is deferred for start-up (guarded by
# tests/test_cli_startup.py) may say so once in its docstring instead of beside each import.
_CLI = SRC / "entrypoints" / "cli"
_STARTUP_MARKER = "deferred for start-up"


def _says_deferred_for_startup(path: Path, tree: ast.Module) -> bool:
    doc = ast.get_docstring(tree) or ""
    return path.is_relative_to(_CLI) and _STARTUP_MARKER in " ".join(doc.split())


def _function_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append(inner)
    return list({id(n): n for n in found}.values())  # nested functions walk twice


def unexplained(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    if _says_deferred_for_startup(path, tree):
        return []
    imports = _function_imports(tree)
    end_to_start = {n.end_lineno or n.lineno: n.lineno for n in imports}
    bad = []
    for node in sorted(imports, key=lambda n: n.lineno):
        first = node.lineno
        while first - 1 in end_to_start:  # the previous line ends another import: same block
            first = end_to_start[first - 1]
        candidates = {first - 1, node.lineno - 1}
        own = any(_says_why(lines[i - 1]) for i in range(node.lineno, (node.end_lineno or 0) + 1))
        above = any(i >= 1 and lines[i - 1].strip().startswith("#") and _says_why(lines[i - 1]) for i in candidates)
        if not (own or above):
            bad.append(node.lineno)
    return bad


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if not p.name.endswith(_GENERATED))


def test_function_level_imports_say_why() -> None:
    offenders = {}
    for path in _modules():
        rel = path.relative_to(SRC).as_posix()
        lines = unexplained(path)
        if lines and rel not in ALLOWED:
            offenders[rel] = lines
    assert not offenders, (
        "imports inside functions without a comment saying why (move them to the top, or say "
        f"beside them why they are deferred): {offenders}"
    )


def test_allow_list_only_shrinks() -> None:
    clean = [rel for rel in ALLOWED if not unexplained(SRC / rel)]
    assert not clean, f"now clean, remove from ALLOWED: {clean}"


def test_the_check_finds_an_unexplained_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text(
        "def f():\n"
        "    import math\n"
        "    return math.pi\n"
        "\n"
        "def g():\n"
        "    # deferred: heavy\n"
        "    import numpy\n"
        "    from numpy import linalg\n"
        "    return numpy, linalg\n"
        "\n"
        "def h():\n"
        "    import onnx  # deferred: optional\n"
        "    x = 1\n"
        "    import json\n"
        "    return onnx, x, json\n"
        "\n"
        "def k():\n"
        "    import yaml  # type: ignore[import-untyped]\n"
        "    # noqa: PLC0415\n"
        "    import toml\n"
        "    import csv  # noqa: PLC0415  deferred: only CSV input needs it\n"
        "    return yaml, toml, csv\n",
        encoding="utf-8",
    )
    assert unexplained(sample) == [2, 14, 18, 20]
    # the docstring form counts only for the CLI's modules
    sample.write_text('"""Imports here are deferred for start-up."""\n' + sample.read_text())
    assert unexplained(sample) == [3, 15, 19, 21]
