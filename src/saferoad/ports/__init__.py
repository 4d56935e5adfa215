"""Ports: the small protocols the application needs from the outside world.

Adapters implement them; the application and the entry points depend only on these.
"""

from saferoad.ports.detector import Detector, InferenceBackend, TensorSpec
from saferoad.ports.events import EventSink
from saferoad.ports.frames import FrameSource
from saferoad.ports.sensors import RecordingReader

__all__ = ["Detector", "EventSink", "FrameSource", "InferenceBackend", "RecordingReader", "TensorSpec"]
