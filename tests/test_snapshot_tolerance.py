"""The tolerant snapshot comparison itself: what another CPU may move passes, what a change
in behaviour moves fails."""

from __future__ import annotations

from .conftest import approx_equal


def test_a_value_on_a_rounding_boundary_passes() -> None:
    # female frame 15: yaw 23.49 here, 23.51 on an AVX-512 CPU (stored rounded, 23 vs 24)
    assert approx_equal({"yaw_deg": 23.51}, {"yaw_deg": 23.49}, default=0.0, rel=0.0, keys={"yaw_deg": 1.5})


def test_numbers_beyond_their_tolerance_fail() -> None:
    keys = {"yaw_deg": 1.5}
    assert not approx_equal({"yaw_deg": 25.1}, {"yaw_deg": 23.49}, default=0.0, rel=0.0, keys=keys)
    assert not approx_equal([{"ear": 0.30}], [{"ear": 0.33}], default=0.02, rel=0.0, keys={})
    assert approx_equal([{"ear": 0.31}], [{"ear": 0.32}], default=0.02, rel=0.0, keys={})


def test_structure_types_and_discrete_values_are_exact() -> None:
    kw = {"default": 1.0, "rel": 0.0, "keys": {}}
    assert not approx_equal({"n": 3}, {"n": 4}, **kw)  # ints exact unless their key is named
    assert approx_equal({"n": 3}, {"n": 4}, default=0.0, rel=0.0, keys={"n": 1.0})
    assert not approx_equal({"closed": True}, {"closed": False}, **kw)
    assert not approx_equal({"closed": 1}, {"closed": True}, **kw)
    assert not approx_equal({"cls": "car"}, {"cls": "truck"}, **kw)
    assert not approx_equal([1.0, 2.0], [1.0], **kw)
    assert not approx_equal({"a": 1.0}, {"a": 1.0, "b": 2.0}, **kw)
    assert not approx_equal({"a": None}, {"a": 1.0}, **kw)
    assert approx_equal({"a": None}, {"a": None}, **kw)


def test_relative_tolerance() -> None:
    assert approx_equal({"d": 101.5}, {"d": 100.0}, default=0.0, rel=0.02, keys={})
    assert not approx_equal({"d": 103.0}, {"d": 100.0}, default=0.0, rel=0.02, keys={})
