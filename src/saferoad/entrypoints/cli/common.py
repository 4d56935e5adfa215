"""Shared pieces of the CLI: consoles, config options, and turning known errors into
clear messages (exit status 2) instead of tracebacks.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from saferoad.config import SaferoadConfig

# saferoad.config is imported inside the functions on purpose: it loads numpy (through
# saferoad.domain.types) and pydantic, which `saferoad --help` must not pay for
# (tests/test_cli_startup.py).

console = Console(emoji=False)  # user text (paths, specs such as "x:smile:") is printed as written
console_err = Console(stderr=True, emoji=False)


class UserError(Exception):
    """An error the user can fix (bad input, bad config); printed without a traceback."""


ConfigOption = typer.Option(
    None, "--config", "-c", help="TOML config file (defaults are documented in docs/config.md)."
)
SetOption = typer.Option(
    None, "--set", help="Override one config key, e.g. --set motion.braking_g=0.4 (repeatable)."
)


def load_cli_config(
    path: Path | None,
    sets: list[str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> SaferoadConfig:
    """The config file at ``path``, then the ``--set KEY=VALUE`` strings, then ``options``: a
    command's own options by dotted key (``{"perception.detector": detector}``), typed values
    passed as they are (``None``: not given). An option wins over a ``--set`` of the same key."""
    import saferoad.adapters.detectors  # noqa: F401  the detector plugins register their config models on import
    from saferoad.config import ConfigError, load_config, parse_assignments, set_dotted

    try:
        overrides = parse_assignments(sets or [])
        for key, value in (options or {}).items():
            if value is not None:
                set_dotted(overrides, key, value)
        return load_config(path, overrides)
    except ConfigError as err:
        raise UserError(str(err)) from None


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn input errors (``ValueError`` subclasses the readers raise, missing files) into a
    clean message and exit status 2."""
    try:
        yield
    except (UserError, FileNotFoundError, ValueError) as err:  # ConfigError is a ValueError
        # escape: messages name TOML tables ("[cabin_camera] needs ..."), not Rich markup
        console_err.print(f"[bold red]error:[/] {escape(str(err))}")
        raise typer.Exit(2) from None


def log_for_terminal(json_file: Path | None, level: str = "INFO") -> None:
    """Logging for a command whose output is a table: every record at ``level`` goes to
    ``json_file`` as JSON, and warnings and errors also to stderr as one readable line each
    (a reader's documented repair shows there once: its Python ``RecordingWarning``, which
    says the same, is not printed as well)."""
    from saferoad.adapters.input_warnings import RecordingWarning
    from saferoad.observability import configure_logging

    configure_logging(level, json_file=json_file, console_level="WARNING")
    warnings.filterwarnings("ignore", category=RecordingWarning)
