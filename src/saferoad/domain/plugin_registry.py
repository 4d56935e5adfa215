"""The table the adapters' plugin registries share: detectors (``adapters/detectors/registry.py``),
recording formats (``adapters/recording/registry.py``) and event sinks
(``adapters/sinks/registry.py``).

Each registry module keeps its own entry type, its own checks of what is registered and its
public functions; what is the same for all three lives here once: entries by name, a name
another module already registered refused while the same module registering again (re-imported)
replaces its entry, a name dropped without error when absent, the entries in their order, and
an unknown name refused with what is known.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one ``kind`` (``"sink"``, ``"recording format"``: the errors name it).

    Each entry is registered under the name its registry module gives it (the detectors': the
    ``type`` their config model allows). ``origin``: the module an entry comes from; with it,
    :meth:`register` refuses a name another module registered. ``order``: what :meth:`ordered`
    sorts by (the name when unset). ``entries``: the table, by name (the same dict for the
    registry's whole life: the detectors publish it as ``DETECTORS``).
    """

    def __init__(
        self,
        kind: str,
        *,
        origin: Callable[[T], str] | None = None,
        order: Callable[[T], Any] | None = None,
    ) -> None:
        self.kind = kind
        self._origin = origin
        self._order = order
        self.entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``; a name another module already registered is a
        ``ValueError`` (``<kind> 'name' is already registered (by <module>)``)."""
        old = self.entries.get(name)
        if old is not None and self._origin is not None and self._origin(old) != self._origin(entry):
            raise ValueError(f"{self.kind} {name!r} is already registered (by {self._origin(old)})")
        self.entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Drop the entry ``name`` (a test's plugin, when the test ends); unknown: nothing."""
        self.entries.pop(name, None)

    def ordered(self) -> tuple[T, ...]:
        """Every entry, sorted by ``order`` (by name when unset)."""
        if self._order is None:
            return tuple(self.entries[name] for name in sorted(self.entries))
        return tuple(sorted(self.entries.values(), key=self._order))

    def lookup(self, name: str, where: str, known: Callable[[], str] | None = None) -> T:
        """The entry ``name``; unknown, a ``ValueError``: ``<where>: unknown <kind> 'name'
        (<known>)``, ``known()`` by default ``known: a, b, c`` (the names, sorted)."""
        entry = self.entries.get(name)
        if entry is None:
            listed = known() if known is not None else f"known: {', '.join(sorted(self.entries))}"
            raise ValueError(f"{where}: unknown {self.kind} {name!r} ({listed})")
        return entry
