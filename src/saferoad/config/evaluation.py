"""Evaluation at scale: matching tolerance, release gate."""

from __future__ import annotations

from saferoad.config.base import Section


class EvaluationConfig(Section):
    """Evaluation at scale: matching tolerance, release gate."""
