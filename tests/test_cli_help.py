"""Every command's help reads as written: paragraphs are not broken at the source file's line
ends, and nothing in square brackets (a TOML table such as ``[cabin_camera]``, an optional
argument) is swallowed as Rich markup."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app

GROUP: Any = typer.main.get_command(app)  # Typer's own (vendored) Click group


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for name, cmd in group.commands.items():
        out.append(((*prefix, name), cmd))
        if hasattr(cmd, "commands"):
            out += _commands(cmd, (*prefix, name))
    return out


COMMANDS = _commands(GROUP)


def _rendered(args: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def _plain(text: str) -> str:
    """What the help should show: escaped brackets unescaped, whitespace collapsed."""
    return " ".join(text.replace("\\[", "[").split())


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_bracketed_text_survives(path: tuple[str, ...]) -> None:
    cmd = dict(COMMANDS)[path]
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    shown = _rendered(path)
    for text in texts:
        for token in re.findall(r"\[[^\]\s]+\]", _plain(text)):
            assert token in shown, f"{' '.join(path)}: {token} lost from the help"


def test_command_list_is_not_broken_at_source_line_ends() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    # the cabin command's summary is two source lines; at 200 columns it fits on one
    line = next(ln for ln in result.output.splitlines() if " cabin " in ln)
    assert "drowsiness, distraction and camera-obstructed events" in line
