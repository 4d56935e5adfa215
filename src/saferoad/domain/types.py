"""Core data types shared by every part of saferoad.

Time is always seconds (``float``) from the recording's time zero; lengths are metres,
speeds metres per second, accelerations m/s², angular rates rad/s, angles degrees unless a
name says otherwise. Arrays are ``float64`` NumPy arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ImageArray = NDArray[np.uint8]

G = 9.80665
"""Standard gravity in m/s²."""


NORMAL_MANOEUVRE = "normal"
"""Label type of a labelled ordinary manoeuvre that must not be flagged."""


_TYPE_VALUE = re.compile(r"[a-z][a-z0-9_]*\Z")


class _EventTypeMeta(type):
    """The registry side of :class:`EventType`: iterating the class yields every defined type
    in definition order (the built-ins first), ``len`` counts them, ``in`` takes a type or its
    value and ``EventType["HARSH_BRAKING"]`` looks one up by name, as an ``Enum`` class does."""

    _registry: dict[str, EventType]

    def __iter__(cls) -> Iterator[EventType]:
        return iter(tuple(cls._registry.values()))

    def __len__(cls) -> int:
        return len(cls._registry)

    def __contains__(cls, item: object) -> bool:
        return isinstance(item, str) and str.__str__(item) in cls._registry

    def __getitem__(cls, name: str) -> EventType:
        for t in cls._registry.values():
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def __members__(cls) -> Mapping[str, EventType]:
        return MappingProxyType({t.name: t for t in cls._registry.values()})


class EventType(str, metaclass=_EventTypeMeta):
    """Every risky-driving event saferoad can report: an OPEN set of types (issue 16).

    A new type is defined by the module that emits it, beside its rule and its spec, with
    no line here::

        STOPPED_IN_LANE = EventType.define("stopped_in_lane")

    Why not an ``Enum``: an ``Enum`` cannot grow at run time, so every new type cost a line
    in this file. Why a ``str`` subclass with a registry (and not plain ``str``): typed code
    keeps naming the built-ins ``EventType.HARSH_BRAKING`` (class attributes, typed
    ``EventType`` for mypy --strict), a misspelt value read from a file still fails at once
    (``EventType("x")`` is a ``ValueError`` naming the known types) and everything that
    treated the ``StrEnum`` as a ``str`` is unchanged: equality with and hash of the value,
    ``str()``/format, JSON, Parquet, SQL, ``.value``, ``.name``, iteration, ``len``, ``in``,
    ``EventType["NAME"]`` and the ``repr`` (``<EventType.HARSH_BRAKING: 'harsh_braking'>``).

    Each value has ONE instance (``EventType("harsh_braking") is EventType.HARSH_BRAKING``),
    and it pickles by value (``EventType, (value,)``), so spawn workers and Ray get the same
    instance back; a worker must have imported the module that defines a non-built-in type,
    as it must to run its rule. :meth:`define` is idempotent (a re-imported module gets the
    same instance); two rules claiming one type are caught where their specs are gathered
    (``domain/event_specs.py``: "two specs for ..."). Consumers key on the registry at call
    time (``list(EventType)``, ``value in EventType``), never on a snapshot taken at import.
    """

    __slots__ = ()
    _registry: ClassVar[dict[str, EventType]] = {}
    _builtin: ClassVar[frozenset[str]] = frozenset()

    HARSH_BRAKING: ClassVar[EventType]
    HARSH_ACCELERATION: ClassVar[EventType]
    HARSH_CORNERING: ClassVar[EventType]
    AGGRESSIVE_LANE_CHANGE: ClassVar[EventType]
    TAILGATING: ClassVar[EventType]
    FORWARD_COLLISION_WARNING: ClassVar[EventType]
    ROLLING_STOP: ClassVar[EventType]
    STOP_SIGN_VIOLATION: ClassVar[EventType]
    RED_LIGHT: ClassVar[EventType]
    SPEEDING: ClassVar[EventType]
    DROWSINESS: ClassVar[EventType]
    DISTRACTION: ClassVar[EventType]
    CAMERA_OBSTRUCTED: ClassVar[EventType]
    LANE_DEPARTURE: ClassVar[EventType]
    PHONE_USE: ClassVar[EventType]

    def __new__(cls, value: object) -> EventType:
        """The defined type of this value (or the type itself); ``ValueError`` naming the
        known types otherwise, as the ``Enum`` did."""
        if isinstance(value, str):
            found = cls._registry.get(str.__str__(value))
            if found is not None:
                return found
        known = ", ".join(cls._registry)
        raise ValueError(
            f"{value!r} is not a valid EventType (known: {known}); a type defined at run time "
            "(EventType.define) exists once the module that defines it is imported, in this process too"
        )

    @classmethod
    def define(cls, value: str) -> EventType:
        """Define (or get, if defined already) the type of ``value``: lower-case snake case
        (``[a-z][a-z0-9_]*``), not ``"normal"`` (a label of an ordinary manoeuvre). It is then
        also the class attribute ``EventType.<VALUE UPPER CASE>``."""
        if not isinstance(value, str) or not _TYPE_VALUE.match(value):
            raise ValueError(f"event type {value!r}: a value is lower-case snake case ([a-z][a-z0-9_]*)")
        value = str.__str__(value)
        found = cls._registry.get(value)
        if found is not None:
            return found
        if value == NORMAL_MANOEUVRE:
            raise ValueError(f"event type {value!r}: reserved for labelled ordinary manoeuvres")
        name = value.upper()
        if hasattr(cls, name):
            raise ValueError(f"event type {value!r}: its name {name} is taken by EventType itself")
        made = str.__new__(cls, value)
        cls._registry[value] = made
        setattr(cls, name, made)
        return made

    @classmethod
    def undefine(cls, value: str) -> None:
        """Drop a type defined at run time (a test's toy rule); the built-ins stay."""
        if value in cls._builtin:
            raise ValueError(f"event type {value!r} is built in")
        if value not in cls._registry:
            return
        del cls._registry[value]
        name = value.upper()
        if isinstance(vars(cls).get(name), EventType):
            delattr(cls, name)

    @property
    def value(self) -> str:
        """The plain string (``"harsh_braking"``), as written to events.jsonl and the store."""
        return str.__str__(self)

    @property
    def name(self) -> str:
        """The attribute name (``"HARSH_BRAKING"``)."""
        return str.__str__(self).upper()

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)

    def __repr__(self) -> str:
        return f"<EventType.{self.name}: {str.__repr__(self)}>"

    def __reduce__(self) -> tuple[type[EventType], tuple[str]]:
        return (EventType, (str.__str__(self),))

    def __copy__(self) -> EventType:
        return self

    def __deepcopy__(self, memo: object) -> EventType:
        return self


for _value in (
    "harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change",
    "tailgating", "forward_collision_warning", "rolling_stop", "stop_sign_violation",
    "red_light", "speeding", "drowsiness", "distraction", "camera_obstructed",
    "lane_departure", "phone_use",
):
    EventType.define(_value)
EventType._builtin = frozenset(EventType._registry)
del _value


class Direction(StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def _json_safe(value: Any) -> Any:
    """Turn NumPy scalars and non-finite floats into JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One detected risky-driving event.

    ``peak`` holds the key figures (for example ``{"accel_mps2": -5.1, "accel_g": -0.52}``);
    ``evidence`` holds what a reviewer needs (clip window, key frame, lead track id, minimum
    headway ...). Both must hold JSON-serialisable values only.
    """

    type: EventType
    start_s: float
    end_s: float
    severity: Severity
    confidence: float
    direction: Direction | None = None
    peak: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise ValueError(f"event {self.type}: start_s and end_s must be finite")
        if self.end_s < self.start_s:
            raise ValueError(f"event {self.type}: end_s {self.end_s} < start_s {self.start_s}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"event {self.type}: confidence {self.confidence} not in [0, 1]")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """The ``events.jsonl`` representation (see docs/recording-format.md)."""
        out: dict[str, Any] = {
            "type": self.type.value,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "direction": self.direction.value if self.direction else None,
            "severity": self.severity.value,
            "confidence": round(self.confidence, 3),
            "peak": _json_safe(self.peak),
            "evidence": _json_safe(self.evidence),
        }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        direction = data.get("direction")
        return cls(
            type=EventType(data["type"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            severity=Severity(data.get("severity", Severity.LOW.value)),
            confidence=float(data.get("confidence", 1.0)),
            direction=Direction(direction) if direction else None,
            peak={str(k): float(v) for k, v in (data.get("peak") or {}).items() if v is not None},
            evidence=dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True, slots=True)
class EventLabel:
    """A ground-truth event (or a labelled normal manoeuvre, ``type == "normal"``)."""

    type: str
    start_s: float
    end_s: float
    direction: Direction | None = None

    @property
    def is_normal(self) -> bool:
        return self.type == NORMAL_MANOEUVRE

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "direction": self.direction.value if self.direction else None,
        }


@dataclass(frozen=True, slots=True)
class ImuSeries:
    """Inertial samples: ``acc`` (N, 3) in m/s² *including* gravity unless
    ``gravity_removed``; ``gyro`` (N, 3) in rad/s or ``None``.

    ``frame`` names the axes: ``"device"`` (unknown mounting), ``"earth"`` (z up, x/y
    horizontal but not aligned with the car) or ``"vehicle"`` (x forward, y left, z up).
    """

    t_s: FloatArray
    acc: FloatArray
    gyro: FloatArray | None = None
    frame: str = "device"
    gravity_removed: bool = False
    horizontal_highpass_tau_s: float | None = None
    """Set by a reader whose source high-passes the horizontal acceleration (first order, this
    time constant as a prior). The engine measures the constant from the data and reports it;
    it undoes the filter only when ``motion.undo_source_highpass`` is on (off by default)."""

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        if self.acc.shape != (n, 3):
            raise ValueError(f"acc shape {self.acc.shape} does not match {n} timestamps")
        if self.gyro is not None and self.gyro.shape != (n, 3):
            raise ValueError(f"gyro shape {self.gyro.shape} does not match {n} timestamps")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self) > 1 else 0.0


@dataclass(frozen=True, slots=True)
class GpsSeries:
    """GNSS fixes. ``speed_mps`` and ``course_deg`` are NaN where the source lacks them."""

    t_s: FloatArray
    lat: FloatArray
    lon: FloatArray
    speed_mps: FloatArray
    course_deg: FloatArray
    alt_m: FloatArray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True, slots=True)
class SpeedSeries:
    """Ego speed over time, with the name of its source (``gps``, ``can``, ``imu+gps``)."""

    t_s: FloatArray
    speed_mps: FloatArray
    source: str

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True, slots=True)
class TurnSignalSeries:
    """The turn signal (blinker) from the CAN bus: ``state`` -1 left, 0 off, 1 right, held
    from each sample to the next (``can.csv``'s optional ``turn_signal`` column)."""

    t_s: FloatArray
    state: FloatArray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True, slots=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels for an image of ``width`` x ``height``."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> CameraIntrinsics:
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=width, height=height)

    def scaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same camera seen at another resolution."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)


@dataclass(frozen=True, slots=True)
class CameraMount:
    """Where the road camera sits: height above the road, pitch down (+) and roll, in degrees,
    and lateral offset from the vehicle's centre line (left +)."""

    height_m: float = 1.3
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    lateral_offset_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame: ``image`` is H x W x 3, BGR, uint8."""

    index: int
    t_s: float
    image: ImageArray
    horizon_band: tuple[float, float] | None = None
    """Rows (top, bottom) of the band around the horizon where road users farther than a
    full-frame pass can see are, from the camera geometry (``geometry.horizon_band``);
    set by the perception pipeline, ``None`` where unknown."""

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


class RoadClass(StrEnum):
    """Road-user classes the pipeline reasons about (COCO classes map onto these)."""

    VEHICLE = "vehicle"
    PERSON = "person"
    BICYCLE = "bicycle"
    TRAFFIC_LIGHT = "traffic_light"
    STOP_SIGN = "stop_sign"


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections in one frame, in pixels of the source frame.

    ``xyxy`` (N, 4), ``scores`` (N,), ``classes`` (N,) as :class:`RoadClass` values.
    ``distance_m`` (N,) is filled only by detectors that know it (replay of simulated
    ground truth); NaN elsewhere. ``labels`` (N,) keeps the model's own class name (COCO
    ``car``/``truck``/``bus`` ... all map to ``vehicle``; distance priors use it);
    ``attributes`` (N,) per-object extras such as ``{"lamp": "red"}``.
    """

    xyxy: FloatArray
    scores: FloatArray
    classes: tuple[RoadClass, ...]
    distance_m: FloatArray | None = None
    labels: tuple[str, ...] | None = None
    attributes: tuple[dict[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        n = self.xyxy.shape[0]
        if self.xyxy.shape != (n, 4) or self.scores.shape != (n,) or len(self.classes) != n:
            raise ValueError("Detections arrays disagree in length")
        if self.distance_m is not None and self.distance_m.shape != (n,):
            raise ValueError("Detections distance_m disagrees in length")
        if self.labels is not None and len(self.labels) != n:
            raise ValueError("Detections labels disagree in length")
        if self.attributes is not None and len(self.attributes) != n:
            raise ValueError("Detections attributes disagree in length")

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), (), None, (), ())


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """A tracked road user in one frame."""

    track_id: int
    cls: RoadClass
    score: float
    xyxy: tuple[float, float, float, float]
    distance_m: float | None = None
    is_lead: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    """Per-class extras, for example ``{"lamp": "red"}`` for a traffic light."""
