"""``domain/plugin_registry.Registry``: the table the detector, recording-format and sink
registries share (their own behaviour: test_detector_plugins, test_recording_formats,
test_sink_plugins)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from saferoad.domain.plugin_registry import Registry


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    rank: int = 0


def test_another_modules_name_is_refused_and_the_same_module_replaces_its_entry() -> None:
    reg: Registry[Entry] = Registry("widget", origin=lambda e: e.module)
    first = reg.register("a", Entry("a", "pkg.one"))
    with pytest.raises(ValueError, match=r"^widget 'a' is already registered \(by pkg\.one\)$"):
        reg.register("a", Entry("a", "pkg.two"))
    assert reg.entries == {"a": first}
    again = reg.register("a", Entry("a", "pkg.one", rank=5))
    assert reg.entries == {"a": again} and again.rank == 5


def test_without_origin_a_name_is_replaced() -> None:
    reg: Registry[str] = Registry("detector")
    reg.register("x", "one")
    reg.register("x", "two")
    assert reg.entries == {"x": "two"}


def test_ordered_by_name_or_by_the_order_given_and_unregister_forgets() -> None:
    by_name: Registry[Entry] = Registry("widget")
    by_rank: Registry[Entry] = Registry("widget", order=lambda e: (e.rank, e.name))
    for e in (Entry("c", "m", 0), Entry("a", "m", 2), Entry("b", "m", 0)):
        by_name.register(e.name, e)
        by_rank.register(e.name, e)
    assert [e.name for e in by_name.ordered()] == ["a", "b", "c"]
    assert [e.name for e in by_rank.ordered()] == ["b", "c", "a"]
    by_name.unregister("b")
    by_name.unregister("never-registered")  # nothing
    assert [e.name for e in by_name.ordered()] == ["a", "c"]


def test_an_unknown_name_says_where_and_what_is_known() -> None:
    reg: Registry[int] = Registry("detector")
    reg.register("onnx", 1)
    reg.register("grpc", 2)
    assert reg.lookup("grpc", "perception.detector") == 2
    with pytest.raises(ValueError, match=r"^perception\.detector: unknown detector 'yolo' \(known: grpc, onnx\)$"):
        reg.lookup("yolo", "perception.detector")
    with pytest.raises(ValueError, match=r"^--sink 'x': unknown detector 'x' \(listed elsewhere\)$"):
        reg.lookup("x", "--sink 'x'", lambda: "listed elsewhere")
