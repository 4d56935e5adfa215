"""Phone detector port.

A :class:`PhoneDetector` finds the phone a driver holds in a cabin frame, given the driver's
face box where the face pipeline found one, and says where it is held
(:class:`~saferoad.domain.cabin.phone.PhoneObservation`). saferoad ships COCO "cell phone"
from the YOLOX-nano model (``saferoad.adapters.onnx.phone``); a dedicated phone or
hand-object model can take its place behind the same method.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from saferoad.domain.cabin.phone import Box, PhoneObservation
from saferoad.domain.types import Frame


@runtime_checkable
class PhoneDetector(Protocol):
    """Finds a held phone in a cabin frame."""

    name: str

    def detect(self, frame: Frame, face: Box | None) -> PhoneObservation: ...
