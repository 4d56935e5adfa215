"""A model whose outputs are huge or not finite is an error naming the model (issue #14,
defect 6), never a whole-frame box with an ``inf`` score on every frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.domain.types import Frame


class ScaledBackend:
    """The real YOLOX-nano backend with every output multiplied by ``factor``."""

    def __init__(self, inner: OnnxBackend, factor: float) -> None:
        self.inner, self.factor = inner, factor

    def input_specs(self) -> Any:
        return self.inner.input_specs()

    def output_specs(self) -> Any:
        return self.inner.output_specs()

    def infer(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {k: v * np.float32(self.factor) for k, v in self.inner.infer(inputs).items()}

    def close(self) -> None:
        self.inner.close()


def _frame() -> Frame:
    rng = np.random.default_rng(0)
    return Frame(index=0, t_s=0.0, image=rng.integers(0, 255, (360, 640, 3), dtype=np.uint8))


@pytest.mark.parametrize("factor", [1e20, 1e6])
def test_huge_model_outputs_are_an_error_naming_the_model(shared_dir: Path, factor: float) -> None:
    card = load_card("yolox-nano")
    real = ModelDetector(card, OnnxBackend(card.model_path(), warmup=0))
    dets = real.detect(_frame())
    assert np.isfinite(dets.scores).all() and (dets.scores <= 1).all()
    huge = ModelDetector(card, ScaledBackend(OnnxBackend(card.model_path(), warmup=0), factor))
    with pytest.raises(ValueError, match=r"yolox-nano.*non-finite boxes or scores outside 0-1"):
        huge.detect(_frame())


def test_an_onnx_model_with_infinite_outputs_is_an_error_naming_its_file(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    big = helper.make_tensor("big", TensorProto.FLOAT, [1], [3.0e38])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "big"], ["y"])], "overflow", [x], [y], [big])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "overflow.onnx"
    onnx.save(model, str(path))
    backend = OnnxBackend(path, warmup=0)
    assert np.isfinite(backend.infer({"x": np.zeros((1, 4), np.float32)})["y"]).all()
    with pytest.raises(ValueError, match=r"overflow\.onnx: output 'y' has 4 value\(s\) that are not finite"):
        backend.infer({"x": np.full((1, 4), 10.0, np.float32)})
