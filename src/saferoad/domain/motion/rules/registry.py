"""The motion rules, registered by the modules that hold them (issue 16 item 5), as the road
rules are (``domain/road_events/registry.py``).

A motion rule module declares its params, the spec of each event type it emits and a detector
over the engine's signals, and registers it::

    JERK = EventType.define("harsh_jerk")

    @dataclass(frozen=True, slots=True)
    class JerkParams:
        jerk_g_per_s: float = param(1.0, "Rate of change of acceleration ...", gt=0)

    def detect_jerk(sig: MotionSignals, p: JerkParams, hz: float) -> list[Event]: ...

    register(MotionRule("jerk", JerkParams, detect_jerk, (JERK_SPEC,)))

* the engine (``engine.run_engine``, and so ``streaming.StreamingMotion``, which re-runs it on
  its window) runs every registered rule on the same :class:`~saferoad.domain.motion.harsh.
  MotionSignals` (:func:`run_rules`), in registration order, and sorts the events by start;
* the ``[motion]`` config keys are derived from the params dataclasses (their field names,
  defaults, descriptions and bounds: ``config/motion.py`` by ``config/derive.py``), and read
  back with :func:`engine_params_from`; ``param(..., config=False)`` is a constant of the rule;
* the event types' specs join :data:`saferoad.domain.event_specs.SPECS`.

The harsh rule's params (``HarshParams``) are a group of ``EngineParams`` (the manoeuvre
grading reads its thresholds too) and keep their place in ``[motion]``; every other rule's
params ride on ``EngineParams.rules`` (:class:`~saferoad.domain.params.RuleParams`).
Parameter names are the flat keys (``motion.<name>``): unique across the engine's and every
rule's params; a clash is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from saferoad.domain.event_spec_base import EventSpec
from saferoad.domain.motion.params import EngineParams, engine_groups
from saferoad.domain.params import RuleParams, flat_params, params_from
from saferoad.domain.rule_registry import RuleRegistry, claim_params
from saferoad.domain.types import Event

if TYPE_CHECKING:  # harsh.py registers from this module: a type only
    from saferoad.domain.motion.harsh import MotionSignals

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class MotionRule(Generic[P]):
    """One registered motion rule: its params, its detector, the types it emits."""

    name: str
    params: type[P]
    """A frozen dataclass whose fields are declared with :func:`~saferoad.domain.params.param`."""
    detect: Callable[[MotionSignals, P, float], list[Event]]
    """Every event of the rule on the signals sampled at ``hz`` (vectorised, no state: the
    streaming engine re-runs it on its window and keeps what is final)."""
    specs: tuple[EventSpec, ...]
    """The spec of every event type it emits."""


def _check_names(rules: list[MotionRule[Any]]) -> None:
    owners = {name: "EngineParams" for name, *_ in flat_params(EngineParams)}
    held = engine_groups()
    for rule in rules:
        if rule.params in held:
            continue  # its names are EngineParams' (a group the engine holds)
        claim_params(owners, f"motion rule {rule.name!r}", (name for name, *_ in flat_params(rule.params)))


_REGISTRY: RuleRegistry[MotionRule[Any]] = RuleRegistry("motion", _check_names)
_RULES = _REGISTRY.rules


def register(rule: MotionRule[Any]) -> MotionRule[Any]:
    """Add a rule (after those registered before it). Another rule under a taken name, a rule
    without specs or a parameter name already declared is an error."""
    return _REGISTRY.register(rule)


def unregister(name: str) -> None:
    """Drop a rule (a test's rule, when the test ends)."""
    _REGISTRY.unregister(name)


def motion_rules() -> list[MotionRule[Any]]:
    """The registered rules in registration order."""
    return list(_RULES.values())


def registry_version() -> int:
    """Changes whenever a rule is registered or dropped (for caches derived from the rules)."""
    return _REGISTRY.version


def extra_param_classes() -> list[type[Any]]:
    """The params classes of the registered rules that ``EngineParams`` does not hold as a
    group: their keys follow the engine's in ``[motion]``."""
    held = engine_groups()
    return [r.params for r in _RULES.values() if r.params not in held]


def engine_params_from(source: object, **given: Any) -> EngineParams:
    """``EngineParams`` read from ``source`` (the ``[motion]`` section: an attribute per key)
    by :func:`~saferoad.domain.params.params_from`, with every registered rule's params that
    the engine does not group read likewise into ``EngineParams.rules``."""
    held = engine_groups()
    rules = RuleParams(tuple((r.name, params_from(r.params, source)) for r in _RULES.values() if r.params not in held))
    return params_from(EngineParams, source, rules=rules, **given)


def run_rules(sig: MotionSignals, params: EngineParams, hz: float) -> list[Event]:
    """Every registered rule's events on ``sig`` (sampled at ``hz``), sorted by start and type."""
    events = [e for rule in _RULES.values() for e in rule.detect(sig, params.of(rule), hz)]
    return sorted(events, key=lambda e: (e.start_s, e.type.value))
