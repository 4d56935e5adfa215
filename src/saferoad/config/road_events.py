"""Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips.

Two halves, one flat ``[road_events]`` table:

* the road stage's own keys, written here (:class:`RoadEventsConfig`: mode, clock offsets,
  replay identities, the lamp classifier, the speed limit and zones, clips);
* every threshold of the road rules, DERIVED from the domain's params dataclasses: the
  engine's ``CommonParams`` and each registered rule's params
  (``domain/road_events/registry.py``), their field names, defaults, descriptions and bounds
  (:func:`road_events_model`, by ``config/derive.py`` like ``[motion]`` and ``[cabin]``, at
  run time since rules register themselves; a ``param(..., config=False)`` is no key). A new
  rule module's params become keys here, in
  docs/config.md (``saferoad config docs``) and, unless declared ``client=False``, in what a
  client of ``saferoad serve`` may set (:func:`road_client_keys`), with no edit here.

``SaferoadConfig.road_events`` holds an instance of the derived model (a subclass of
:class:`RoadEventsConfig`); its dump is the flat table it always was, so config fingerprints
and evaluation cache keys are unchanged (``tests/road_events/test_rule_registry.py`` pins the
section's hash measured before the change).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from saferoad.config.derive import DerivedKeys, DerivedSection
from saferoad.domain.road_events import registry

STREAMS = frozenset({"video", "speed", "gps", "radar"})
"""Streams of the timeline that take a clock offset."""


class RoadEventsConfig(DerivedKeys):
    """Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips."""

    if TYPE_CHECKING:
        # The engine's shared thresholds (domain/road_events/registry.CommonParams), read by
        # the application as attributes: named here for the type checker only; their
        # defaults, bounds and docs are derived like every rule's (road_events_model), and
        # tests/road_events/test_rule_registry.py checks these names against CommonParams.
        max_gap_s: float
        max_frame_gap_s: float
        tick_hz: float
        corridor_half_width_m: float
        range_rate_window_s: float
        lead_dropout_s: float
        leave_view_s: float
        stop_sign_size_m: float

    mode: Literal["streaming", "batch"] = Field(
        "streaming",
        description="How the road stage runs the rules: 'streaming' (frame by frame with bounded "
        "state, as on the vehicle) or 'batch' (whole arrays aligned at once, as in the cloud). "
        "Both fold the same domain state machines and give identical events (tested).",
    )

    # --- timeline -----------------------------------------------------------------------
    clock_offsets_s: dict[str, float] = Field(
        default_factory=lambda: {"video": 0.0, "speed": 0.0, "gps": 0.0, "radar": 0.0},
        description="Seconds added to each stream's timestamps to put it on the recording's clock "
        "(streams: video — on top of meta.toml's camera.time_offset_s —, speed — the ego "
        "speed, whatever its source —, gps — positions for speed zones —, radar). Unlisted "
        "streams get 0.",
    )
    @field_validator("clock_offsets_s")
    @classmethod
    def _known_streams(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - STREAMS)
        if unknown:
            raise ValueError(f"unknown stream(s) {unknown}; known: {sorted(STREAMS)}")
        return v

    replay_identities: bool = Field(
        True,
        description="With the replay detector, keep the track ids the labels file carries "
        "(ground-truth identities) instead of re-tracking the boxes; the tracker is tested "
        "on its own.",
    )

    # --- red lights: the lamp colour of a light's box ---------------------------------
    lamp_min_fraction: float = Field(
        0.03,
        gt=0,
        lt=1,
        description="Lamp-colour classifier: the share of the light's box pixels that must be "
        "bright and saturated in one hue band (red, yellow, green) for that colour.",
    )

    # --- speeding ----------------------------------------------------------------------
    speed_limit_kmh: float | None = Field(
        None,
        gt=0,
        description="Global speed limit (km/h). Unset: speeding is judged only inside zones "
        "from `speed_zones` (or not at all).",
    )
    speed_zones: str | None = Field(
        None,
        description="GeoJSON file of polygons whose property `speed_limit_kmh` (or OSM-style "
        "`maxspeed`, e.g. '50' or '30 mph') sets the limit inside them; overrides the global "
        "limit where a GPS fix falls inside a zone.",
    )
    # --- clips -------------------------------------------------------------------------
    clips: bool = Field(
        True,
        description="Cut an MP4 clip and a JPEG snapshot (boxes drawn) for every video event.",
    )
    clip_before_s: float = Field(
        8.0, ge=0, description="Clip length before the event's key moment (s). Lytx: 8 s."
    )
    clip_after_s: float = Field(
        4.0, ge=0, description="Clip length after the event's key moment (s). Lytx: 4 s."
    )
    clip_max_width: int = Field(
        1280,
        ge=64,
        description="Clips wider than this are scaled down (keeps clip files small).",
    )


STAGE_CLIENT_KEYS = ("lamp_min_fraction", "speed_limit_kmh", "clips")
"""The stage's own keys a client of ``saferoad serve`` may set (thresholds and switches; not
the clock offsets, a file or the clip lengths)."""


SECTION: DerivedSection[RoadEventsConfig] = DerivedSection(
    "RoadEventsConfig", RoadEventsConfig, RoadEventsConfig, registry.param_classes, registry.registry_version
)
"""The ``[road_events]`` section at run time (config/derive.py, as every derived section): the
stage's keys first, then each config=True parameter of the engine's and the registered rules'
params."""

road_events_model = SECTION.model
parse_road_events = SECTION.parse
default_road_events = SECTION.default


def road_client_keys() -> frozenset[str]:
    """The ``road_events`` keys a client of ``saferoad serve`` may set: the stage's
    :data:`STAGE_CLIENT_KEYS` and every rule parameter (a config key) not declared
    ``client=False``."""
    return SECTION.client_keys(STAGE_CLIENT_KEYS)
