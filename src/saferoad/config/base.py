"""Base class for config sections: unknown keys are errors, values are validated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Every field has a documented default (``Field(description=...)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
