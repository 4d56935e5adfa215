"""``--set key=value`` parsing of scenario parameters: property tests and one test per
malformed case."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saferoad.domain.simulation import SCENARIOS
from saferoad.domain.simulation.params import Param, Params, coerce, resolve, split_assignment

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,12}(\.[a-z][a-z0-9_]{0,12})?", fullmatch=True)
PARAMS = (
    Param("speed_kmh", 50.0, "km/h", "a number"),
    Param("count", 3, "", "an integer"),
    Param("night", False, "", "a flag"),
    Param("direction", "left", "", "a choice", ("left", "right")),
    Param("name", "x", "", "free text"),
)


@given(KEYS, st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_split_assignment_round_trips_key_and_value(key: str, value: str) -> None:
    k, raw = split_assignment(f"{key}={value}")
    assert k == key
    assert raw == value.strip()


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_parameter_round_trips(x: float) -> None:
    got = resolve(PARAMS, [f"speed_kmh={x!r}"])["speed_kmh"]
    assert got == x


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_int_parameter_round_trips(n: int) -> None:
    assert resolve(PARAMS, [f"count={n}"])["count"] == n


@given(st.sampled_from(["true", "TRUE", "1", "yes", "on", "false", "0", "no", "off", "False"]))
def test_bool_parameter_accepts_usual_spellings(raw: str) -> None:
    assert resolve(PARAMS, [f"night={raw}"])["night"] is (raw.lower() in {"true", "1", "yes", "on"})


@given(st.lists(st.sampled_from(["speed_kmh=1.5", "count=2", "night=true", "direction=right"])))
def test_resolve_last_assignment_wins_and_defaults_stay(items: list[str]) -> None:
    values = resolve(PARAMS, items)
    assert set(values) == {p.name for p in PARAMS}
    if "speed_kmh=1.5" not in items:
        assert values["speed_kmh"] == 50.0
    assert values["name"] == "x"


def test_every_scenario_parameter_has_unit_and_description() -> None:
    for spec in SCENARIOS.values():
        for p in spec.all_params():
            assert p.description, f"{spec.name}.{p.name} has no description"
            assert isinstance(p.default, int | float | bool | str)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("speed_kmh", "expected KEY=VALUE"),
        ("=3", "bad key"),
        ("Speed=3", "bad key"),
        ("a.b.c=3", "bad key"),
        ("speed kmh=3", "bad key"),
        ("unknown=3", "unknown scenario parameter"),
        ("speed_kmh=fast", "expected a number"),
        ("speed_kmh=nan", "expected a finite number"),
        ("speed_kmh=inf", "expected a finite number"),
        ("count=1.5", "expected an integer"),
        ("night=maybe", "expected true or false"),
        ("direction=up", "expected one of left, right"),
    ],
)
def test_malformed_assignment_is_a_clear_error(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        resolve(PARAMS, [item])
    assert "--set" in str(err.value)


def test_unknown_key_lists_known_keys() -> None:
    with pytest.raises(ValueError, match="known: count, direction, name, night, speed_kmh"):
        resolve(PARAMS, ["speedkmh=3"])


def test_params_typed_access_refuses_wrong_type() -> None:
    p = Params({"a": 1.5, "b": True, "c": "x", "d": 2})
    assert p.f("a") == 1.5 and p.b("b") is True and p.s("c") == "x" and p.i("d") == 2
    assert p.f("d") == 2.0
    for getter, key in ((p.f, "b"), (p.i, "a"), (p.b, "a"), (p.s, "a")):
        with pytest.raises(TypeError):
            getter(key)


def test_coerce_float_accepts_exponent_and_integers() -> None:
    assert coerce(PARAMS[0], "1e2") == 100.0
    assert coerce(PARAMS[0], "7") == 7.0
    assert math.isclose(float(coerce(PARAMS[0], "-0.25")), -0.25)


@pytest.mark.parametrize("sets", [["decel_g=-0.5"], ["from_kmh=10", "to_kmh=50"]])
def test_physically_impossible_scenario_is_rejected(sets: list[str]) -> None:
    with pytest.raises(ValueError, match="harsh_braking"):
        SCENARIOS["harsh_braking"].make(sets)


def test_collision_is_rejected_with_the_time() -> None:
    with pytest.raises(ValueError, match="runs into vehicle 1 at t = "):
        SCENARIOS["lead_braking"].make(["headway_s=0.3", "ego_decel_g=0.3"])
