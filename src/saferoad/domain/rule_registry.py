"""The bookkeeping the three rule registries share: road (``domain/road_events/registry.py``),
motion (``domain/motion/rules/registry.py``) and cabin (``domain/cabin/registry.py``).

Each family's registry module keeps its own rule type, its own check of parameter names and its
public functions (``register``, ``unregister``, ``registry_version``, the rule list); what is
the same for all three lives here once: rules by name in registration order, a taken name or a
rule without specs refused, and a version that changes whenever a rule comes or goes (the
caches derived from the rules - ``SPECS``, the derived config sections - key on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from saferoad.domain.event_spec_base import EventSpec


class NamedRule(Protocol):
    """What the registry needs of a rule: its name and the specs of the types it emits."""

    @property
    def name(self) -> str: ...

    @property
    def specs(self) -> tuple[EventSpec, ...]: ...


R = TypeVar("R", bound=NamedRule)


def rule_origin(family: str, rule: NamedRule) -> str:
    """``<family> rule '<name>' (<module>)``: the module that declared the rule's params (where
    a rule and its specs are written), for errors that must point at the file to fix."""
    module = getattr(getattr(rule, "params", type(rule)), "__module__", "?")
    return f"{family} rule {rule.name!r} ({module})"


def claim_params(owners: dict[str, str], claimant: str, names: Iterable[str], *, owner: str | None = None) -> None:
    """Record ``claimant`` (``motion rule 'x'``) in ``owners`` as the declarer of each parameter
    name in ``names``; a name already there is a ``ValueError``: ``<claimant>: parameter 'n' is
    already declared by <its owner>`` (the families' checks of parameter names). ``owner``: what
    is recorded instead of ``claimant`` (the road family records the bare rule name, which its
    messages show and its params are split by)."""
    for name in names:
        if name in owners:
            raise ValueError(f"{claimant}: parameter {name!r} is already declared by {owners[name]}")
        owners[name] = claimant if owner is None else owner


_REGISTRIES: list[RuleRegistry[NamedRule]] = []
"""Every family's registry, so that one rule's types are checked against every family's."""


class RuleRegistry(Generic[R]):
    """The rules of one family (``family`` names it in errors). ``check_names(rules)`` raises
    a ``ValueError`` when the rules, the new one last, declare a parameter name twice."""

    def __init__(self, family: str, check_names: Callable[[list[R]], object]) -> None:
        self.family = family
        self._check_names = check_names
        self.rules: dict[str, R] = {}
        """By name, in registration order (the same dict for the registry's whole life)."""
        self.version = 0
        """Changes whenever a rule is registered or dropped."""
        _REGISTRIES.append(self)  # type: ignore[arg-type]  # read only through NamedRule

    def register(self, rule: R) -> R:
        """Add ``rule`` after those registered before it (the same rule again: a no-op that
        still counts as a change). Another rule under a taken name, a rule without specs or a
        parameter name already declared is a ``ValueError``; so is an event type another rule
        (of any family) already emits, naming both rules and their modules."""
        old = self.rules.get(rule.name)
        if old is not None and old != rule:
            raise ValueError(f"{self.family} rule {rule.name!r} is already registered")
        if not rule.specs:
            raise ValueError(f"{self.family} rule {rule.name!r}: declare the spec of every event type it emits")
        self._check_names([*(r for r in self.rules.values() if r.name != rule.name), rule])
        self._check_types(rule)
        self.rules[rule.name] = rule
        self.version += 1
        return rule

    def _check_types(self, rule: R) -> None:
        types = [s.type.value for s in rule.specs]
        for t in types:
            if types.count(t) > 1:
                raise ValueError(f"{rule_origin(self.family, rule)} declares two specs for {t}")
        for reg in _REGISTRIES:
            for other in reg.rules.values():
                if reg is self and other.name == rule.name:
                    continue
                taken = {s.type.value for s in other.specs}.intersection(types)
                if taken:
                    raise ValueError(
                        f"{rule_origin(self.family, rule)} emits {', '.join(sorted(taken))}, already emitted by "
                        f"{rule_origin(reg.family, other)}: one rule per event type"
                    )

    def unregister(self, name: str) -> None:
        """Drop the rule ``name`` (a test's rule, when the test ends); unknown: nothing."""
        if self.rules.pop(name, None) is not None:
            self.version += 1
