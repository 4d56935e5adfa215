"""The streaming motion rules' parameters, apart from the rules themselves.

Kept in a module of their own so the config layer (``saferoad.config.edge``) can validate them
without importing the motion engine and SciPy, which cost about 1.4 s of every CLI start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamParams:
    window_s: float = 60.0
    """Look-back re-analysed at each hop (sensor time)."""
    hop_s: float = 1.0
    """How often the window is re-analysed (sensor time)."""
    guard_s: float = 10.0
    """An event is final once it ended this long before the newest sample."""
    early_s: float | None = None
    """Provisional events (for an early in-cab alert): those that ended at least this long
    before the newest sample, before they are final; None: none."""

    def __post_init__(self) -> None:
        if not (self.hop_s > 0 and self.guard_s >= 0):
            raise ValueError("streaming motion: hop_s must be > 0 and guard_s >= 0")
        if self.early_s is not None and not 0 <= self.early_s <= self.guard_s:
            raise ValueError("streaming motion: early_s must lie within [0, guard_s]")
        if self.window_s < 3 * self.guard_s + self.hop_s:
            raise ValueError(
                f"streaming motion: window_s {self.window_s} must be at least 3 x guard_s + hop_s "
                f"({3 * self.guard_s + self.hop_s}) so an event is whole inside the window when final"
            )

    @property
    def latency_s(self) -> float:
        """Worst-case delay (sensor time) from an event's last sample to its emission."""
        return self.guard_s + self.hop_s
