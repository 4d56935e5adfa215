"""A motion rule kept outside the tree, as ONE module: ``sustained_braking``, a deceleration
held above a level for a while (a toy for the registry test, ``test_motion_rule_registry.py``;
not a rule saferoad ships).

Everything the rule needs is here: its event type (``EventType.define``: no line in
``domain/types.py``), its params (they become ``[motion]`` keys with these defaults,
descriptions and bounds, and rows of docs/config.md), the type's spec, the detector over the
engine's signals and its registration. In the tree the module would sit in
``domain/motion/rules/`` (found by the package on import), unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.motion.harsh import MotionSignals
from saferoad.domain.motion.regions import hysteresis_regions
from saferoad.domain.motion.rules.registry import MotionRule, register
from saferoad.domain.params import param
from saferoad.domain.types import Event, EventType, G, Severity

SUSTAINED_BRAKING = EventType.define("sustained_braking")


@dataclass(frozen=True, slots=True)
class SustainedBrakingParams:
    sustained_braking_g: float = param(
        0.2, "Deceleration (g) that counts towards a sustained braking.", gt=0, le=2,
    )
    sustained_braking_min_s: float = param(
        10.0, "How long the deceleration must be held for a sustained_braking (s).", gt=0,
    )


def detect_sustained_braking(sig: MotionSignals, p: SustainedBrakingParams, hz: float) -> list[Event]:
    """Every stretch where the car decelerates by ``sustained_braking_g`` or more for
    ``sustained_braking_min_s``; none in heading-free mode (no signed longitudinal axis)."""
    if sig.a_long is None:
        return []
    decel = -sig.a_long
    on = p.sustained_braking_g * G
    out = []
    for a, b in hysteresis_regions(decel, on, on, sig.t_s, p.sustained_braking_min_s, sig.valid):
        peak = float(np.max(decel[a:b]))
        out.append(Event(
            type=SUSTAINED_BRAKING, start_s=float(sig.t_s[a]), end_s=float(sig.t_s[b - 1]),
            severity=Severity.LOW, confidence=1.0,
            peak={"decel_mps2": round(peak, 3)},
            evidence={"held_s": round(float(sig.t_s[b - 1] - sig.t_s[a]), 3)},
        ))
    return out


SPEC = EventSpec(SUSTAINED_BRAKING, Family.MOTION, "Sustained braking", "brakes long and hard",
                 3.0, "toy weight for the registry test", "#654321", ("imu",))
RULE = register(MotionRule("sustained_braking", SustainedBrakingParams, detect_sustained_braking, (SPEC,)))
