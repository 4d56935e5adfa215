#!/usr/bin/env python3
"""Dependency updates, as a bot would propose them: `make update`.

    python scripts/update_deps.py run [--work DIR] [--out REPORT.md]
    python scripts/update_deps.py report OLD.lock NEW.lock [--results RESULTS.json]

``run``: exports the committed tree (``git archive HEAD``, so nothing in this checkout changes)
into a work copy, re-resolves its ``requirements.lock`` to the newest versions pyproject.toml
allows (``uv pip compile --upgrade``, the same command as ``make lock``, and the edge image's
deploy/requirements-edge.lock from it), installs that into the
work copy's own venv, runs ruff, mypy and the snapshot tests (every test module next to a
``__snapshots__`` folder: they pin detections, events and scores), and writes a short report:
versions changed, and each check's result with the snapshot tests that moved. It exits 1 when a
check fails, so an update that silently changes detections or events is caught before it lands;
adopting it is copying the work copy's requirements.lock (and deploy/requirements-edge.lock) here.

``report``: the same report from two lock files (and optionally a results JSON), no work copy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def parse_lock(text: str, source: str = "lock") -> dict[str, str]:
    """name (normalised) -> version, from a uv/pip-compile lock file."""
    pins: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line.startswith((" ", "\t")):
            continue
        m = PIN.match(stripped)
        if not m:
            raise ValueError(f"{source}: line {n}: not a 'name==version' pin: {stripped!r}")
        pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


@dataclass(frozen=True)
class Change:
    name: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "major" if _major(self.old) != _major(self.new) else "changed"


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def diff_locks(old: dict[str, str], new: dict[str, str]) -> list[Change]:
    names = sorted(set(old) | set(new))
    return [Change(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


def render_report(
    changes: list[Change], results: dict[str, dict[str, object]] | None = None
) -> str:
    """Markdown: the version changes (major bumps first), then each check and what moved."""
    out = ["# Dependency update", ""]
    if not changes:
        out.append("No version changed: the lock is already at the newest allowed versions.")
    else:
        counts = {
            k: sum(c.kind == k for c in changes) for k in ("major", "changed", "added", "removed")
        }
        out.append(
            f"{len(changes)} packages changed: {counts['major']} major, {counts['changed']} minor/patch, "
            f"{counts['added']} added, {counts['removed']} removed."
        )
        out += ["", "| package | old | new | |", "|---|---|---|---|"]
        order = {"major": 0, "removed": 1, "added": 2, "changed": 3}
        for c in sorted(changes, key=lambda c: (order[c.kind], c.name)):
            out.append(f"| {c.name} | {c.old or '–'} | {c.new or '–'} | {c.kind} |")
    if results is not None:
        out += ["", "## Checks", ""]
        for name, res in results.items():
            ok = res.get("returncode") == 0
            line = f"- {name}: {'passed' if ok else 'FAILED'} (exit {res.get('returncode')})"
            if res.get("summary"):
                line += f": {res['summary']}"
            if res.get("seconds") is not None:
                line += f", {res['seconds']} s"
            out.append(line)
            for test in res.get("failed", []) or []:  # type: ignore[union-attr]
                out.append(f"  - {test}")
            for skip in res.get("skipped", []) or []:  # type: ignore[union-attr]
                out.append(f"  - skipped: {skip}")
        failed = [n for n, r in results.items() if r.get("returncode") != 0]
        out += [
            "",
            "Verdict: "
            + ("do not merge: " + ", ".join(failed) + " failed" if failed else "all checks green"),
        ]
    return "\n".join(out) + "\n"


def failed_tests(pytest_output: str) -> list[str]:
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", pytest_output, re.M)))


def pytest_summary(pytest_output: str) -> str:
    """pytest's last line without the '=' rule, e.g. '41 passed, 2 skipped in 80.1s'."""
    lines = [ln.strip(" =") for ln in pytest_output.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def skipped_tests(pytest_output: str) -> list[str]:
    """The 'SKIPPED [n] file:line: reason' lines of pytest's -ra summary, without the prefix."""
    return re.findall(r"^SKIPPED \[\d+\] (.+)$", pytest_output, re.M)


def snapshot_test_files(root: Path) -> list[str]:
    files = []
    for snaps in sorted((root / "tests").rglob("__snapshots__")):
        for sub in sorted(p for p in snaps.iterdir() if p.is_dir()):
            test = snaps.parent / f"{sub.name}.py"
            if test.exists():
                files.append(str(test.relative_to(root)))
    return files


def _sh(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)


def check_env() -> dict[str, str]:
    """The environment the checks run in. The work copy is not beside ../shared, so the real
    material's path is passed on as an absolute SAFEROAD_SHARED (this checkout's, as
    tests/conftest.py finds it); CI=true makes a test that lacks the material (or Chromium) fail
    instead of skipping, so a snapshot test cannot pass by not running."""
    shared = os.environ.get("SAFEROAD_SHARED") or str(ROOT.parent / "shared")
    return {**os.environ, "SAFEROAD_SHARED": str(Path(shared).resolve()), "CI": "true"}


def run(work: Path, out: Path) -> int:
    work.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
    )
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive.stdout)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(work, filter="data")
    old = parse_lock((work / "requirements.lock").read_text(), "requirements.lock (HEAD)")
    uv = str(ROOT / ".venv" / "bin" / "uv")
    steps = [
        [
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            "--extra",
            "dev",
            "--python-version",
            "3.11",
            "--upgrade",
            "-o",
            "requirements.lock",
        ],
        # the edge image's lock follows (make lock): the new pins for the base dependencies only
        [
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            "-c",
            "requirements.lock",
            "--python-version",
            "3.11",
            "-o",
            "deploy/requirements-edge.lock",
        ],
        [uv, "venv", "--python", sys.executable, ".venv"],
        [uv, "pip", "install", "--python", ".venv/bin/python", "-r", "requirements.lock"],
        [uv, "pip", "install", "--python", ".venv/bin/python", "--no-deps", "-e", "."],
    ]
    for cmd in steps:
        res = _sh(cmd, work)
        if res.returncode != 0:
            print(res.stdout[-4000:], res.stderr[-4000:], file=sys.stderr)
            return 2
    new = parse_lock((work / "requirements.lock").read_text(), "requirements.lock (updated)")
    results: dict[str, dict[str, object]] = {}
    env = check_env()
    for name, cmd in [
        ("ruff", [".venv/bin/ruff", "check", "src", "tests", "benchmarks"]),
        ("mypy", [".venv/bin/mypy", "src"]),
        (
            "snapshot tests",
            [".venv/bin/pytest", "-q", "-p", "no:cacheprovider", *snapshot_test_files(work)],
        ),
    ]:
        start = time.monotonic()
        res = _sh(cmd, work, env)
        results[name] = {
            "returncode": res.returncode,
            "seconds": round(time.monotonic() - start, 1),
            "failed": failed_tests(res.stdout),
        }
        if name == "snapshot tests":
            results[name]["summary"] = pytest_summary(res.stdout)
            results[name]["skipped"] = skipped_tests(res.stdout)
        (work / f"update-{name.replace(' ', '-')}.log").write_text(res.stdout + res.stderr)
    out.write_text(render_report(diff_locks(old, new), results))
    (work / "update-results.json").write_text(json.dumps(results, indent=2))
    print(f"report: {out}\nwork copy (with the updated requirements.lock): {work}")
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", type=Path, default=ROOT / ".update" / "work")
    r.add_argument("--out", type=Path, default=ROOT / ".update" / "report.md")
    p = sub.add_parser("report")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--results", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        return run(args.work, args.out)
    results = json.loads(args.results.read_text()) if args.results else None
    changes = diff_locks(
        parse_lock(args.old.read_text(), str(args.old)),
        parse_lock(args.new.read_text(), str(args.new)),
    )
    sys.stdout.write(render_report(changes, results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
