"""Driver monitoring from the cabin camera."""

from __future__ import annotations

from saferoad.config.base import Section


class CabinConfig(Section):
    """Driver monitoring from the cabin camera."""
