"""The inertial engine's parameters, each declared once (issue 16 items 5-6).

Every field carries its default, its description and its bounds
(:func:`~saferoad.domain.params.param`); the ``[motion]`` config section is derived from
:class:`EngineParams` (``config/motion.py``: the harsh thresholds and the manoeuvre bands are
:func:`~saferoad.domain.params.group` fields, so their keys sit in the same flat table) and the
motion stage turns the section back into :class:`EngineParams` with one generic conversion
(:func:`~saferoad.domain.params.params_from`). Defaults follow published practice
(docs/events.md cites each one; the sources are gathered in
``../shared/design/published-practice.md``).

A module of its own, apart from the rules, so the config layer can derive the section without
importing the motion engine and SciPy (over a second of every CLI start-up); ``harsh``,
``manoeuvres`` and ``engine`` re-export what they used to define.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from saferoad.domain.motion.bands import KINDS, Kind
from saferoad.domain.params import RuleParams, group, held_or_registered, param
from saferoad.domain.types import FloatArray

if TYPE_CHECKING:  # the registry imports this module: a type only
    from saferoad.domain.motion.rules.registry import MotionRule

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class HarshParams:
    """Thresholds of the harsh-driving rules (``harsh.detect_harsh``)."""

    braking_g: float = param(
        0.38, "Harsh braking threshold in g (GPS Insight light vehicles 0.38 g; DOT 0.45 g; "
        "Digital Matter 4.4 m/s²).", gt=0, le=2,
    )
    acceleration_g: float = param(0.37, "Harsh acceleration threshold in g (GPS Insight 0.37 g).", gt=0, le=2)
    cornering_g: float = param(
        0.38, "Harsh cornering lateral threshold in g (GPS Insight 0.38 g; Digital Matter 5.5 m/s² "
        "≈ 0.56 g).", gt=0, le=2,
    )
    lane_change_g: float = param(
        0.3, "Peak lateral g of each half of an aggressive lane change (±0.3 g, the Japanese "
        "telematics platform's figure).", gt=0, le=2,
    )
    min_duration_s: float = param(0.1, "The threshold must be held this long (Digital Matter: 100 ms).", ge=0)
    hysteresis: float = param(
        0.17, "An event ends when the signal falls below (1 - hysteresis) x threshold (Digital Matter 17%).",
        ge=0, lt=1,
    )
    merge_gap_s: float = param(
        1.5, "Pulses closer than this form one manoeuvre (a braking's opposite pulse, the two halves "
        "of a lane change).", ge=0,
    )
    rebound_s: float = param(
        4.0, "Heading-free mode: a longitudinal pulse opposite to the previous event's within this "
        "time is that event's release pulse, not a second event (high-passed logs, ~1 s).", ge=0,
    )
    turn_min_deg: float = param(
        30.0, "Heading change (integrated yaw rate) that makes a lateral manoeuvre a turn rather than "
        "a lane change, which leaves the heading unchanged.", gt=0,
    )
    turn_rate_dps: float = param(
        8.0, "Peak yaw rate (°/s) above which a manoeuvre is lateral in heading-free mode (a lane "
        "change at highway speed turns at 5-10 °/s).", gt=0,
    )
    severity_medium: float = param(1.2, "Peak / threshold ratio from which an event is of medium severity.", gt=1)
    severity_high: float = param(1.5, "Peak / threshold ratio from which an event is of high severity.", gt=1)
    min_speed_mps: float = param(
        2.0, "Where speed is known, no event is decided below this speed (parking, standstill).", ge=0,
    )


@dataclass(frozen=True, slots=True)
class BandEdges:
    """Lower edges (g) of the ``moderate`` and ``hard`` bands of one kind; ``harsh`` starts at
    the kind's event threshold."""

    moderate_g: float
    hard_g: float

    def check(self, kind: Kind, harsh_g: float) -> None:
        if not 0 < self.moderate_g < self.hard_g < harsh_g:
            k = kind.value
            raise ValueError(
                f"motion.{k}_moderate_g ({self.moderate_g:g}) < motion.{k}_hard_g ({self.hard_g:g}) "
                f"< motion.{k}_g ({harsh_g:g}) must hold: the bands ascend to the harsh threshold"
            )


@dataclass(frozen=True, slots=True)
class ManoeuvreBands:
    """The lower edges of the graded manoeuvres' bands, ``<kind>_moderate_g`` and
    ``<kind>_hard_g`` for each kind (``manoeuvres.py`` explains the figures)."""

    braking_moderate_g: float = param(
        0.23, "Graded manoeuvres: a braking from this peak (g) counts as moderate in summary.json "
        "manoeuvres (Verizon Connect: 5 mph lost in 1 s, 0.23 g).", gt=0, le=2,
    )
    braking_hard_g: float = param(
        0.32, "Graded manoeuvres: a braking from this peak (g) counts as hard, below braking_g, where "
        "it is harsh and an event (Progressive's hard brake and Verizon's moderate one: 7 mph in "
        "1 s, 0.32 g).", gt=0, le=2,
    )
    acceleration_moderate_g: float = param(
        0.23, "Graded manoeuvres: moderate acceleration from this peak (g); as braking (speed change "
        "per second, Verizon / Bouncie).", gt=0, le=2,
    )
    acceleration_hard_g: float = param(
        0.32, "Graded manoeuvres: hard acceleration from this peak (g), below acceleration_g.", gt=0, le=2,
    )
    cornering_moderate_g: float = param(
        0.23, "Graded manoeuvres: moderate turn from this lateral peak (g); GPS Insight uses one level "
        "for braking, acceleration and turning.", gt=0, le=2,
    )
    cornering_hard_g: float = param(
        0.32, "Graded manoeuvres: hard turn from this lateral peak (g), below cornering_g.", gt=0, le=2,
    )
    lane_change_moderate_g: float = param(
        0.18, "Graded manoeuvres: moderate lane change from this lateral peak (g): lane_change_g x "
        "0.23/0.38, braking's ratio.", gt=0, le=2,
    )
    lane_change_hard_g: float = param(
        0.25, "Graded manoeuvres: hard lane change from this lateral peak (g): lane_change_g x "
        "0.32/0.38, braking's ratio.", gt=0, le=2,
    )

    def of(self, kind: Kind) -> BandEdges:
        k = kind.value
        return BandEdges(getattr(self, f"{k}_moderate_g"), getattr(self, f"{k}_hard_g"))

    def check(self, harsh: HarshParams) -> None:
        for kind in KINDS:
            self.of(kind).check(kind, harsh_threshold_g(kind, harsh))


def harsh_threshold_g(kind: Kind, p: HarshParams) -> float:
    return {
        Kind.BRAKING: p.braking_g,
        Kind.ACCELERATION: p.acceleration_g,
        Kind.CORNERING: p.cornering_g,
        Kind.LANE_CHANGE: p.lane_change_g,
    }[kind]


@dataclass(frozen=True, slots=True)
class EngineParams:
    """Everything the engine (``engine.run_engine``) is given: signal conditioning, the vehicle
    frame, the ego speed, the harsh rules' thresholds and the manoeuvre bands."""

    resample_hz: float = param(
        50.0, "IMU resampling rate (Hz) before filtering.", gt=0, le=1000, client=False,
    )
    lowpass_hz: float = param(
        2.0, "Low-pass cut-off (Hz, 2nd-order Butterworth, zero phase) on acceleration and yaw rate: "
        "vehicle manoeuvres live below 2 Hz, road vibration above.", gt=0,
    )
    # group() and param() return a dataclasses.field (a default_factory / a default), not a
    # shared default value
    harsh: HarshParams = group(HarshParams)  # noqa: RUF009
    bands: ManoeuvreBands = group(ManoeuvreBands)  # noqa: RUF009
    mounting: FloatArray | None = param(  # noqa: RUF009
        None, "Device-to-vehicle rotation (3x3, v = R d); None: estimated from the data. Configured "
        "as motion.mounting (rows of floats, checked to be a rotation) or meta.toml's [imu] mounting.",
        config=False, client=False,
    )
    speed_fusion_tau_s: float = param(
        2.0, "Complementary filter time constant (s) fusing integrated IMU acceleration with GPS speed.", gt=0,
    )
    timeline_hz: float = param(10.0, "Rate of OUT/timeline.parquet (Hz).", gt=0, client=False)
    undo_source_highpass: bool = param(
        False, "Invert a source's declared first-order horizontal high-pass (driverBehaviorDataset, "
        "~1 s) before the rules. Off: on trips 17 and 20 the inverse amplifies model errors to "
        "0.3-0.4 g and the events get worse (docs/events.md).",
    )
    forward_from_turns: bool = param(
        True, "Heading-free mode (Earth-frame IMU, no GPS): find the car's forward axis from the turns "
        "(lateral acceleration = speed x yaw rate, in the frame turned back by the integrated yaw "
        "rate) and type each longitudinal push by the sign of its onset along it; off, or where the "
        "turns give no axis, the pulse order decides (docs/events.md).",
    )
    highpass_leak_s: float = param(
        10.0, "Leak time constant (s) of the integral in the high-pass inverse; bounds drift, far "
        "longer than a manoeuvre.", gt=0,
    )
    # a value of the registry, not a config key: each rule's params are keys of their own names
    rules: RuleParams = param(  # noqa: RUF009
        RuleParams(), "The params of the registered motion rules other than the harsh rule "
        "(rules/registry.py), read from their own [motion] keys.", config=False, client=False,
    )

    def of(self, rule: MotionRule[P]) -> P:
        """The params of a registered rule: a group held here (the harsh rule's), else the
        one in :attr:`rules` (its defaults if not given)."""
        return held_or_registered(self, self.rules, rule.name, rule.params)


def engine_groups() -> tuple[type[Any], ...]:
    """The params classes :class:`EngineParams` holds as groups (``group()`` fields)."""
    return tuple(
        type(getattr(_DEFAULT, f.name)) for f in dataclasses.fields(EngineParams)
        if f.default_factory is not dataclasses.MISSING
    )


_DEFAULT = EngineParams()
