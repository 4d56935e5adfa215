"""Safety events from camera and motion together: tailgating, forward-collision risk, stop
signs, red lights and speeding. Each rule is an incremental state machine (see ``base``);
``engine`` runs them streaming or batch over the same code."""

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
from saferoad.domain.road_events.signs import RedLightRule, StopSignRule
from saferoad.domain.road_events.speeding import SpeedingRule

__all__ = [
    "ForwardCollisionRule",
    "LeadState",
    "LeadTracker",
    "RedLightRule",
    "RoadEventEngine",
    "RoadEventParams",
    "RoadSample",
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
    "select_lead",
]
