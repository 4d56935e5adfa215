"""Structured JSON logging with begin/end spans, exportable as a Chrome trace.

Every pipeline stage runs inside :func:`span`::

    with span("motion.align", samples=n):
        ...

which logs ``span_begin`` and ``span_end`` (with ``duration_ms``) through structlog and, when
a :class:`TraceRecorder` is active, records a complete event (``"ph": "X"``) in the Chrome
trace-event format, so a run opens in Perfetto (ui.perfetto.dev) or ``chrome://tracing``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import structlog

_recorder: contextvars.ContextVar[TraceRecorder | None] = contextvars.ContextVar(
    "saferoad_trace_recorder", default=None
)


class ConsoleFormatter(logging.Formatter):
    """One readable line per record for a person at a terminal: ``warning: input_repaired
    (message=...)`` from the JSON line structlog rendered."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        try:
            data = json.loads(text)
        except ValueError:
            return text
        if not isinstance(data, dict):
            return text
        level = data.pop("level", record.levelname.lower())
        event = data.pop("event", "")
        data.pop("timestamp", None)
        details = ", ".join(f"{k}={v}" for k, v in data.items())
        return f"{level}: {event}" + (f" ({details})" if details else "")


def _level(name: str) -> int:
    lvl = logging.getLevelName(name.upper())
    if not isinstance(lvl, int):
        raise ValueError(f"unknown log level {name!r}")
    return lvl


def configure_logging(
    level: str = "INFO",
    stream: IO[str] | None = None,
    json_file: Path | None = None,
    *,
    console_level: str | None = None,
) -> None:
    """Configure structlog to print JSON lines to ``stream`` (stderr by default) and, when
    ``json_file`` is given, to append them to that file as well. ``console_level``: the
    stream gets only records at that level or above, as one readable line each (the file
    keeps every record at ``level`` as JSON) — for commands whose output is a table."""
    lvl = _level(level)
    console = logging.StreamHandler(stream or sys.stderr)
    if console_level is not None:
        console.setLevel(_level(console_level))
        console.setFormatter(ConsoleFormatter())
    else:
        console.setFormatter(logging.Formatter("%(message)s"))
    handlers: list[logging.Handler] = [console]
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(json_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(message)s"))
        handlers.append(file_handler)
    root = logging.getLogger("saferoad")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(lvl)
    root.propagate = False
    _json_to_logging(wrapper_class=structlog.make_filtering_bound_logger(lvl))


def quiet_unless_configured() -> None:
    """The public API's logging (``saferoad.analyze``, ``Pipeline`` in a notebook or a script):
    when nothing has configured structlog yet, its records go to the standard ``logging``
    module's ``saferoad`` logger as JSON lines, instead of structlog's default of printing
    every record (each stage's ``span_begin``/``span_end``) to stdout. A library call then
    shows what ``logging`` is set to show: warnings and errors (on stderr, through
    ``logging``'s last-resort handler) until the caller asks for more
    (``logging.basicConfig(level="INFO")``). A configuration already made (the CLI's
    :func:`configure_logging`, the caller's own ``structlog.configure``) is left as it is."""
    if structlog.is_configured():
        return
    _json_to_logging()


def _json_to_logging(**options: Any) -> None:
    """structlog configured to render each record as one JSON line (level, ISO UTC timestamp,
    exception text) through the standard ``logging`` module (the ``saferoad`` loggers); ``options``:
    more ``structlog.configure`` arguments (the CLI's level filter)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
        **options,
    )


def get_logger(name: str = "saferoad") -> Any:
    """A structlog logger routed through the ``saferoad`` stdlib logger."""
    return structlog.get_logger("saferoad." + name if not name.startswith("saferoad") else name)


class TraceRecorder:
    """Collects spans as Chrome trace events (complete events, microseconds)."""

    def __init__(self, process_name: str = "saferoad") -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._t0 = time.perf_counter()
        self._pid = os.getpid()
        self.process_name = process_name

    def add(self, name: str, start: float, end: float, args: dict[str, Any]) -> None:
        ev = {
            "name": name,
            "cat": name.split(".", 1)[0],
            "ph": "X",
            "ts": round((start - self._t0) * 1e6, 3),
            "dur": round((end - start) * 1e6, 3),
            "pid": self._pid,
            "tid": threading.get_ident() % 2**31,
            "args": {k: _plain(v) for k, v in args.items()},
        }
        with self._lock:
            self._events.append(ev)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def stage_seconds(self) -> dict[str, float]:
        """Total seconds per span name (what ``summary.json`` reports as ``stages``)."""
        out: dict[str, float] = {}
        for ev in self.events:
            out[ev["name"]] = out.get(ev["name"], 0.0) + ev["dur"] / 1e6
        return {k: round(v, 6) for k, v in out.items()}

    def to_chrome(self) -> dict[str, Any]:
        meta = [
            {
                "name": "process_name",
                "ph": "M",
                "pid": self._pid,
                "tid": 0,
                "args": {"name": self.process_name},
            }
        ]
        return {"traceEvents": meta + self.events, "displayTimeUnit": "ms"}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_chrome()), encoding="utf-8")


def _plain(v: Any) -> Any:
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)


@contextlib.contextmanager
def recording_trace(recorder: TraceRecorder | None = None) -> Iterator[TraceRecorder]:
    """Make ``recorder`` (or a new one) the active trace for spans in this context."""
    rec = recorder or TraceRecorder()
    token = _recorder.set(rec)
    try:
        yield rec
    finally:
        _recorder.reset(token)


@contextlib.contextmanager
def span(name: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Time a pipeline stage: logs begin/end and records a trace event.

    The yielded dict may be filled with results (counts, sizes) that are logged at the end.
    """
    log = get_logger("span")
    log.info("span_begin", span=name, **fields)
    result: dict[str, Any] = {}
    start = time.perf_counter()
    try:
        yield result
    except BaseException as exc:
        end = time.perf_counter()
        log.warning(
            "span_end", span=name, duration_ms=round((end - start) * 1e3, 3), error=repr(exc)
        )
        rec = _recorder.get()
        if rec is not None:
            rec.add(name, start, end, {**fields, **result, "error": repr(exc)})
        raise
    end = time.perf_counter()
    log.info("span_end", span=name, duration_ms=round((end - start) * 1e3, 3), **fields, **result)
    rec = _recorder.get()
    if rec is not None:
        rec.add(name, start, end, {**fields, **result})
