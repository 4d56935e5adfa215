"""Process-wide settings changed while any of several overlapping users needs them.

``cv2.setNumThreads`` and ``sys.setswitchinterval`` act on the whole process. A context
manager that saves, sets and restores such a setting goes wrong as soon as two of them overlap
in different threads (``saferoad serve`` runs ``inference.max_concurrent_analyses`` analyses at
once, each with its own perception pool): the first to leave restores the old value under the
one still running, and the last restores the *temporary* value, which then stays for good.
:class:`SharedSetting` counts its holders instead: the first saves and sets, the last restores.

It wraps no technology (the standard library's ``threading`` only; the caller hands in the
getter and setter), so it sits beside ``observability`` for every layer to use: the
application lowers the GIL switch interval around perception's thread pool, the ONNX adapter
holds OpenCV single-threaded (issue 16: it was filed under ``adapters/``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedSetting(Generic[T]):
    """One process-wide setting (``get``/``set_``) held by any number of overlapping users.

    Every holder asks for the same value (``choose(previous value)``); the first holder's
    choice applies until the last holder leaves, which puts the previous value back."""

    def __init__(self, get: Callable[[], T], set_: Callable[[T], None]) -> None:
        self._get = get
        self._set = set_
        self._lock = threading.Lock()
        self._holders = 0
        self._before: list[T] = []

    @contextmanager
    def held(self, choose: Callable[[T], T]) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                before = self._get()
                self._set(choose(before))
                self._before = [before]
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._set(self._before.pop())
