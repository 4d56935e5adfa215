"""What the road stage and its camera feed share (one module, so that ``road`` and
``road_camera`` do not import each other): the road video's clock offset and the lamp colour
of traffic lights read from the pixels."""

from __future__ import annotations

from dataclasses import replace

from saferoad.application.context import AnalysisContext
from saferoad.domain.road_events import classify_lamp
from saferoad.domain.types import Frame, RoadClass, TrackedObject


def video_time_offset(ctx: AnalysisContext) -> float:
    """``camera.time_offset_s`` of a saferoad recording's meta.toml plus the configured offset."""
    offset = ctx.config.road_events.clock_offsets_s.get("video", 0.0)
    return offset + ctx.recording.meta.camera_time_offset_s


def with_lamp_colours(frame: Frame, objects: list[TrackedObject], min_fraction: float) -> list[TrackedObject]:
    """Traffic lights without a ``lamp`` attribute get one read from their box's pixels."""
    out = []
    h, w = frame.image.shape[:2]
    for o in objects:
        if o.cls == RoadClass.TRAFFIC_LIGHT and "lamp" not in o.attributes and h > 1 and w > 1:
            x1, y1, x2, y2 = (round(v) for v in o.xyxy)
            crop = frame.image[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
            lamp = classify_lamp(crop, min_fraction=min_fraction)
            o = replace(o, attributes={**o.attributes, "lamp": lamp})
        out.append(o)
    return out
