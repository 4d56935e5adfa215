"""The analyze output folder's reader side for ``saferoad ingest``: the
:class:`~saferoad.ports.outputs.OutputsReader` the composition root hands to
``application/ingest.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from saferoad.adapters.jsonl import iter_jsonl, read_json
from saferoad.adapters.outputs import check_complete, is_staging
from saferoad.adapters.outputs.files import read_events
from saferoad.domain.types import Event


class OutputsFolderReader:
    """:class:`~saferoad.ports.outputs.OutputsReader` over ``run.json`` (``adapters/outputs``),
    the JSON readers of ``adapters/jsonl`` and the Parquet files' columns."""

    def is_staging(self, path: Path) -> bool:
        return is_staging(path)

    def finished_run(self, out_dir: Path) -> dict[str, Any]:
        return check_complete(out_dir, sizes=False)

    def read_json(self, path: Path, *, error: Callable[[str], ValueError], missing: str) -> Any:
        return read_json(path, error=error, missing=missing)

    def iter_jsonl(
        self, path: Path, *, error: Callable[[str], ValueError]
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        return iter_jsonl(path, error=error)

    def read_events(self, path: Path) -> list[Event]:
        return read_events(path)

    def read_table(
        self, path: Path, columns: Sequence[str], *, error: Callable[[str], ValueError]
    ) -> dict[str, NDArray[Any]]:
        table = _read_parquet(path, error)
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise error(f"{path}: columns {missing} missing")
        return {c: table.column(c).to_numpy(zero_copy_only=False) for c in columns}

    def read_columns(
        self,
        path: Path,
        required: Sequence[str],
        optional: Sequence[str] = (),
        *,
        error: Callable[[str], ValueError],
    ) -> dict[str, NDArray[np.float64]]:
        table = _read_parquet(path, error)
        cols: dict[str, NDArray[np.float64]] = {}
        for name in (*required, *optional):
            if name not in table.column_names:
                if name in required:
                    raise error(f"{path}: column '{name}' is missing")
                continue
            col = table.column(name)
            if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
                raise error(f"{path}: column '{name}' must be numeric, not {col.type}")
            cols[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        return cols


def _read_parquet(path: Path, error: Callable[[str], ValueError]) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise error(f"{path}: missing (not an analyze output?)") from None
    except (pa.ArrowInvalid, OSError) as err:
        raise error(f"{path}: not a readable Parquet file ({err})") from None
