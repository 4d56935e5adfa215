"""``saferoad detect`` loads what it uses and nothing more (issue 19: the whole command
against its ceiling, start-up included). A module list, not a timing: the time is measured
by ``benchmarks/bench_perception.py --only detect``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# In a fresh interpreter: run the real command on a clip, then list what it imported.
_PROBE = """
import json, sys
from saferoad.entrypoints.cli.app import main
sys.argv = ["saferoad", "detect", sys.argv[1], "-o", sys.argv[2]]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
print("\\n" + json.dumps(sorted(sys.modules)))
"""

NOT_FOR_DETECT = (
    "scipy.signal",  # 0.76 s: the motion filters, through the whole composition root
    "saferoad.entrypoints.wiring",  # every adapter: recordings, simulator, cabin, Ray ...
    "pandas",  # 0.17 s, 39 MB: pyarrow's pa.array/pa.table import it; tracks.parquet needs neither
    "ray", "sqlalchemy", "grpc", "matplotlib", "jinja2",
    # the recording readers (~80 ms: gpxpy, pynmea2); tracks.parquet and events.jsonl are written
    # with adapters/arrow_columns and adapters/jsonl, which sit outside that package
    "saferoad.adapters.recording", "gpxpy", "pynmea2",
)  # fmt: skip


def test_detect_imports_only_its_own_adapters(highway_clip: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(highway_clip), str(tmp_path / "out")],
        capture_output=True, text=True, check=True, timeout=300, env=dict(os.environ),
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert "saferoad.entrypoints.detect_wiring" in loaded and "onnxruntime" in loaded  # it ran
    assert (tmp_path / "out" / "tracks.parquet").is_file()
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in NOT_FOR_DETECT))
    assert not heavy, f"saferoad detect imports {heavy}"
