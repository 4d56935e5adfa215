"""Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips."""

from __future__ import annotations

from saferoad.config.base import Section


class RoadEventsConfig(Section):
    """Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips."""
