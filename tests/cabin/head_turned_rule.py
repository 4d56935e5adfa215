"""A cabin rule kept outside the tree, as ONE module: ``head_turned``, the head held turned
sideways from the driver's own straight-ahead pose for a while (a toy for the registry test,
``test_cabin_rule_registry.py``; not a rule saferoad ships).

Everything the rule needs is here: its event type (``EventType.define``: no line in
``domain/types.py``), its params (they become ``[cabin]`` keys with these defaults,
descriptions and bounds, and rows of docs/config.md), the type's spec, the rule (fed each
frame's sample, the monitor's derived state and the speed) and its registration. In the tree
the module would sit in ``domain/cabin/`` (found by the package on import), unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from saferoad.domain.cabin.monitor import CabinState
from saferoad.domain.cabin.registry import CabinRule, register
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.params import param
from saferoad.domain.types import Event, EventType, Severity

HEAD_TURNED = EventType.define("head_turned")


@dataclass(frozen=True, slots=True)
class HeadTurnedParams:
    head_turned_yaw_deg: float = param(
        25.0, "Head yaw (°) from the driver's straight-ahead pose that counts as turned.", gt=0,
    )
    head_turned_min_s: float = param(
        10.0, "How long the head must stay turned for a head_turned (s).", gt=0,
    )


class HeadTurnedRule:
    """Turned by ``head_turned_yaw_deg`` or more from the monitor's yaw baseline, with a face,
    for ``head_turned_min_s``; a frame without a face or a baseline ends the run."""

    def __init__(self, p: HeadTurnedParams) -> None:
        self.p = p
        self._start = math.nan
        self._last = math.nan
        self._peak = 0.0

    def update(self, sample: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        off = abs(sample.yaw_deg - state.yaw_baseline_deg) if sample.face else math.nan
        if math.isfinite(off) and off >= self.p.head_turned_yaw_deg:
            if not math.isfinite(self._start):
                self._start, self._peak = sample.t_s, 0.0
            self._last, self._peak = sample.t_s, max(self._peak, off)
            return []
        return self._close()

    def finish(self) -> list[Event]:
        return self._close()

    def _close(self) -> list[Event]:
        start, last = self._start, self._last
        self._start = self._last = math.nan
        if not math.isfinite(start) or last - start < self.p.head_turned_min_s - 1e-9:
            return []
        return [Event(
            type=HEAD_TURNED, start_s=start, end_s=last, severity=Severity.LOW, confidence=1.0,
            peak={"yaw_off_deg": round(self._peak, 2)}, evidence={"held_s": round(last - start, 3)},
        )]


SPEC = EventSpec(HEAD_TURNED, Family.CABIN, "Head turned", "keeps the head turned away",
                 2.5, "toy weight for the registry test", "#abcdef", ("cabin_camera",))
RULE = register(CabinRule("head_turned", HeadTurnedParams, HeadTurnedRule, (SPEC,)))
