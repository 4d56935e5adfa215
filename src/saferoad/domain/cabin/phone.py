"""``phone_use``: a phone held near the face or in the hand at the wheel, long enough, while
moving.

A phone detector (port ``saferoad.ports.phone``; saferoad ships COCO "cell phone" from the
YOLOX-nano model on the cabin frame) reports per cabin frame the best phone it sees and where
it is: ``face`` (its box centre within ``near_face`` face widths of the face's centre: held
to the ear or in front of the eyes) or ``hand`` (below the face, within ``hand_zone`` face
widths of it sideways: held in the driver's hands, at the wheel or in the lap). A phone
elsewhere (a passenger's, one on a mount or the seat) is ``None`` and does not count.

The rule: frames with a held phone scoring at least ``phone_min_score``; gaps of at most
``phone_max_gap_s`` (a frame or two the detector misses: a hand over the phone, motion blur)
are bridged; a run lasting at least ``phone_min_s`` with the ego at ``phone_min_speed_mps`` or
more throughout is one ``phone_use`` event. Published practice: commercial rules flag a phone
handled for 2 s or more (docs/events.md); driver-monitoring rules count at 5 km/h and above.
Without a speed the vehicle is taken to be moving, as for the other cabin rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.params import param
from saferoad.domain.types import Event, EventType, Severity

if TYPE_CHECKING:  # the monitor imports this module: a type only
    from saferoad.domain.cabin.monitor import CabinState

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class PhoneObservation:
    """The best phone of one cabin frame (``score`` 0 and ``position`` ``None``: none)."""

    frame: int
    t_s: float
    score: float = 0.0
    position: str | None = None
    """``face``, ``hand``, or ``None`` (no phone, or one the driver does not hold)."""
    box: Box | None = None


def phone_position(phone: Box, face: Box | None, width: int, *, near_face: float = 1.0, hand_zone: float = 2.0) -> str | None:
    """Where a phone box is relative to the driver's face box (pixels, xyxy): ``face``,
    ``hand`` or ``None`` (see the module docstring). Without a face: ``hand`` when the
    phone lies in the middle half of the frame (a driver-facing camera centres the driver)."""
    px, py = (phone[0] + phone[2]) / 2.0, (phone[1] + phone[3]) / 2.0
    if face is None:
        return "hand" if width * 0.25 <= px <= width * 0.75 else None
    fw = max(face[2] - face[0], 1.0)
    fx, fy = (face[0] + face[2]) / 2.0, (face[1] + face[3]) / 2.0
    if math.hypot(px - fx, py - fy) <= near_face * fw:
        return "face"
    if py > fy and abs(px - fx) <= hand_zone * fw:
        return "hand"
    return None


@dataclass(frozen=True, slots=True)
class PhoneParams:
    """The rule's thresholds, declared once: ``CabinThresholds.phone`` holds them as a group,
    so they are the ``[cabin]`` keys of the same names. ``client=False``: a client of
    ``saferoad serve`` could not set them before they were derived, and still cannot."""

    phone_min_score: float = param(
        0.35, "A phone counts at this detector score or more.", gt=0, lt=1, client=False,
    )
    phone_min_s: float = param(
        2.0, "phone_use: a phone held (near the face or in the hand) this long (commercial rules: "
        "phone handled >= 2 s).", gt=0, client=False,
    )
    phone_max_gap_s: float = param(
        0.5, "Frames without the phone for at most this long (a hand over it, blur) do not end the "
        "episode.", ge=0, client=False,
    )
    phone_min_speed_mps: float = param(
        5.0 / 3.6, "phone_use counts only at or above this speed, throughout the episode "
        "(driver-monitoring rules: >= 5 km/h).", ge=0, client=False,
    )


@dataclass
class PhoneMonitor:
    """Streaming ``phone_use``: :meth:`update` one observation at a time (with the ego speed
    then, ``None`` when unknown), :meth:`finish` at the end; bounded state (the open run)."""

    params: PhoneParams = field(default_factory=PhoneParams)
    frames: int = 0
    frames_with_phone: int = 0
    _start: float | None = None
    _last: float = -math.inf
    _peak: float = 0.0
    _positions: dict[str, int] = field(default_factory=dict)
    _slow: bool = False

    def update(self, obs: PhoneObservation, speed_mps: float | None) -> list[Event]:
        p = self.params
        self.frames += 1
        held = obs.position is not None and obs.score >= p.phone_min_score
        out: list[Event] = []
        if self._start is not None and obs.t_s - self._last > p.phone_max_gap_s:
            out += self._close()
        if held:
            self.frames_with_phone += 1
            if self._start is None:
                self._start, self._peak, self._positions, self._slow = obs.t_s, 0.0, {}, False
            self._last = obs.t_s
            self._peak = max(self._peak, obs.score)
            assert obs.position is not None
            self._positions[obs.position] = self._positions.get(obs.position, 0) + 1
            if speed_mps is not None and speed_mps < p.phone_min_speed_mps:
                self._slow = True
        return out

    def finish(self) -> list[Event]:
        return self._close() if self._start is not None else []

    def _close(self) -> list[Event]:
        start, end = self._start, self._last
        self._start = None
        assert start is not None
        if end - start < self.params.phone_min_s or self._slow:
            return []
        where = max(self._positions, key=lambda k: self._positions[k])
        return [Event(
            EventType.PHONE_USE, start, end, Severity.HIGH if end - start >= 10.0 else Severity.MEDIUM,
            min(1.0, self._peak),
            peak={"score": round(self._peak, 3), "duration_s": round(end - start, 3)},
            evidence={"position": where, "frames": dict(self._positions), "key_t_s": round(start, 3)},
        )]


class PhoneRule:
    """The registered ``phone_use`` rule (``rules/phone_use.py``) built for one stream: each
    cabin sample's phone (``phone_score``, ``phone_at``) through a :class:`PhoneMonitor`
    (:attr:`monitor`, whose frame counts the cabin summary reports)."""

    def __init__(self, params: PhoneParams) -> None:
        self.monitor = PhoneMonitor(params)

    def update(self, sample: CabinSample, state: CabinState, speed_mps: float | None) -> list[Event]:
        obs = PhoneObservation(sample.frame, sample.t_s, sample.phone_score, sample.phone_at)
        return self.monitor.update(obs, speed_mps)

    def finish(self) -> list[Event]:
        return self.monitor.finish()


def phone_events(
    observations: list[PhoneObservation], speed_at: list[float | None] | None = None, params: PhoneParams | None = None
) -> list[Event]:
    """Batch form of :class:`PhoneMonitor` (``speed_at``: the ego speed per observation)."""
    mon = PhoneMonitor(params or PhoneParams())
    out: list[Event] = []
    for i, o in enumerate(observations):
        out += mon.update(o, speed_at[i] if speed_at is not None else None)
    return out + mon.finish()
