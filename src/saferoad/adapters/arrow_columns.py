"""Arrow columns built from NumPy without pandas, for the readers (``adapters/recording``) and
the output writers (``adapters/outputs``) alike: a module of its own, so that a writer does not
import the recording package (its readers load gpxpy and pynmea2)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def float_column(values: object, *, nan_as_null: bool = True) -> pa.Array:
    """A NumPy float array as an Arrow float64 array, NaN as null (pa.array would import
    pandas, seconds on a cold start)."""
    x = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if not nan_as_null:
        return pa.Array.from_buffers(pa.float64(), x.size, [None, pa.py_buffer(x)])
    valid = ~np.isnan(x)
    n_null = int(x.size - np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if n_null else None
    return pa.Array.from_buffers(pa.float64(), x.size, [bitmap, pa.py_buffer(x)], null_count=n_null)
