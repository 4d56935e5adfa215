"""In-cab alerts: what the driver is told, and when a repeat is held back.

An alert is raised when a streaming rule emits an event (the event is final). Alerts of one
type are debounced with a per-type grace period: after an alert, further events of the same
type within ``grace_s`` (sensor time, from the previous alert's event end) are recorded and
uploaded as usual but not announced again - a driver told about a harsh braking does not need
a second chime for the rebound of the same stop, and a tailgating driver is reminded once a
minute, not every few seconds. Collision-class events and drowsiness have a grace of 0: every
one is announced. Defaults and their sources: ``config.edge.alert_grace_s`` and docs/edge.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from saferoad.domain.event_specs import spec
from saferoad.domain.types import Event, EventType

DEFAULT_GRACE_S = 10.0
"""Grace period of a type the configuration does not list."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One in-cab alert: the event, its id, and when (sensor time) the rule completed it."""

    event: Event
    event_id: str
    trip_id: str
    device_id: str
    completed_s: float
    """Sensor time of the sample or frame whose arrival completed the rule."""
    provisional: bool = False
    """Raised before the event was final (an early alert); the spooled event may differ."""
    priority: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", spec(self.event.type).priority.value)

    def to_dict(self) -> dict[str, Any]:
        ev = self.event
        return {
            "event_id": self.event_id,
            "trip_id": self.trip_id,
            "device_id": self.device_id,
            "type": ev.type.value,
            "title": spec(ev.type).title,
            "priority": self.priority,
            "severity": ev.severity.value,
            "direction": ev.direction.value if ev.direction else None,
            "start_s": round(ev.start_s, 3),
            "end_s": round(ev.end_s, 3),
            "completed_s": round(self.completed_s, 3),
            "provisional": self.provisional,
        }


class AlertDebouncer:
    """Per-type grace periods. State: the last announced event end per type (bounded by the
    number of event types)."""

    def __init__(self, grace_s: Mapping[str, float] | None = None, default_s: float = DEFAULT_GRACE_S) -> None:
        self.grace_s = dict(grace_s or {})
        self.default_s = default_s
        self._last: dict[EventType, float] = {}
        self.held_back: dict[str, int] = {}
        """Events not announced because of a grace period, per type."""

    def grace(self, event_type: EventType) -> float:
        return float(self.grace_s.get(event_type.value, self.default_s))

    def should_alert(self, event: Event) -> bool:
        """True if ``event`` is to be announced (and remembers it); False within the grace
        period of the previous announced event of its type."""
        last = self._last.get(event.type)
        grace = self.grace(event.type)
        if grace > 0 and last is not None and event.start_s - last < grace:
            self.held_back[event.type.value] = self.held_back.get(event.type.value, 0) + 1
            return False
        self._last[event.type] = event.end_s
        return True
