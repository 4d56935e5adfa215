"""The cabin stage of analyze (see the package docstring for the stage contract)."""

from __future__ import annotations

from saferoad.application.context import AnalysisContext


def run(ctx: AnalysisContext) -> None:
    """Not wired yet: recordings are analysed without this stage."""
    return None
