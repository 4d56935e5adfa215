"""Issue 16 "Must show": lint-imports keeps its contracts with no ignored import, and no cycle
between saferoad's modules.

The cycle check reads the same import graph import-linter does (grimp, which it ships),
function-level imports included: a deferred import that closes a loop is still a cycle.
``if TYPE_CHECKING:`` imports are left out: they never run (a type named both ways, as a rule
registry and the rules that register in it do, is not a cycle of loading)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import grimp

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def cycles(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each
    sorted; a module importing itself is not counted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, ())
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # back in the caller: carry the low-link up
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def test_no_import_cycle_between_modules() -> None:
    # cache_dir=None: a fresh read (a cached graph can outlive an edit made in the same second)
    graph = grimp.build_graph("saferoad", exclude_type_checking_imports=True, cache_dir=None)
    edges = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in graph.modules and i != m)
        for m in graph.modules
    }
    assert len(edges) > 200  # the whole package was read
    assert cycles(edges) == []


def test_the_cycle_check_finds_cycles() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"], "g": ["g"]}
    assert cycles(edges) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": ["b"], "b": ["c"], "c": []}) == []


def test_no_contract_ignores_an_import() -> None:
    """Issue 16 item 1: the contracts' ignore lists ended empty and stay so."""
    contracts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    by_name = {c["name"]: c for c in contracts}
    app = [c for c in contracts if c["source_modules"] == ["saferoad.application"]]
    assert any(c["type"] == "forbidden" and "saferoad.adapters" in c["forbidden_modules"] for c in app)
    assert {name: c["ignore_imports"] for name, c in by_name.items() if c.get("ignore_imports")} == {}
