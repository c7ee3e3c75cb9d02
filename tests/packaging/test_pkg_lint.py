"""Linters: hadolint on every Dockerfile, shellcheck on the build scripts, the workflow YAML valid
(and valid against the GitHub workflow schema that check-jsonschema ships)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from pkg_helpers import DOCKERFILES, ROOT, WORKFLOW

SHELL_SCRIPTS = [ROOT / "scripts" / "build_wheel.sh", ROOT / "docker" / "run_wheel_tests.sh"]


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: pip install -r tests/packaging/requirements.txt"
    return path


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    r = subprocess.run([tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
    r = subprocess.run([tool("shellcheck"), "-x", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_scripts_executable(script):
    assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_workflow_yaml():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert {"static-checks", "linux", "windows", "release"} <= set(wf["jobs"])
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads a bare `on` as True
    assert "v*" in triggers["push"]["tags"]

    linux_steps = wf["jobs"]["linux"]["steps"]
    bakes = [s for s in linux_steps if str(s.get("uses", "")).startswith("docker/bake-action")]
    assert len(bakes) == 2, "a build and a test bake step"
    build, test = bakes
    assert build["with"]["targets"] == "${{ matrix.target }}"
    assert test["with"]["targets"] == "test-${{ matrix.target }}"
    # Per-target cache scopes.
    assert "scope=${{ matrix.target }}" in build["with"]["set"]
    assert "cache-to" in build["with"]["set"]
    assert "scope=${{ matrix.target }}" in test["with"]["set"]
    uploads = [s for s in linux_steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "dist/*.whl"

    win = wf["jobs"]["windows"]
    assert str(win["runs-on"]).startswith("windows")
    assert any("scripts/build_wheel.sh" in str(s.get("run", "")) for s in win["steps"])

    release = wf["jobs"]["release"]
    assert "refs/tags/" in release["if"]
    assert release["permissions"]["contents"] == "write"
    assert any(str(s.get("uses", "")).startswith("softprops/action-gh-release") for s in release["steps"])


def test_workflow_schema():
    r = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
