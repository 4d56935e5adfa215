"""Safety events from camera and motion together: tailgating, forward-collision risk, stop
signs, red lights and speeding. Each rule is an incremental state machine (see ``base``);
``engine`` runs them streaming or batch over the same code.

Each rule module registers its rule, params and event specs (``registry``); this package
imports every module it holds, so a new rule module is found without editing a table.
"""

import importlib
import pkgutil

from saferoad.domain.road_events.base import LeadState, RoadSample, SpeedSample, fold
from saferoad.domain.road_events.engine import (
    RoadEventEngine,
    RoadEventParams,
    StreamingRoad,
    StreamingSpeeding,
    batch_road,
    batch_speeding,
)
from saferoad.domain.road_events.following import ForwardCollisionRule, TailgatingRule
from saferoad.domain.road_events.lamp import classify_lamp
from saferoad.domain.road_events.lead import LeadTracker, select_lead
from saferoad.domain.road_events.registry import (
    CommonParams,
    RoadRule,
    RuleContext,
    register,
    road_rules,
    unregister,
)
from saferoad.domain.road_events.signs import RedLightRule, StopSignRule
from saferoad.domain.road_events.speeding import SpeedingRule

for _mod in pkgutil.iter_modules(__path__):  # every rule module registers itself on import
    importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "CommonParams",
    "ForwardCollisionRule",
    "LeadState",
    "LeadTracker",
    "RedLightRule",
    "RoadEventEngine",
    "RoadEventParams",
    "RoadRule",
    "RoadSample",
    "RuleContext",
    "SpeedSample",
    "SpeedingRule",
    "StopSignRule",
    "StreamingRoad",
    "StreamingSpeeding",
    "TailgatingRule",
    "batch_road",
    "batch_speeding",
    "classify_lamp",
    "fold",
    "register",
    "road_rules",
    "select_lead",
    "unregister",
]
