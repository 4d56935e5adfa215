"""The CLI starts without importing heavy libraries: each command imports what it needs inside
its own function, so ``saferoad --help`` (and every ``saferoad CMD --help``) costs only Typer,
Rich and the command modules. A module list, not a timing (start-up time is measured by
``benchmarks/bench_cli_startup.py``)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from saferoad.domain.matching import DEFAULT_TOLERANCE_S
from saferoad.entrypoints.cli.app import app

HEAVY = {
    "numpy", "scipy", "pandas", "pyarrow", "cv2", "av", "PIL", "onnx", "onnxruntime",
    "sqlalchemy", "alembic", "psycopg", "ray", "matplotlib", "grpc", "tritonclient", "jinja2",
    "structlog", "motmetrics", "shapely", "httpx", "fastapi", "uvicorn", "yaml", "pynmea2",
    "gpxpy", "saferoad.config", "saferoad.domain.types", "saferoad.adapters",
    "saferoad.application",
}  # fmt: skip

# In a fresh interpreter: import the app, then print every module loaded by `saferoad --help`
# and by each command's --help (Typer builds the command, resolving its options).
_PROBE = """
import json, sys
import typer.main
from saferoad.entrypoints.cli.app import app, main
loaded = {"import": sorted(sys.modules)}
def paths(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from paths(cmd, (*prefix, name))
for args in [(), *paths(typer.main.get_command(app))]:
    sys.argv = ["saferoad", *args, "--help"]
    try:
        main()
    except SystemExit:
        pass
    loaded[" ".join(args) or "--help"] = sorted(sys.modules)
print("\\n" + json.dumps(loaded))
"""


def _heavy(modules: list[str]) -> set[str]:
    return {m for m in modules if m in HEAVY or any(m.startswith(h + ".") for h in HEAVY)}


def test_help_imports_no_heavy_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    assert len(loaded) > 10  # the import, --help and every command
    for what, modules in loaded.items():
        heavy = _heavy(modules)
        assert not heavy, f"`saferoad {what}` imports {sorted(heavy)}"


def test_probe_would_see_a_heavy_import() -> None:
    """The check can fail: a process that loads the config is caught."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys, saferoad.config; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert {"numpy", "saferoad.config"} <= _heavy(out.split())


def test_score_events_help_states_the_matchers_tolerance() -> None:
    """score-events' --tolerance has no default in the CLI (importing the matcher would load
    numpy); its help names the matcher's value, which must stay true."""
    result = CliRunner().invoke(app, ["score-events", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert f"default: the matcher's ({DEFAULT_TOLERANCE_S:g} s)" in " ".join(result.output.split())


def test_config_loads_without_the_motion_rules() -> None:
    """Every command loads the config; the config validates streaming and band parameters, but
    must not import the motion engine and SciPy to do so (they cost about 1.4 s of each start-up
    when ``config.edge`` imported ``domain.motion.streaming``). It loads the registered motion
    rules' modules (``domain/motion/rules/``: their keys and specs), which load without SciPy."""
    probe = "import json, sys, saferoad.config; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    modules: list[str] = json.loads(out.strip().splitlines()[-1])
    loaded = {m for m in modules if m == "scipy" or m.startswith(("scipy.", "saferoad.domain.motion."))}
    rules = {m for m in loaded if m.startswith("saferoad.domain.motion.rules.")}
    assert loaded - rules <= {
        "saferoad.domain.motion.stream_params", "saferoad.domain.motion.bands", "saferoad.domain.motion.params",
        "saferoad.domain.motion.rules", "saferoad.domain.motion.harsh", "saferoad.domain.motion.regions",
    }, sorted(loaded)
