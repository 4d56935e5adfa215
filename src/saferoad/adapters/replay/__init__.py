"""The replay detector: boxes read from a labels file instead of a model."""

from saferoad.adapters.replay.detector import ReplayDetector, load_labels

__all__ = ["ReplayDetector", "load_labels"]
