"""The analyze output folder's reader side for ``saferoad ingest``: the
:class:`~saferoad.ports.outputs.OutputsReader` the composition root hands to
``application/ingest.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from saferoad.adapters.outputs import check_complete, is_staging
from saferoad.adapters.recording.jsonl import iter_jsonl, read_json


class OutputsFolderReader:
    """:class:`~saferoad.ports.outputs.OutputsReader` over ``run.json`` (``adapters/outputs``)
    and the JSON readers of ``adapters/recording/jsonl``."""

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
