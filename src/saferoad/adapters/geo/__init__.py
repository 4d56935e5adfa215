"""Geographic adapters: speed-limit zones from GeoJSON."""

from saferoad.adapters.geo.speed_zones import SpeedLimits, load_speed_zones

__all__ = ["SpeedLimits", "load_speed_zones"]
