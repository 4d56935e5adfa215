"""The cabin rules added to the driver monitor, registered by the modules that hold them
(issue 16 item 5), as the road and motion rules are.

A cabin rule module declares its params, the spec of each event type it emits and a rule fed
frame by frame, and registers it::

    HEAD_DOWN = EventType.define("head_down")

    @dataclass(frozen=True, slots=True)
    class HeadDownParams:
        head_down_pitch_deg: float = param(35.0, "Head pitched down more than this ...", gt=0)

    class HeadDownRule:
        def update(self, sample, state, speed_mps) -> list[Event]: ...
        def finish(self) -> list[Event]: ...

    register(CabinRule("head_down", HeadDownParams, HeadDownRule, (HEAD_DOWN_SPEC,)))

* :class:`~saferoad.domain.cabin.monitor.CabinMonitor` builds every registered rule (in
  registration order) and feeds each frame's sample, the state the monitor derived for it
  (eyes closed against the driver's baseline, PERCLOS, the straight-ahead pose; a
  :class:`~saferoad.domain.cabin.monitor.CabinState`) and the ego speed; the same code runs
  frame by frame on the edge and over a recording in batch;
* the ``[cabin]`` config keys are derived from the params dataclasses (``config/cabin.py`` by
  ``config/derive.py``), and read back with :func:`thresholds_from` into
  ``CabinThresholds.rules``; ``param(..., config=False)`` is a constant of the rule;
* the event types' specs join :data:`saferoad.domain.event_specs.SPECS`.

The monitor's own rules are registered the same way, one module each in ``rules/``
(``drowsiness``, ``distraction``, ``camera_obstructed``, ``phone_use``, first and in that
order), with ``CabinThresholds`` itself or a group it holds (``PhoneParams``) as their params:
those keys keep their place in ``[cabin]`` (as the harsh motion rule's ``HarshParams`` in
``EngineParams``) and the rule is built with them (:func:`rule_params`). The package
(``cabin/__init__.py``) imports every module it holds, so a new rule module is found without
editing a table. Parameter names are the flat keys (``cabin.<name>``): unique across
``CabinThresholds`` and every rule; a clash is a ``ValueError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.cabin.thresholds import CabinThresholds
from saferoad.domain.event_spec_base import EventSpec
from saferoad.domain.params import RuleParams, flat_params, held_or_registered, params_from
from saferoad.domain.rule_registry import RuleRegistry, claim_params
from saferoad.domain.types import Event

if TYPE_CHECKING:  # the monitor runs the registered rules: a type only
    from saferoad.domain.cabin.monitor import CabinState

P = TypeVar("P")


class CabinRuleState(Protocol):
    """A registered rule built for one stream: its own bounded state."""

    def update(self, sample: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        """One frame (in time order): the events that ended with it."""
        ...

    def finish(self) -> list[Event]:
        """The end of the stream: close what is open."""
        ...


@dataclass(frozen=True, slots=True)
class CabinRule(Generic[P]):
    """One registered cabin rule: its params, how to build it, the types it emits."""

    name: str
    params: type[P]
    """A frozen dataclass whose fields are declared with :func:`~saferoad.domain.params.param`."""
    build: Callable[[P], CabinRuleState]
    """A fresh rule (its own state) from its params."""
    specs: tuple[EventSpec, ...]
    """The spec of every event type it emits."""


_DEFAULT = CabinThresholds()


def held_params() -> tuple[type[Any], ...]:
    """The params classes whose keys ``CabinThresholds`` declares: itself and the groups it holds
    (``group()`` fields: ``PhoneParams``). A rule with one of these is a monitor's own rule."""
    return (CabinThresholds, *(
        type(getattr(_DEFAULT, f.name)) for f in dataclasses.fields(CabinThresholds)
        if f.default_factory is not dataclasses.MISSING
    ))


def _check_names(rules: list[CabinRule[Any]]) -> None:
    owners = {name: "CabinThresholds" for name, *_ in flat_params(CabinThresholds)}
    held = held_params()
    for rule in rules:
        if rule.params in held:
            continue  # its names are CabinThresholds' (the monitor's thresholds or a group of them)
        claim_params(owners, f"cabin rule {rule.name!r}", (name for name, *_ in flat_params(rule.params)))


_REGISTRY: RuleRegistry[CabinRule[Any]] = RuleRegistry("cabin", _check_names)
_RULES = _REGISTRY.rules


def register(rule: CabinRule[Any]) -> CabinRule[Any]:
    """Add a rule (after those registered before it). Another rule under a taken name, a rule
    without specs or a parameter name already declared is an error."""
    return _REGISTRY.register(rule)


def unregister(name: str) -> None:
    """Drop a rule (a test's rule, when the test ends)."""
    _REGISTRY.unregister(name)


def cabin_rules() -> list[CabinRule[Any]]:
    """The registered rules in registration order."""
    return list(_RULES.values())


def registry_version() -> int:
    """Changes whenever a rule is registered or dropped (for caches derived from the rules)."""
    return _REGISTRY.version


def param_classes() -> list[type[Any]]:
    """The params classes of the registered rules that ``CabinThresholds`` does not declare:
    their keys follow ``CabinThresholds``' in ``[cabin]``."""
    held = held_params()
    return [r.params for r in _RULES.values() if r.params not in held]


def thresholds_from(source: object, **given: Any) -> CabinThresholds:
    """``CabinThresholds`` read from ``source`` (the ``[cabin]`` section: an attribute per key)
    by :func:`~saferoad.domain.params.params_from`, with the params of every registered rule
    that ``CabinThresholds`` does not declare read likewise into ``CabinThresholds.rules``."""
    held = held_params()
    rules = RuleParams(tuple((r.name, params_from(r.params, source)) for r in _RULES.values() if r.params not in held))
    return params_from(CabinThresholds, source, rules=rules, **given)


def rule_params(th: CabinThresholds, rule: CabinRule[P]) -> P:
    """The params ``rule`` is built with: ``th`` itself (a monitor's rule reading its
    thresholds), the group of ``th`` of its params class (``th.phone``), else its params in
    ``th.rules`` (its defaults if absent)."""
    if rule.params is CabinThresholds:
        whole: P = th  # type: ignore[assignment]  # P is CabinThresholds here
        return whole
    return held_or_registered(th, th.rules, rule.name, rule.params)


def build_rules(th: CabinThresholds) -> list[tuple[CabinRule[Any], CabinRuleState]]:
    """Every registered rule, in registration order, built with its params (:func:`rule_params`)."""
    return [(r, r.build(rule_params(th, r))) for r in _RULES.values()]
