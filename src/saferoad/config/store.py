"""Trip and event database."""

from __future__ import annotations

from saferoad.config.base import Section


class StoreConfig(Section):
    """Trip and event database."""
