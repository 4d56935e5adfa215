"""``lane_departure`` streamed with bounded state: the batch rule re-run on a window.

The batch rule (:func:`~saferoad.domain.lanes.rules.lane_events`) looks both ways: a departure
lasts until the line is no longer close (runs less than ``departure_merge_gap_s`` apart are
one), and a lane change found after it (its crossing, then the first centred frame) silences
it (``quiet_after_lane_change_s``). As the motion rules do on the device, the stream keeps the
last ``window_s`` of lane observations and of the final ego speed, re-runs the same code on
them every ``hop_s``, and reports each departure once, when it ended at least ``guard_s``
before the newest observation (the guard covers the look-ahead: merge gap, ``max_gap_s``,
``flicker_s``, a lane change's crossing and return to the lane centre) and the final ego speed
covers it (its frames must be above ``departure_min_speed_mps``).

State: the observations of the last ``window_s``, the final speed samples of that window.
Latency (sensor time): a departure is reported when both hold, within a hop: with the
recorder's speed final ``motion_guard_s`` after its time and ``guard_s`` equal to it, ``guard_s``
to ``guard_s + hop_s`` after its end.

Two honest differences from batch: the lane width that sets the "centred" band of a lane
change is the median of the window's frames (batch: the trip's), and a lane change whose
return to the centre lies outside the window is cut at its edge.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from saferoad.domain.lanes.geometry import LaneObservation
from saferoad.domain.lanes.rules import CameraLaneChange, LaneParams, lane_events
from saferoad.domain.types import Event, FloatArray


class StreamingLanes:
    """Lane observations (as frames arrive) and final ego speed samples in; final
    ``lane_departure`` events out, each once."""

    def __init__(self, params: LaneParams, window_s: float, guard_s: float, hop_s: float) -> None:
        if not window_s >= 3.0 * guard_s + hop_s:
            raise ValueError(f"lanes stream: window_s ({window_s}) must be at least 3 x guard_s + hop_s")
        self.params = params
        self.window_s = window_s
        self.guard_s = guard_s
        self.hop_s = hop_s
        self.obs: deque[LaneObservation] = deque()
        self.speed: deque[tuple[float, float]] = deque()
        self.final_t = -math.inf
        """The newest final speed sample's time."""
        self.newest_t = -math.inf
        """The newest observation's time."""
        self._cut = -math.inf
        """Departures ending at or before this have been reported (or dropped)."""
        self._last_run = -math.inf
        self.runs = 0
        self.observations = 0
        """Observations pushed (frames whose lanes were looked for)."""
        self.both_lines_seen = 0
        """Of them, frames where the detector gave both lines of the ego lane (before the rule's
        confidence threshold and consistency gate)."""
        self.max_observations = 0

    def push_observation(self, obs: LaneObservation) -> None:
        """One frame's lane observation, in time order."""
        self.obs.append(obs)
        self.observations += 1
        self.both_lines_seen += obs.left is not None and obs.right is not None
        self.newest_t = max(self.newest_t, obs.t_s)
        self.max_observations = max(self.max_observations, len(self.obs))

    def push_speed(self, t_s: FloatArray, v_mps: FloatArray) -> list[Event]:
        """Final ego speed samples (time order); returns the departures that became final."""
        for t, v in zip(t_s.tolist(), v_mps.tolist(), strict=True):
            if t > self.final_t:
                self.speed.append((t, v))
                self.final_t = t
        cut = min(self.newest_t - self.guard_s, self.final_t)
        if not self.speed or cut - self._last_run < self.hop_s:
            return []
        self._last_run = cut
        return self._run(cut)

    def lane_changes(self) -> list[CameraLaneChange]:
        """The lane changes the camera saw in the window (for the fusion with the IMU's)."""
        if not self.obs:
            return []
        return lane_events(list(self.obs), None, None, self.params).lane_changes

    def finish(self) -> list[Event]:
        """The end of the drive: every departure left."""
        return self._run(math.inf)

    def _run(self, cut: float) -> list[Event]:
        start = self.newest_t - self.window_s if math.isfinite(cut) else -math.inf
        while self.obs and self.obs[0].t_s < start:
            self.obs.popleft()
        # the speed a little before the window, so the first frames interpolate as batch does
        while len(self.speed) > 1 and self.speed[1][0] < start:
            self.speed.popleft()
        if not self.obs:
            self._cut = max(self._cut, cut)
            return []
        self.runs += 1
        t = np.fromiter((s[0] for s in self.speed), dtype=np.float64, count=len(self.speed))
        v = np.fromiter((s[1] for s in self.speed), dtype=np.float64, count=len(self.speed))
        res = lane_events(list(self.obs), t if len(t) else None, v if len(v) else None, self.params)
        out = [e for e in res.events if self._cut < e.end_s <= cut]
        self._cut = max(self._cut, cut)
        return out
