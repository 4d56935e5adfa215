"""``phone_use``: a phone held near the face or in the hand at the wheel, long enough, while
moving - the rule is ``domain/cabin/phone.py``'s (:class:`~saferoad.domain.cabin.phone.
PhoneMonitor`, thresholds ``PhoneParams``: the ``phone_*`` keys, ``CabinThresholds.phone``),
fed each cabin sample's phone (``phone_score``, ``phone_at``); registered here with its spec."""

from __future__ import annotations

from saferoad.domain.cabin.phone import PhoneParams, PhoneRule
from saferoad.domain.cabin.registry import CabinRule, register
from saferoad.domain.event_spec_base import EventSpec, Family
from saferoad.domain.types import EventType

SPEC = EventSpec(EventType.PHONE_USE, Family.CABIN, "Phone use", "handles a phone while driving",
                 10.0, "Motive phone 10", "#e11d48", ("cabin_camera", "speed"))
RULE = register(CabinRule("phone_use", PhoneParams, PhoneRule, (SPEC,)))
