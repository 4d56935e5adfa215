"""The turn signal (blinker) quiets the lane departure warning toward its side.

A driver who signals means to leave the lane: ISO 17361 (lane departure warning systems) lets
a system suppress the warning on such a sign of intention, openpilot's LDW
(``selfdrive/selfdrived/ldw.py``) stays silent while a blinker is on and for 5 s after it
(``recent_blinker``), and vehicle LDW systems (Mobileye among them) do not warn with the turn
signal on. saferoad quiets only the signalled side: a left blinker says nothing about a drift
to the right. A ``lane_departure`` toward side S is dropped when any part of it lies while the
signal showed S or within ``quiet_s`` after it went off.

The signal is sample-and-hold: a state holds from its sample to the next one (the last one
holds until the newest sample seen). :class:`TurnSignals` keeps only the changes (a blinker
changes a few times a minute), so a live recorder holds a bounded few; ``prune`` drops those
no event can still ask about.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from saferoad.domain.types import Direction, Event, EventType, FloatArray, TurnSignalSeries

LEFT, OFF, RIGHT = -1, 0, 1
"""``turn_signal`` values (``can.csv``): -1 left, 0 off, 1 right."""

SIDE = {Direction.LEFT: LEFT, Direction.RIGHT: RIGHT}


class TurnSignals:
    """The blinker's changes ``(t, state)`` in time order and the newest sample's time."""

    def __init__(self) -> None:
        self.changes: deque[tuple[float, int]] = deque()
        self.newest = -math.inf
        self.max_held = 0

    @classmethod
    def from_series(cls, series: TurnSignalSeries | None) -> TurnSignals:
        out = cls()
        if series is not None:
            out.add(series.t_s, series.state)
        return out

    def add(self, t_s: FloatArray, state: FloatArray) -> None:
        """Samples after the newest one (older or repeated ones are ignored)."""
        last = self.changes[-1][1] if self.changes else None
        for t, s in zip(np.asarray(t_s, dtype=np.float64).tolist(), np.asarray(state).tolist(), strict=True):
            if not t > self.newest:
                continue
            s = int(s)
            if s != last:
                self.changes.append((t, s))
                last = s
            self.newest = t
        self.max_held = max(self.max_held, len(self.changes))

    def signalled(
        self, direction: Direction | None, start_s: float, end_s: float, quiet_s: float, *, now_s: float | None = None
    ) -> bool:
        """Whether the signal showed ``direction`` at some moment in ``[start_s - quiet_s, end_s]``
        (on during the interval, or off less than ``quiet_s`` before it). ``now_s``: the last
        state holds at least until then (a live check, the newer samples not yet arrived)."""
        side = SIDE.get(direction) if direction is not None else None
        if side is None:
            return False
        ch = self.changes
        for k, (t, s) in enumerate(ch):
            if s != side:
                continue
            off = ch[k + 1][0] if k + 1 < len(ch) else max(self.newest, -math.inf if now_s is None else now_s)
            if t <= end_s and off + quiet_s >= start_s:
                return True
        return False

    def prune(self, before_s: float) -> None:
        """Forget what lies wholly before ``before_s`` (the state in force then is kept)."""
        ch = self.changes
        while len(ch) >= 2 and ch[1][0] <= before_s:
            ch.popleft()


def quiet_signalled(events: list[Event], signals: TurnSignals, quiet_s: float) -> tuple[list[Event], list[Event]]:
    """``(kept, dropped)``: the ``lane_departure`` events toward a side the turn signal showed
    (during them or ``quiet_s`` before) are dropped; every other event is kept."""
    kept: list[Event] = []
    dropped: list[Event] = []
    for ev in events:
        if ev.type is EventType.LANE_DEPARTURE and signals.signalled(ev.direction, ev.start_s, ev.end_s, quiet_s):
            dropped.append(ev)
        else:
            kept.append(ev)
    return kept, dropped


def chunk_turn(series: TurnSignalSeries | None, a: float, b: float) -> TurnSignalSeries | None:
    """The samples of ``series`` in ``[a, b)`` (a replay's step), None when there are none."""
    if series is None:
        return None
    i, j = np.searchsorted(series.t_s, [a, b], side="left").tolist()
    return TurnSignalSeries(series.t_s[i:j], series.state[i:j]) if j > i else None


class LaneQuiet:
    """The blinker's quiet as a recorder applies it, sample chunk by chunk: final departures
    toward a signalled side dropped (:meth:`final`, counted), and the test for a fast alert at
    its completing frame (:meth:`fast`: the signal known so far, the last state held up to that
    frame). Holds the changes of the last ``keep_s`` (a final departure is at most the motion
    window + guard old; plus the quiet)."""

    def __init__(self, quiet_s: float, keep_s: float) -> None:
        self.quiet_s = quiet_s
        self.keep_s = keep_s
        self.signals = TurnSignals()
        self.dropped = 0
        """Final departures dropped: the turn signal showed their side."""

    def push(self, chunk: TurnSignalSeries | None) -> None:
        if chunk is None or len(chunk) == 0:
            return
        self.signals.add(chunk.t_s, chunk.state)
        self.signals.prune(self.signals.newest - self.keep_s)

    def final(self, events: list[Event]) -> list[Event]:
        if not self.signals.changes:
            return events
        kept, dropped = quiet_signalled(events, self.signals, self.quiet_s)
        self.dropped += len(dropped)
        return kept

    def fast(self, ev: Event) -> bool:
        """Whether the provisional departure ``ev`` (ending at its completing frame) is quiet."""
        return self.signals.signalled(ev.direction, ev.start_s, ev.end_s, self.quiet_s, now_s=ev.end_s)
