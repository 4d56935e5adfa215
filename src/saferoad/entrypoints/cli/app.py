"""The ``saferoad`` command: a Typer app whose commands live one module each under
``saferoad.entrypoints.cli.commands``. Each module defines ``register(app)``; this file finds
them, so adding a command never edits this file."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys

import typer

from saferoad._version import __version__
from saferoad.entrypoints.cli import commands
from saferoad.entrypoints.cli.common import UserError, console_err

app = typer.Typer(
    name="saferoad",
    help="AI drive recorder for fleets: analyse drives, find risky driving, score and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"saferoad {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """saferoad: one core for the vehicle and the cloud."""


def _unwrap(doc: str) -> str:
    """A docstring as help text: the lines of each paragraph joined (Typer's Rich output keeps
    a source file's line breaks, which made ragged command lists)."""
    return "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n") if p.strip())


def _help_from_docstrings(typer_app: typer.Typer) -> None:
    for cmd in typer_app.registered_commands:
        if cmd.help is None and cmd.callback is not None and cmd.callback.__doc__:
            cmd.help = _unwrap(inspect.cleandoc(cmd.callback.__doc__))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _help_from_docstrings(group.typer_instance)


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"command module {info.name} has no register(app)")
        register(app)
    _help_from_docstrings(app)


_register_all()

# Top-level modules of the distributions in the `cloud` extra (pyproject.toml). An edge install
# (the base distribution, docs/deploy.md "The edge wheel") lacks them; a command that needs one
# says which extra to install instead of a traceback. tests/deploy/test_edge_wheel.py checks this
# set against the extra's distributions.
CLOUD_MODULES = frozenset({
    "pandas", "onnx", "grpc", "grpc_health", "grpc_reflection", "ray", "motmetrics",
    "pycocotools", "sqlalchemy", "alembic", "psycopg", "jinja2", "matplotlib", "fastapi",
    "uvicorn", "multipart", "python_multipart", "pwdlib",
})  # fmt: skip


def main() -> None:
    try:
        app(standalone_mode=True)
    except UserError as err:
        console_err.print(f"[bold red]error:[/] {err}")
        sys.exit(2)
    except ModuleNotFoundError as err:
        missing = (err.name or "").partition(".")[0]
        if missing not in CLOUD_MODULES:
            raise
        console_err.print(
            f"[bold red]error:[/] this command needs saferoad's cloud extra ({missing} is not "
            "installed): pip install 'saferoad\\[cloud]'"
        )
        sys.exit(2)
