"""Timing a constant-rate camera's frames by their index, not by their arrival.

A frame's arrival time is its capture time plus the decoder's latency, and that latency jitters:
on a busy machine frames arrive in bursts, and the road rules' kinematics (closing speed from
the change in distance between frames, time to collision) would see the bursts. A camera, or
ffmpeg's ``fps`` filter, delivers frames at a fixed period ``p``, so frame ``i`` was captured
at ``offset + i x p``. The offset is estimated as the *least-delayed* arrival - the minimum of
``arrival_i - i x p`` over the last ``window_s`` - the minimum-delay filter clock
synchronisation uses (NTP keeps the sample with the smallest round-trip delay for the same
reason: delays only ever add). So a frame is never timed after it arrived, bursts do not move
the clock, and a slow drift between the camera's rate and ``p`` is followed within the window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class FrameClock:
    period_s: float
    window_s: float = 10.0
    max_lag_s: float = 0.0
    """Largest arrival - assigned time seen (the decode latency above the least delay)."""
    _mins: deque[tuple[float, float]] = field(default_factory=deque, repr=False)
    """(arrival, offset candidate), increasing candidates: the window's minimum first."""

    def __post_init__(self) -> None:
        if not self.period_s > 0:
            raise ValueError("frame clock: period_s must be > 0")
        if not self.window_s > 0:
            raise ValueError("frame clock: window_s must be > 0")

    def reset(self) -> None:
        """A new stream (the decoder restarted, its indices no longer line up with the old)."""
        self._mins.clear()

    def time(self, index: int, arrival_s: float) -> float:
        """Capture time of frame ``index`` (on the arrival clock), never after ``arrival_s``."""
        est = arrival_s - index * self.period_s
        mins = self._mins
        while mins and mins[0][0] < arrival_s - self.window_s:
            mins.popleft()
        while mins and mins[-1][1] >= est:
            mins.pop()
        mins.append((arrival_s, est))
        t = mins[0][1] + index * self.period_s
        self.max_lag_s = max(self.max_lag_s, arrival_s - t)
        return t
