"""Speed limits: a global limit, and zones from a GeoJSON file (shapely does the geometry).

A zone is a ``Polygon`` or ``MultiPolygon`` feature (WGS-84 longitude, latitude, as GeoJSON
says) whose properties give the limit as ``speed_limit_kmh`` (a number) or OSM-style
``maxspeed`` (``"50"``, ``"50 km/h"``, ``"30 mph"``). Where zones overlap the lowest limit
applies (the conservative reading). A position outside every zone gets the global limit, or
none. Each problem in the file is a ``ValueError`` naming the file, the feature and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree
from shapely.validation import explain_validity

from saferoad.adapters.jsonl import read_json

MPH_KMH = 1.609344
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    limit_kmh: float
    geometry: Any


@dataclass
class SpeedLimits:
    """``limit_at(lat, lon) -> (limit m/s or NaN, zone name or None)``."""

    global_kmh: float | None = None
    zones: tuple[Zone, ...] = ()
    _tree: STRtree | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.zones:
            self._tree = STRtree([z.geometry for z in self.zones])

    def limit_at(self, lat: float, lon: float) -> tuple[float, str | None]:
        default = self.global_kmh / 3.6 if self.global_kmh is not None else math.nan
        if self._tree is None or not (math.isfinite(lat) and math.isfinite(lon)):
            return default, None
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return default, None
        z = min((self.zones[int(i)] for i in hits), key=lambda z: z.limit_kmh)
        return z.limit_kmh / 3.6, z.name


def _limit(props: dict[str, Any], where: str) -> float:
    if props.get("speed_limit_kmh") is not None:
        v = props["speed_limit_kmh"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            raise ValueError(f"{where}: field 'speed_limit_kmh': expected a positive number, got {v!r}")
        return float(v)
    if props.get("maxspeed") is not None:
        m = _MAXSPEED.match(str(props["maxspeed"]))
        if not m or float(m.group(1)) <= 0:
            raise ValueError(
                f"{where}: field 'maxspeed': expected like '50', '50 km/h' or '30 mph', "
                f"got {props['maxspeed']!r}"
            )
        unit = (m.group(2) or "km/h").lower()
        return float(m.group(1)) * (MPH_KMH if unit == "mph" else 1.0)
    raise ValueError(f"{where}: no 'speed_limit_kmh' or 'maxspeed' property")


def load_speed_zones(path: Path, global_kmh: float | None = None) -> SpeedLimits:
    """Read a GeoJSON FeatureCollection (or a single Feature) of speed-limit zones."""
    data = read_json(path, missing="speed-zone file not found")
    features: list[Any]
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, dict) and data.get("type") == "FeatureCollection":
        raw = data.get("features")
        if not isinstance(raw, list):
            raise ValueError(f"{path}: field 'features': expected a list")
        features = raw
    else:
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection or Feature")
    zones = []
    for i, feat in enumerate(features):
        where = f"{path}: feature {i}"
        if not isinstance(feat, dict) or not isinstance(feat.get("geometry"), dict):
            raise ValueError(f"{where}: field 'geometry': missing or not an object")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise ValueError(f"{where}: field 'properties': expected an object")
        try:
            geom = shape(feat["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.ShapelyError) as err:
            raise ValueError(f"{where}: field 'geometry': {err}") from None
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{where}: field 'geometry': a zone must be a Polygon or MultiPolygon, "
                             f"got {geom.geom_type}")
        if not geom.is_valid:
            raise ValueError(f"{where}: field 'geometry': invalid polygon "
                             f"({explain_validity(geom)})")
        name = str(props.get("name", props.get("id", f"zone-{i}")))
        zones.append(Zone(name, _limit(props, where), geom))
    return SpeedLimits(global_kmh, tuple(zones))
