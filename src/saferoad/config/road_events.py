"""Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from saferoad.config.base import Section

MPH = 0.44704
"""Metres per second in one mile per hour."""

STREAMS = frozenset({"video", "speed", "gps", "radar"})
"""Streams of the timeline that take a clock offset."""


class RoadEventsConfig(Section):
    """Camera + motion events: tailgating, forward collision, stop signs, red lights, speeding, clips."""

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

    max_gap_s: float = Field(
        2.5,
        gt=0,
        description="Two consecutive samples of a sensor stream (speed, GPS) farther apart than "
        "this are a gap: nothing is interpolated across it and no rule decides across it. "
        "2.5 s tolerates one missed fix of a 1 Hz GPS.",
    )
    max_frame_gap_s: float = Field(
        1.0,
        gt=0,
        description="Consecutive camera frames farther apart than this are a gap in the video: "
        "every camera rule ends what it was following there without guessing what it did not see.",
    )
    tick_hz: float = Field(
        10.0,
        gt=0,
        description="Rate of the speed timeline the camera-free rule (speeding) runs on.",
    )

    replay_identities: bool = Field(
        True,
        description="With the replay detector, keep the track ids the labels file carries "
        "(ground-truth identities) instead of re-tracking the boxes; the tracker is tested "
        "on its own.",
    )

    # --- lead vehicle --------------------------------------------------------------------
    corridor_half_width_m: float = Field(
        1.8,
        gt=0,
        description="Half width of the ego corridor (m) used to pick the lead vehicle when the "
        "tracker does not mark one: half a 3.5 m lane plus a margin.",
    )
    range_rate_window_s: float = Field(
        0.5,
        gt=0,
        description="Seconds of the lead's distance history fitted (least squares) for its range "
        "rate; longer is smoother, shorter reacts faster (the estimate lags by half the window: "
        "0.5 s keeps a sudden braking's warning within 0.25 s of the true TTC crossing).",
    )
    lead_dropout_s: float = Field(
        0.5,
        ge=0,
        description="A lead vehicle (or a condition on it) missing for at most this long is "
        "bridged, so one missed detection does not split an event.",
    )

    # --- tailgating -----------------------------------------------------------------------
    tailgating_headway_s: float = Field(
        0.7,
        gt=0,
        description="Time headway (distance to the lead / ego speed) below which following is "
        "too close. Motive: 0.7 s; Samsara now < 0.5 s (earlier <= 1 s).",
    )
    tailgating_min_duration_s: float = Field(
        10.0,
        ge=0,
        description="How long the headway must stay below the threshold. Motive: 10-15 s; "
        "Samsara: 30 s.",
    )
    tailgating_min_speed_mps: float = Field(
        round(35 * MPH, 3),
        ge=0,
        description="Tailgating is judged only above this ego speed (m/s). Motive: 35 mph "
        "(15.6 m/s); Samsara 55 mph (earlier 45 mph).",
    )

    # --- forward collision --------------------------------------------------------------
    fcw_ttc_s: float = Field(
        2.0,
        gt=0,
        description="Time to collision (distance / closing speed) below which a closing lead is "
        "a forward-collision risk. NHTSA NCAP's FCW test asks for a warning by 2.0-2.4 s TTC.",
    )
    fcw_min_duration_s: float = Field(
        0.3,
        ge=0,
        description="How long TTC must stay below the threshold (debounces one noisy range rate).",
    )
    fcw_min_speed_mps: float = Field(
        round(25 * MPH, 3),
        ge=0,
        description="Forward-collision risk is judged only above this ego speed (m/s). Samsara: "
        "25 mph (11.2 m/s).",
    )
    fcw_min_closing_mps: float = Field(
        1.0,
        gt=0,
        description="Closing speed (m/s) below which the lead is not considered closing (TTC is "
        "infinite): keeps range-rate noise from making a TTC.",
    )

    # --- stop signs --------------------------------------------------------------------
    stop_speed_mps: float = Field(
        round(6 * MPH, 3),
        gt=0,
        description="A stop counts when the ego speed goes below this (m/s). Motive: 6 mph "
        "(2.68 m/s).",
    )
    stop_window_s: float = Field(
        7.0,
        gt=0,
        description="Seconds after the stop sign leaves the view within which the stop must "
        "happen. Motive: 7 s.",
    )
    stop_sign_min_frames: int = Field(
        3,
        ge=1,
        description="A stop-sign track must be seen in at least this many frames to count (one "
        "stray detection is not a sign).",
    )
    stop_sign_max_distance_m: float = Field(
        30.0,
        gt=0,
        description="The sign must have been seen within this distance (m) where its distance "
        "is known, i.e. the ego really came up to it (not a sign far down a side road).",
    )
    stop_sign_size_m: float = Field(
        0.75,
        gt=0,
        description="Size of a stop sign (m) for its distance from its box where the detector "
        "gives none: Z = fx * size / box side. The US MUTCD R1-1 octagon is 30 in (0.76 m).",
    )
    slow_down_fraction: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="A rolling stop needs an attempt to slow down: the lowest speed in the window "
        "at least this fraction below the approach speed. Less is a stop_sign_violation "
        "(running the sign without an attempt to stop).",
    )
    leave_view_s: float = Field(
        0.5,
        ge=0,
        description="A sign or light track unseen for this long has left the view (it is "
        "then decided on what was seen until its last sighting).",
    )

    # --- red lights ----------------------------------------------------------------------
    red_light_min_speed_mps: float = Field(
        round(6 * MPH, 3),
        ge=0,
        description="Passing a red light counts when the ego moves at least this fast (m/s) as "
        "the light leaves the view; slower is creeping at the line. Same 6 mph as a stop.",
    )
    red_light_max_distance_m: float = Field(
        35.0,
        gt=0,
        description="The light must have been last seen within this distance (m) where known: "
        "a light lost far away was not passed.",
    )
    red_light_min_frames: int = Field(
        3,
        ge=1,
        description="A traffic-light track must be seen in at least this many frames, and the "
        "lamp read red in the last of them, to count.",
    )
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
    speeding_margin_mps: float = Field(
        round(6 * MPH, 3),
        ge=0,
        description="Speeding is being over the limit by more than this (m/s). Motive: 6 mph.",
    )
    speeding_min_duration_s: float = Field(
        60.0,
        ge=0,
        description="How long the speed must stay over limit + margin. Motive: > 1 min "
        "(Netradyne records after 30 s).",
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
