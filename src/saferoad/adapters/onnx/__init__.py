"""ONNX Runtime inference: the backend, model cards and the detector decoders."""

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCard, ModelCardError, default_models_root, load_card

__all__ = ["ModelCard", "ModelCardError", "OnnxBackend", "default_models_root", "load_card"]
