"""Thresholds of the inertial (harsh driving) event engine.

Every threshold and setting of the engine is declared once, in the domain
(``domain/motion/params.py``: ``EngineParams`` with its ``HarshParams`` and ``ManoeuvreBands``
groups): the ``[motion]`` keys are derived from those fields (their names, defaults,
descriptions and bounds; ``config/derive.py``), and so are the motion keys a client of
``saferoad serve`` may set (:data:`CLIENT_KEYS`). Only ``mounting``, which the config gives
as rows of floats where the engine takes an array, is written here.

Defaults follow published practice (docs/events.md cites each one; the sources are gathered in
``../shared/design/published-practice.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from pydantic import Field

from saferoad.config.base import Section
from saferoad.config.derive import client_keys, derived_section
from saferoad.domain.motion.params import EngineParams


class _MotionKeys(Section):
    """Harsh braking, acceleration, cornering and aggressive lane changes from IMU and GPS."""

    mounting: list[list[float]] | None = Field(
        None,
        description="Device-to-vehicle rotation (3x3 rows, v = R d); unset = the recording's meta.toml, else estimated from the data.",
    )


if TYPE_CHECKING:
    # the type checker sees the hand-written key; the derived ones are read through
    # EngineParams (application/stages/motion.params_from_config)
    MotionConfig: TypeAlias = _MotionKeys
else:
    MotionConfig = derived_section("MotionConfig", _MotionKeys, EngineParams)

CLIENT_KEYS: frozenset[str] = client_keys((), EngineParams)
"""The ``motion`` keys a client of ``saferoad serve`` may set: every engine parameter not
declared ``client=False`` (not the resampling and timeline rates; not ``mounting``)."""
