"""Local inference with ONNX Runtime (CPU).

Defaults follow the measurements in ``../shared/design/performance-notes.md`` for a 2-core
vehicle computer: one intra-op thread and thread spinning off per session (several sessions
on different frames use the cores better than threads inside one session, and a spinning
session burns the core decoding needs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from saferoad.ports.detector import TensorSpec

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    return TensorSpec(arg.name, shape, _ORT_DTYPES.get(arg.type, arg.type))


class OnnxBackend:
    """An :class:`~saferoad.ports.detector.InferenceBackend` on one ONNX Runtime session.

    ``intra_op_threads``: threads inside one operator (1 is best on 2 cores when frames run in
    parallel, see performance-notes.md); ``spinning``: let idle threads busy-wait (faster for a
    single session, but it steals the core decoding and tracking need); ``warmup``: number of
    runs on zero inputs at start, so the first real frame does not pay allocation costs.
    ``infer`` is safe to call from several threads (ONNX Runtime's ``run`` is thread-safe).
    """

    def __init__(
        self,
        model_path: str | Path,
        intra_op_threads: int = 1,
        spinning: bool = False,
        warmup: int = 1,
        inter_op_threads: int = 1,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: ONNX model not found")
        if intra_op_threads < 0 or inter_op_threads < 0:
            raise ValueError("thread counts must be >= 0 (0 lets ONNX Runtime choose)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = inter_op_threads
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "1" if spinning else "0")
        opts.log_severity_level = 3
        try:
            self._session: ort.InferenceSession | None = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: not a loadable ONNX model: {err}") from None
        self.model_path = path
        self.intra_op_threads = intra_op_threads
        self.spinning = spinning
        self._inputs = tuple(_spec(a) for a in self._session.get_inputs())
        self._outputs = tuple(_spec(a) for a in self._session.get_outputs())
        self._output_names = [o.name for o in self._outputs]
        for _ in range(max(0, warmup)):
            self.infer(self._zero_inputs())

    def _zero_inputs(self) -> dict[str, NDArray[np.generic]]:
        out: dict[str, NDArray[np.generic]] = {}
        for spec in self._inputs:
            shape = tuple(d if d is not None else 1 for d in spec.shape)
            out[spec.name] = np.zeros(shape, dtype=np.dtype(spec.dtype))
        return out

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    def infer(self, inputs: dict[str, NDArray[np.generic]]) -> dict[str, NDArray[np.generic]]:
        session = self._session
        if session is None:
            raise RuntimeError(f"{self.model_path}: backend is closed")
        expected = {s.name for s in self._inputs}
        if set(inputs) != expected:
            raise ValueError(
                f"{self.model_path}: inputs {sorted(inputs)} given, model takes {sorted(expected)}"
            )
        results = session.run(self._output_names, inputs)
        out = {name: np.asarray(r) for name, r in zip(self._output_names, results, strict=True)}
        for name, arr in out.items():
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
                raise ValueError(
                    f"{self.model_path}: output {name!r} has {bad} value(s) that are not finite "
                    "(inf or NaN): the model is broken or does not fit its card"
                )
        return out

    def close(self) -> None:
        self._session = None

    def __enter__(self) -> OnnxBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"OnnxBackend({str(self.model_path)!r}, intra_op_threads={self.intra_op_threads}, "
            f"spinning={self.spinning})"
        )
