"""``saferoad config show`` and ``saferoad config docs``."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import ConfigOption, SetOption, load_cli_config, user_errors


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Show and document the configuration.", no_args_is_help=True)

    @group.command("show")
    def show(
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Print the effective configuration (defaults + file + --set) as TOML."""
        with user_errors():
            cfg = load_cli_config(config, set_)
        from saferoad.config import to_toml  # deferred: numpy + pydantic (see cli/common.py)

        typer.echo(to_toml(cfg), nl=False)

    @group.command("docs")
    def docs(output: Path | None = typer.Option(None, "-o", "--output")) -> None:
        """Write the reference of every key and default as Markdown (docs/config.md)."""
        import saferoad.adapters.detectors  # noqa: F401  deferred: registers every detector plugin's keys
        from saferoad.config.docs import config_markdown  # deferred: numpy + pydantic

        text = config_markdown()
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")

    app.add_typer(group, name="config")
