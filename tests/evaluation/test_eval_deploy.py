"""The cluster files agree with the code: the RayJob's entry point is a valid ``saferoad
evaluate`` command line, and the image installs the Ray version the lock file pins."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app


def test_rayjob_manifest_runs_a_valid_evaluate_command(repo_root: Path) -> None:
    job = yaml.safe_load((repo_root / "deploy" / "rayjob-evaluate.yaml").read_text())
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    lock = (repo_root / "requirements.lock").read_text()
    ray_version = re.search(r"^ray==(\S+)", lock, re.M)
    assert ray_version is not None
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == ray_version.group(1)
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["saferoad", "evaluate"]
    help_text = CliRunner().invoke(app, ["evaluate", "--help"], env={"COLUMNS": "200"}).output
    for opt in (a for a in argv if a.startswith("--")):
        assert opt in help_text, f"{opt} is not an option of saferoad evaluate"
    assert argv[argv.index("--executor") + 1] == "ray" and argv[argv.index("--address") + 1] == "auto"
    # Every pod mounts the recordings where the manifest paths point.
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    for spec in (head, workers):
        mounts = {m["mountPath"] for c in spec["containers"] for m in c["volumeMounts"]}
        assert "/data" in mounts


def test_dockerfile_installs_the_locked_ray_and_pins_the_code_version(repo_root: Path) -> None:
    text = (repo_root / "deploy" / "Dockerfile").read_text()
    assert "requirements.lock" in text and "ray[default]==" in text
    assert "SAFEROAD_CODE_VERSION=${GIT_SHA}" in text
