import io
import json
from pathlib import Path

import pytest

from saferoad.observability import (
    TraceRecorder,
    configure_logging,
    get_logger,
    recording_trace,
    span,
)


def test_spans_become_chrome_trace_events(tmp_path: Path) -> None:
    with recording_trace() as rec:
        with span("outer", n=3):
            with span("outer.inner") as res:
                res["count"] = 7
    events = rec.to_chrome()["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert [e["name"] for e in complete] == ["outer.inner", "outer"]
    inner, outer = complete
    assert inner["args"]["count"] == 7 and outer["args"]["n"] == 3
    # the inner span lies within the outer one (Perfetto nests them by time)
    assert outer["ts"] <= inner["ts"]
    assert inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + 1e-3
    path = tmp_path / "trace.json"
    rec.write(path)
    assert json.loads(path.read_text())["traceEvents"][0]["ph"] == "M"
    assert set(rec.stage_seconds()) == {"outer", "outer.inner"}


def test_failed_span_is_recorded_and_reraised() -> None:
    rec = TraceRecorder()
    with recording_trace(rec), pytest.raises(RuntimeError), span("boom"):
        raise RuntimeError("x")
    (ev,) = rec.events
    assert "RuntimeError" in ev["args"]["error"]


def test_logs_are_json_lines_with_begin_and_end(tmp_path: Path) -> None:
    buf = io.StringIO()
    log_file = tmp_path / "log.jsonl"
    configure_logging("INFO", stream=buf, json_file=log_file)
    with span("stage.x", k="v"):
        get_logger("t").info("hello", a=1)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["span_begin", "hello", "span_end"]
    assert lines[2]["span"] == "stage.x" and lines[2]["duration_ms"] >= 0
    assert len(log_file.read_text().splitlines()) == 3


def test_unknown_log_level() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("LOUD")


def test_terminal_gets_warnings_as_readable_lines_and_the_file_everything(tmp_path: Path) -> None:
    stream = io.StringIO()
    log_file = tmp_path / "log.jsonl"
    configure_logging("INFO", stream=stream, json_file=log_file, console_level="WARNING")
    log = get_logger("t")
    log.info("quiet_detail", n=1)
    log.warning("input_repaired", message="imu.csv: 1 repeated timestamp: kept the first")
    log.error("bad_thing")
    assert stream.getvalue().splitlines() == [
        "warning: input_repaired (message=imu.csv: 1 repeated timestamp: kept the first)",
        "error: bad_thing",
    ]
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [r["event"] for r in records] == ["quiet_detail", "input_repaired", "bad_thing"]
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("INFO", stream=stream, console_level="LOUD")
    configure_logging("WARNING", stream=io.StringIO())  # leave the default for other tests
