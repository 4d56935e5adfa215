"""COCO class names → saferoad road classes (docs/perception.md)."""

from __future__ import annotations

from saferoad.domain.types import RoadClass

COCO_TO_ROAD: dict[str, RoadClass] = {
    "car": RoadClass.VEHICLE,
    "truck": RoadClass.VEHICLE,
    "bus": RoadClass.VEHICLE,
    "motorcycle": RoadClass.VEHICLE,
    "motorbike": RoadClass.VEHICLE,
    "person": RoadClass.PERSON,
    "bicycle": RoadClass.BICYCLE,
    "traffic light": RoadClass.TRAFFIC_LIGHT,
    "traffic_light": RoadClass.TRAFFIC_LIGHT,
    "stop sign": RoadClass.STOP_SIGN,
    "stop_sign": RoadClass.STOP_SIGN,
}
"""Every other COCO class (animals, furniture, ...) is dropped."""

ROAD_ORDER: tuple[RoadClass, ...] = tuple(RoadClass)


def road_class_table(class_names: tuple[str, ...]) -> list[RoadClass | None]:
    """For each model class id, its road class (``None`` = not a road class)."""
    return [COCO_TO_ROAD.get(n.strip().lower()) for n in class_names]
