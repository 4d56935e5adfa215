"""The ``jsonl`` sink: each final event as one JSON line, the same line ``events.jsonl`` holds
(``adapters/outputs/files.event_line``), written and flushed as the event arrives, to a file
or to standard output (``--sink jsonl:-``, for piping).

The lines come in the order ``analyze`` hands events out: each stage's final events in time
order (start, then type), the road stage's with the motion stage's, the cabin stage's after
them; ``events.jsonl`` holds the same lines sorted by time once the run ends.

A reader that leaves standard output early (``| head -1``) stops the stream, not the run: the
sink writes no more and ``analyze`` still writes its output folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from saferoad.adapters.outputs.files import event_line
from saferoad.adapters.sinks.registry import STDOUT_ARG, register
from saferoad.domain.types import Event


class JsonlSink:
    """An :class:`~saferoad.ports.events.EventSink` writing :func:`event_line` per event to
    ``stream``, flushed each time; :meth:`close` closes the stream only when ``owned`` (a file
    it opened, never standard output). On a stream it does not own, a reader gone (a broken
    pipe) ends the writing quietly; on its own file every ``OSError`` is raised."""

    def __init__(self, stream: TextIO, *, owned: bool) -> None:
        self.stream = stream
        self.owned = owned
        self.reader_gone = False

    def emit(self, event: Event) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.write(event_line(event))
            self.stream.flush()
        except BrokenPipeError:
            if self.owned:
                raise
            self._reader_left()

    def close(self) -> None:
        if self.owned:
            self.stream.close()
        elif not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._reader_left()

    def _reader_left(self) -> None:
        """Point the stream's descriptor at /dev/null, so the line left in its buffer is not
        written again at exit (Python's documented way: the "Note on SIGPIPE" of the signal
        module)."""
        self.reader_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
        finally:
            os.close(devnull)


def build(arg: str | None) -> JsonlSink:
    """``jsonl:PATH`` (the file is created or emptied now, so a bad path fails before the
    analysis) or ``jsonl:-`` (standard output)."""
    if not arg:
        raise ValueError("jsonl needs a path, or - for standard output (jsonl:PATH or jsonl:-)")
    if arg == STDOUT_ARG:
        return JsonlSink(sys.stdout, owned=False)
    path = Path(arg)
    if path.is_dir():
        raise ValueError(f"jsonl: {path} is a folder, not a file")
    try:
        stream = path.open("w", encoding="utf-8")
    except OSError as err:
        raise ValueError(f"jsonl: cannot write {path}: {err.strerror}") from None
    return JsonlSink(stream, owned=True)


register("jsonl", build, help="each final event as a line of events.jsonl, to ARG: a file path, or - for stdout")
