"""The public API (docs/api.md): what it exports, that importing it is cheap, and that the
documented example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import saferoad
from saferoad import _stream
from saferoad.entrypoints.wiring import simulate

REPO = Path(__file__).resolve().parents[1]


def test_every_exported_name_resolves() -> None:
    assert sorted(saferoad.__all__) == sorted(["__version__", *saferoad._EXPORTS])
    for name in saferoad.__all__:
        assert getattr(saferoad, name) is not None, name
    assert set(dir(saferoad)) >= set(saferoad.__all__)


def test_every_name_docs_api_md_gives_is_exported() -> None:
    """docs/api.md's ``saferoad.NAME`` (the table and its notes) can all be imported as written."""
    named = set(re.findall(r"`saferoad\.([A-Za-z_]\w*)", (REPO / "docs" / "api.md").read_text()))
    assert "PerceptionFailed" in named
    assert named - set(saferoad.__all__) == set()


def test_perception_failed_is_the_pipelines_runtime_error() -> None:
    assert saferoad.PerceptionFailed is _stream.PerceptionFailed
    assert issubclass(saferoad.PerceptionFailed, RuntimeError)
    assert saferoad.PerceptionFailed("x", []).events == []


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        saferoad.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_saferoad_loads_no_heavy_library() -> None:
    code = "import sys, saferoad; print(' '.join(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'av', 'pandas', 'sqlalchemy', 'pydantic') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_documented_example_runs(tmp_path: Path) -> None:
    rec = tmp_path / "drive"
    simulate("harsh_braking", rec, assignments=[], seed=1)
    text = (REPO / "docs" / "api.md").read_text()
    # the analyze example (test_stream_api.py runs the streaming one)
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "saferoad.Pipeline" not in b]
    out = subprocess.run(
        [sys.executable, "-c", f"RECORDING = {str(rec)!r}\n{code}"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "Harsh braking" in out.stdout
    assert re.search(r"^\d+ events$", out.stdout, re.M)


def test_analyze_takes_a_path_and_writes_outputs(tmp_path: Path) -> None:
    rec = tmp_path / "drive"
    simulate("harsh_braking", rec, assignments=[], seed=2)
    res = saferoad.analyze(rec, out_dir=tmp_path / "out", overrides={"perception": {"detector": "replay"}})
    assert any(e.type is saferoad.EventType.HARSH_BRAKING for e in res.events)
    assert (tmp_path / "out" / "events.jsonl").is_file()
    cfg = saferoad.load_config()
    again = saferoad.analyze(saferoad.open_recording(rec), config=cfg, overrides={"perception": {"detector": "replay"}})
    # the same events; without out_dir no clip is cut, so the evidence names none
    assert [(e.type, e.start_s, e.peak) for e in again.events] == [(e.type, e.start_s, e.peak) for e in res.events]
    assert "clip" in res.events[0].evidence and "clip" not in again.events[0].evidence


def test_load_config_takes_a_str_or_a_path(tmp_path: Path) -> None:
    toml = tmp_path / "fleet.toml"
    toml.write_text("[road_events]\ntailgating_headway_s = 0.9\n", encoding="utf-8")
    for given in (str(toml), toml):
        assert saferoad.load_config(given).road_events.tailgating_headway_s == pytest.approx(0.9)
    with pytest.raises(saferoad.ConfigError, match=r"missing\.toml: config file not found"):
        saferoad.load_config(str(tmp_path / "missing.toml"))


def test_the_api_logs_through_logging_quiet_unless_asked(tmp_path: Path) -> None:
    """A notebook's ``saferoad.analyze`` prints no stage spans (structlog's default printed
    every ``span_begin``/``span_end`` to stdout); warnings still reach stderr, and a caller
    who asks ``logging`` for INFO gets the spans."""
    rec = tmp_path / "drive"
    simulate("harsh_braking", rec, assignments=[], seed=1, video=False)
    analyze = f"import saferoad; n = len(saferoad.analyze({str(rec)!r}).events); print(n, 'events')\n"
    warn = "from saferoad.observability import get_logger; get_logger('test').warning('still_shown')\n"
    quiet = subprocess.run([sys.executable, "-c", analyze + warn], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert re.fullmatch(r"\d+ events\n", quiet.stdout), quiet.stdout
    assert "span_" not in quiet.stderr and '"event": "still_shown"' in quiet.stderr, quiet.stderr
    asked = "import logging, sys; logging.basicConfig(level='INFO', stream=sys.stdout, format='%(message)s')\n"
    loud = subprocess.run([sys.executable, "-c", asked + analyze], capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0, loud.stderr
    assert '"event": "span_end"' in loud.stdout and '"span": "analyze"' in loud.stdout, loud.stdout
