"""The dynamic batcher on its own: mixed signatures, errors, shutdown."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from saferoad.adapters.grpc.batching import BatcherClosed, DynamicBatcher
from saferoad.adapters.grpc.models import ServedModel


def _model(runs: list[int]) -> ServedModel:
    def predict(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        runs.append(x.shape[0])
        return {"y": x * 10, "n": np.full((x.shape[0],), x.shape[0])}

    return ServedModel("m", predict, max_batch_size=32)


def test_mixed_signatures_each_get_their_own_rows() -> None:
    runs: list[int] = []
    b = DynamicBatcher(_model(runs), max_batch_size=6, max_delay_s=0.05)
    futs = []
    barrier = threading.Barrier(12)

    def submit(k: int) -> None:
        barrier.wait()
        width = 2 if k % 2 else 3  # two signatures: [1, 2] and [1, 3]
        rows = 1 + k % 3
        x = np.full((rows, width), k, np.float32)
        futs.append((x, b.submit({"x": x})))

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, f in futs:
        out = f.result(timeout=30)
        assert np.array_equal(out["y"], x * 10)
        assert out["n"].shape == (x.shape[0],)
    b.close()
    assert sum(runs) == sum(x.shape[0] for x, _ in futs)
    assert max(runs) <= 6  # never more rows than max_batch_size (each request has <= 3)
    assert len(runs) < 12  # some requests shared a run


def test_model_error_reaches_every_caller_of_the_batch() -> None:
    def broken(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise ValueError("bad weights")

    b = DynamicBatcher(ServedModel("m", broken, max_batch_size=8), max_batch_size=8, max_delay_s=0.05)
    futs = [b.submit({"x": np.zeros((1, 2), np.float32)}) for _ in range(3)]
    for f in futs:
        with pytest.raises(ValueError, match="bad weights"):
            f.result(timeout=30)
    b.close()


def test_model_dropping_the_batch_dimension_is_an_error() -> None:
    def summed(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"s": inputs["x"].sum(keepdims=True)[0]}

    b = DynamicBatcher(ServedModel("m", summed, max_batch_size=8), max_batch_size=8, max_delay_s=0.0)
    with pytest.raises(ValueError, match="must keep the first dimension"):
        b.submit({"x": np.zeros((2, 2), np.float32)}).result(timeout=30)
    b.close()


def test_close_finishes_queued_work_then_refuses() -> None:
    runs: list[int] = []
    b = DynamicBatcher(_model(runs), max_batch_size=2, max_delay_s=0.01)
    futs = [b.submit({"x": np.ones((1, 1), np.float32)}) for _ in range(5)]
    b.close()
    assert all(f.result(timeout=1)["y"].tolist() == [[10.0]] for f in futs)
    with pytest.raises(BatcherClosed):
        b.submit({"x": np.ones((1, 1), np.float32)})


def test_inconsistent_batch_dimension_is_rejected() -> None:
    b = DynamicBatcher(_model([]), max_batch_size=4, max_delay_s=0.0)
    with pytest.raises(ValueError, match="same first"):
        b.submit({"x": np.ones((2, 1), np.float32), "z": np.ones((3, 1), np.float32)})
    b.close()
