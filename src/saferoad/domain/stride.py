"""Adaptive inference stride for a live camera: infer every ``stride``-th frame, the smallest
stride that keeps the inference busy at most ``target_load`` of the time.

Inference slower than the stream is the live recorder's classic failure (Frigate's users see
memory grow and detections lag minutes behind): a bounded ring drops the oldest frames
blindly. The stride drops frames *on purpose and evenly* instead, counted, so the frames that
are inferred stay current. With ``t`` the mean inference time per frame and ``fps`` the
source's rate, the inference is busy ``load = t x fps / stride`` of the time; the stride is
the smallest integer with ``load <= target_load`` (headroom for jitter), raised by one while
more frames wait in the ring than the next stride consumes (falling behind) or the process is
over its CPU budget, and lowered
only when the smaller stride would still stay under ``target_load x relax`` (hysteresis: no
flapping at a boundary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class AdaptiveStride:
    max_stride: int = 8
    target_load: float = 0.8
    relax: float = 0.8
    """Lower the stride only when the smaller one would load the inference under
    ``target_load x relax``."""
    ewma: float = 0.2
    """Weight of the newest inference time in the running mean."""
    stride: int = 1
    mean_infer_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_stride < 1:
            raise ValueError("stride: max_stride must be >= 1")
        if not 0 < self.target_load <= 1:
            raise ValueError("stride: target_load must lie in (0, 1]")
        if not 0 < self.relax <= 1:
            raise ValueError("stride: relax must lie in (0, 1]")

    def load(self, fps: float, stride: int | None = None) -> float:
        """The inference's busy share at ``stride`` (default: the current one)."""
        if self.mean_infer_s is None or fps <= 0:
            return 0.0
        return self.mean_infer_s * fps / (stride or self.stride)

    def update(self, infer_s: float, fps: float, backlog: int = 0, over_cpu_budget: bool = False) -> int:
        """After one inference of ``infer_s`` seconds on a source of ``fps``, with ``backlog``
        frames waiting: the stride for the next frames."""
        m = self.mean_infer_s
        self.mean_infer_s = infer_s if m is None else (1 - self.ewma) * m + self.ewma * infer_s
        if fps <= 0:
            return self.stride
        need = max(1, math.ceil(self.mean_infer_s * fps / self.target_load - 1e-9))
        stride = self.stride
        behind = backlog > stride  # the frames skipped before the next inference do not count
        if need > stride or behind or over_cpu_budget:
            stride = max(need, stride + 1 if (behind or over_cpu_budget) else need)
        elif stride > 1 and self.load(fps, stride - 1) <= self.target_load * self.relax:  # not behind here
            stride -= 1
        self.stride = min(self.max_stride, max(1, stride))
        return self.stride
