"""One event fan-out: several :class:`~saferoad.ports.events.EventSink` at once.

``analyze`` hands every event to one sink, a :class:`FanOut` of the output folder's
``events.jsonl`` writer and whatever sinks the caller adds (the gRPC stream of ``saferoad
serve``, ...). An event reaches the sinks once it is final: after the last stage that may still
amend it (the road stage adds clip and snapshot paths to every event and the camera's
direction to IMU lane changes), so every sink receives the same events ``events.jsonl`` holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from saferoad.domain.types import Event
from saferoad.ports.events import EventSink


class FanOut:
    """Hands each event to every sink, in order; :meth:`close` closes them all (every one,
    even when one fails; the first error is raised after)."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = tuple(sinks)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def close(self) -> None:
        error: BaseException | None = None
        for sink in self.sinks:
            try:
                sink.close()
            except BaseException as err:  # close the others first
                error = error or err
        if error is not None:
            raise error
