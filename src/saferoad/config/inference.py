"""Remote inference (KServe v2 / Triton gRPC) and the services."""

from __future__ import annotations

from saferoad.config.base import Section


class InferenceConfig(Section):
    """Remote inference (KServe v2 / Triton gRPC) and the services."""
