"""Event sinks are plugins (``adapters/sinks``): ``saferoad analyze --sink NAME[:ARG]``
(repeatable) builds each named sink from the registry and hands it the final events beside
``events.jsonl``. The shipped ``jsonl`` sink writes events.jsonl's own lines to a file or to
stdout (the table then goes to stderr); an unknown name or a bad ARG exits 2 naming the option
and the registered sinks; sinks are closed even when the run fails; a sink written as one
module dropped into a copy of ``src/`` with nothing else edited is listed and receives the
events."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

import saferoad.adapters.sinks as package
from saferoad.adapters.sinks import build_sink, register, sinks, unregister
from saferoad.adapters.sinks.jsonl import JsonlSink
from saferoad.domain.types import Event, EventType, Severity
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import simulate

SRC = Path(__file__).resolve().parents[1] / "src"

CLI = ("import sys, saferoad; assert saferoad.__file__.startswith(sys.argv[1]), saferoad.__file__; "
       "sys.argv[1:] = sys.argv[2:]; from saferoad.entrypoints.cli.app import main; main()")


def _cli(root: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``saferoad ARGS`` in a fresh process, from ``root`` (a copy of ``src/``) when given."""
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root)  # ahead of the editable install's src/
    return subprocess.run(
        [sys.executable, "-c", CLI, str(root or SRC), *args], env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )


def _flat(text: str) -> str:
    """Rich wraps messages at the terminal's width: compare them as one line."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def braking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short drive with one harsh braking, no video (fast)."""
    rec = tmp_path_factory.mktemp("braking") / "drive"
    simulate("harsh_braking", rec, assignments=["duration_s=25"], seed=1, video=False)
    return rec


@pytest.fixture(scope="module")
def lane_change(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drive with road video: its lane change gets a clip path and the camera's direction in
    the road stage, after the motion stage found it."""
    rec = tmp_path_factory.mktemp("lane_change") / "drive"
    simulate("aggressive_lane_change", rec, assignments=["duration_s=20"], seed=0, video=True)
    return rec


class ClosingSink:
    """A test sink: keeps the events, notes its close, fails on ``emit`` when told."""

    instances: ClassVar[list[ClosingSink]] = []

    def __init__(self, arg: str | None) -> None:
        if arg == "bad":
            raise ValueError("toy: bad is not an argument")
        self.fail = arg == "fail"
        self.events: list[Event] = []
        self.closed = False
        ClosingSink.instances.append(self)

    def emit(self, event: Event) -> None:
        if self.fail:
            raise ValueError("toy: refused the event")
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def closing() -> Iterator[type[ClosingSink]]:
    ClosingSink.instances = []
    register("closing", ClosingSink, help="a test sink")
    try:
        yield ClosingSink
    finally:
        unregister("closing")


def test_the_package_registers_jsonl_and_refuses_a_taken_name() -> None:
    assert [s.name for s in sinks()] == ["jsonl"]
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert modules == {"jsonl", "registry"}
    assert sinks()[0].build.__module__ == importlib.import_module("saferoad.adapters.sinks.jsonl").__name__
    with pytest.raises(ValueError, match=r"sink 'jsonl' is already registered \(by saferoad\.adapters\.sinks\.jsonl\)"):
        register("jsonl", ClosingSink, help="another")
    with pytest.raises(ValueError, match="without ':'"):
        register("a:b", ClosingSink, help="x")
    with pytest.raises(ValueError, match=r"--sink 'nope': unknown sink 'nope' \(registered sinks: jsonl \(each final"):
        build_sink("nope")


def test_jsonl_to_a_file_writes_exactly_the_lines_of_events_jsonl(lane_change: Path, tmp_path: Path) -> None:
    out, lines = tmp_path / "out", tmp_path / "events-copy.jsonl"
    res = CliRunner().invoke(app, ["analyze", str(lane_change), "-o", str(out), "-q", "--sink", f"jsonl:{lines}"])
    assert res.exit_code == 0, res.output
    written = (out / "events.jsonl").read_text(encoding="utf-8")
    assert lines.read_text(encoding="utf-8") == written
    [event] = [json.loads(line) for line in written.splitlines() if "aggressive_lane_change" in line]
    assert (out / event["evidence"]["clip"]).is_file()  # the final event: the road stage's clip
    assert event["direction"] == event["evidence"]["camera_lane_change"]["direction"]


def test_jsonl_to_stdout_streams_the_events_and_moves_the_table_to_stderr(braking: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _cli(None, "analyze", str(braking), "-o", str(out), "--sink", "jsonl:-")
    assert run.returncode == 0, run.stderr[-3000:]
    written = (out / "events.jsonl").read_text(encoding="utf-8")
    assert "harsh_braking" in written
    assert run.stdout == written  # nothing else on stdout: it pipes
    assert "1 event(s) in" in run.stderr and f"outputs in {out}" in _flat(run.stderr)


def test_a_reader_that_leaves_stdout_stops_the_stream_not_the_run(braking: Path, tmp_path: Path) -> None:
    """``analyze ... --sink jsonl:- | head -1``: the reader closes the pipe; the run goes on and
    writes its folder (it failed with BrokenPipeError before the sink caught it)."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, str(SRC), "analyze", str(braking), "-o", str(out), "-q", "--sink", "jsonl:-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # gone before the first event (the run reads and analyses first)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    assert "harsh_braking" in (out / "events.jsonl").read_text(encoding="utf-8")
    assert "BrokenPipe" not in err


def test_the_jsonl_sink_raises_a_broken_pipe_of_its_own_file() -> None:
    event = Event(EventType.HARSH_BRAKING, 1.0, 2.0, Severity.MEDIUM, 0.9)
    for owned in (False, True):
        read_end, write_end = os.pipe()
        os.close(read_end)
        stream = os.fdopen(write_end, "w", encoding="utf-8")
        sink = JsonlSink(stream, owned=owned)
        if owned:
            with pytest.raises(BrokenPipeError):
                sink.emit(event)
            with pytest.raises(BrokenPipeError):  # the line left in its buffer; the file is closed all the same
                sink.close()
            assert stream.closed
            continue
        sink.emit(event)
        sink.emit(event)
        sink.close()
        assert sink.reader_gone
        stream.close()  # the descriptor now points at /dev/null: the buffered line goes nowhere


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("nope", "--sink 'nope': unknown sink 'nope'"),
        ("nope:x", "--sink 'nope:x': unknown sink 'nope'"),  # quoted: Rich would print :x: as an emoji
        ("jsonl", "--sink 'jsonl': jsonl needs a path, or - for standard output"),
        ("jsonl:", "--sink 'jsonl:': jsonl needs a path"),
        ("jsonl:{tmp}", "--sink 'jsonl:{tmp}': jsonl: {tmp} is a folder, not a file"),
        ("jsonl:{tmp}/no/such/x.jsonl", "cannot write {tmp}/no/such/x.jsonl: No such file or directory"),
    ],
)
def test_an_unknown_sink_or_a_bad_arg_exits_2_naming_the_option_and_the_sinks(
    spec: str, why: str, braking: Path, tmp_path: Path
) -> None:
    spec, why = spec.format(tmp=tmp_path), why.format(tmp=tmp_path)
    res = CliRunner().invoke(app, ["analyze", str(braking), "-o", str(tmp_path / "out"), "-q", "--sink", spec])
    assert res.exit_code == 2, res.output
    message = _flat(res.stderr)
    assert why in message and "(registered sinks: jsonl (each final event as a line of events.jsonl" in message
    assert not (tmp_path / "out").exists()  # refused before the run


def test_a_fleet_folder_refuses_sink(tmp_path: Path) -> None:
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "manifest.yaml").write_text("recordings: []\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "fleet"), "-o", str(tmp_path / "out"), "--sink", "jsonl:-"])
    assert res.exit_code == 2, res.output
    assert f"--sink takes one recording, and {tmp_path / 'fleet'} is not a recording folder" in _flat(res.stderr)


def test_sinks_are_closed_at_the_end_even_when_the_run_or_a_build_fails(
    closing: type[ClosingSink], braking: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["analyze", str(braking), "-o", str(tmp_path / "a"), "-q", "--sink", "closing"])
    assert ok.exit_code == 0, ok.output
    [sink] = closing.instances
    assert sink.closed and [e.to_dict() for e in sink.events] == [
        json.loads(line) for line in (tmp_path / "a/events.jsonl").read_text(encoding="utf-8").splitlines()
    ]

    closing.instances = []  # the second sink fails on its first event: the run fails, both are closed
    failed = runner.invoke(
        app, ["analyze", str(braking), "-o", str(tmp_path / "b"), "-q", "--sink", "closing", "--sink", "closing:fail"]
    )
    assert failed.exit_code == 2 and "toy: refused the event" in failed.stderr, failed.output
    assert [s.closed for s in closing.instances] == [True, True]
    assert not (tmp_path / "b" / "events.jsonl").exists()  # the failed run left OUT as it was

    closing.instances = []  # the second cannot be built: the first, built already, is closed
    bad = runner.invoke(
        app, ["analyze", str(braking), "-o", str(tmp_path / "c"), "-q", "--sink", "closing", "--sink", "closing:bad"]
    )
    assert bad.exit_code == 2 and "--sink 'closing:bad': toy: bad is not an argument" in _flat(bad.stderr)
    assert [s.closed for s in closing.instances] == [True]


# --- the recipe of docs/architecture.md: one module dropped into a copy of the source ---

TOY_SINK = '''"""A toy sink: one ``TYPE START_S`` line per event, to the file its ARG names."""

from pathlib import Path
from typing import ClassVar

from saferoad.adapters.sinks.registry import register
from saferoad.domain.types import Event, EventType, Severity


class TypesFile:
    def __init__(self, path: Path) -> None:
        self.fh = path.open("w", encoding="utf-8")

    def emit(self, event: Event) -> None:
        self.fh.write(f"{event.type.value} {event.start_s}\\n")

    def close(self) -> None:
        self.fh.write("closed\\n")
        self.fh.close()


def build(arg: str | None) -> TypesFile:
    if not arg:
        raise ValueError("types needs a path")
    return TypesFile(Path(arg))


register("types", build, help="each event's type and start, to the file ARG")
'''


def test_a_module_dropped_into_the_package_is_the_whole_change(braking: Path, tmp_path: Path) -> None:
    """The toy sink put in ``adapters/sinks/`` of a copy of the source and NOTHING else edited:
    an unknown ``--sink`` lists it, ``--sink types:PATH`` receives the events; removed, it is
    unknown again."""
    root = tmp_path / "src"
    shutil.copytree(SRC / "saferoad", root / "saferoad", ignore=shutil.ignore_patterns("__pycache__"))
    module = root / "saferoad" / "adapters" / "sinks" / "types_file.py"
    module.write_text(TOY_SINK, encoding="utf-8")

    listed = _cli(root, "analyze", str(braking), "-o", str(tmp_path / "x"), "--sink", "nope")
    assert listed.returncode == 2, listed.stderr[-3000:]
    assert "(registered sinks: jsonl (each final event as a line of events.jsonl, to ARG: a file path, or - for " \
           "stdout); types (each event's type and start, to the file ARG))" in _flat(listed.stderr)

    out, got = tmp_path / "out", tmp_path / "types.txt"
    run = _cli(root, "analyze", str(braking), "-o", str(out), "-q", "--sink", f"types:{got}")
    assert run.returncode == 0, run.stderr[-3000:]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any(e["type"] == "harsh_braking" for e in events)
    assert got.read_text(encoding="utf-8").splitlines() == [f"{e['type']} {e['start_s']}" for e in events] + ["closed"]

    module.unlink()
    gone = _cli(root, "analyze", str(braking), "-o", str(tmp_path / "y"), "--sink", f"types:{got}")
    assert gone.returncode == 2 and "unknown sink 'types'" in gone.stderr, gone.stderr[-3000:]
