"""Safety scores and per-1,000 km rates."""

from __future__ import annotations

from saferoad.config.base import Section


class ScoringConfig(Section):
    """Safety scores and per-1,000 km rates."""
