"""docker-bake.hcl: parses, has the targets and groups the README names, and each target's args
agree with its name, its Dockerfile and the CI workflow."""

from __future__ import annotations

import re

import pytest
import yaml

from pkg_helpers import DOCKERFILES, GROUPS, ROOT, TARGET_RE, WHEEL_TARGETS, WORKFLOW, readme_sections_path



def dockerfile_stages_and_args(path):
    text = path.read_text(encoding="utf-8")
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE | re.IGNORECASE))
    args = set(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", text, re.MULTILINE))
    return stages, args


def test_variables(bake):
    for name in ("PYTHON_VERSION", "CUDA_VERSION", "TORCH_VERSION", "TORCH_CUDA_ARCH_LIST"):
        assert name in bake.variables, f"variable {name} missing"
    assert bake.variables["PYTHON_VERSION"] == "3.12"


def test_expected_targets_and_groups(bake):
    for t in WHEEL_TARGETS:
        assert t in bake.raw_targets, f"target {t} missing"
        assert f"test-{t}" in bake.raw_targets, f"target test-{t} missing"
    for g in GROUPS:
        assert g in bake.groups, f"group {g} missing"
    assert sorted(bake.named_targets) == sorted(WHEEL_TARGETS)


def test_groups(bake):
    assert bake.expand("default") == ["linux-pytorch28-cu129-python312"]
    assert sorted(bake.expand("linux")) == sorted(t for t in WHEEL_TARGETS if t.startswith("linux-"))
    assert sorted(bake.expand("windows")) == sorted(t for t in WHEEL_TARGETS if t.startswith("windows-"))
    for minor in ("27", "28"):
        assert sorted(bake.expand(f"pytorch{minor}")) == sorted(t for t in WHEEL_TARGETS if f"-pytorch{minor}-" in t)
    assert sorted(bake.expand("all")) == sorted(WHEEL_TARGETS)
    assert sorted(bake.expand("test-all")) == sorted(f"test-{t}" for t in WHEEL_TARGETS)
    for group in bake.groups:  # every member resolves
        bake.expand(group)


def test_variable_references_are_interpolations():
    # Bare references (args = { X = VAR }) are indistinguishable from strings after parsing; the
    # file uses "${VAR}" throughout so the checks here see what bake sees.
    text = (ROOT / "docker-bake.hcl").read_text(encoding="utf-8")
    bare = re.findall(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*([A-Z_][A-Z0-9_]*)\s*$", text, re.MULTILINE)
    assert not bare, f"bare variable references in docker-bake.hcl: {bare}"


@pytest.mark.parametrize("name", WHEEL_TARGETS)
def test_target_args_match_name(bake, name):
    m = TARGET_RE.match(name)
    assert m
    t = bake.target(name)
    args = t["args"]
    platform, torch_digits, cuda_digits, py_digits = m.group("platform", "torch", "cuda", "py")
    assert t["dockerfile"] == f"docker/Dockerfile.{platform}"
    assert t["platforms"] == [f"{platform}/amd64"]
    assert t["target"] == "wheel"
    assert t["output"] == ["type=local,dest=dist"], "wheels must land in ./dist"
    assert t["context"] == "."
    major, minor = torch_digits[0], torch_digits[1:]
    assert args["TORCH_VERSION"].startswith(f"{major}.{minor}."), (name, args["TORCH_VERSION"])
    assert args["CUDA_VERSION"].replace(".", "") == cuda_digits, (name, args["CUDA_VERSION"])
    assert args["PYTHON_VERSION"] == f"{py_digits[0]}.{py_digits[1:]}"
    assert args["TORCH_CUDA_ARCH_LIST"] == bake.variables["TORCH_CUDA_ARCH_LIST"]
    if platform == "linux":
        image = args["CUDA_IMAGE"]
        assert image.startswith(f"nvidia/cuda:{args['CUDA_VERSION']}."), image
        # Rocky Linux 8 has glibc 2.28: the repaired wheel is manylinux_2_28.
        assert image.endswith("-devel-rockylinux8"), image
    else:
        assert args["CUDA_FULL_VERSION"].startswith(args["CUDA_VERSION"] + "."), args


@pytest.mark.parametrize("name", WHEEL_TARGETS + ["linux-custom"])
def test_test_target_mirrors_wheel_target(bake, name):
    t, tt = bake.target(name), bake.target(f"test-{name}")
    assert tt["inherits"] == [name]
    assert tt["target"] == "test"
    assert tt["args"] == t["args"], "the test target must build the same wheel"
    assert tt["dockerfile"] == t["dockerfile"]


@pytest.mark.parametrize("name", WHEEL_TARGETS + ["linux-custom"])
def test_dockerfile_has_stages_and_args(bake, name):
    t = bake.target(name)
    path = ROOT / t["dockerfile"]
    assert path.is_file(), path
    stages, declared = dockerfile_stages_and_args(path)
    assert {"build", "wheel", "test"} <= stages, f"{path.name} stages: {stages}"
    missing = set(t["args"]) - declared
    assert not missing, f"{name} passes args that {path.name} does not declare: {missing}"


def test_dockerfiles_found():
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.linux", "Dockerfile.windows"}


def test_custom_target_uses_variables(bake):
    args = bake.target("linux-custom")["args"]
    for name in ("PYTHON_VERSION", "CUDA_VERSION", "TORCH_VERSION", "CUDA_IMAGE"):
        assert args[name] == bake.variables[name]
    assert "linux-custom" not in bake.expand("all")


def test_readme_names_exist(bake, readme_text):
    """Every target or group the README names exists in docker-bake.hcl."""
    names = set(re.findall(r"\b(?:test-)?(?:linux|windows)-(?:pytorch\d+-cu\d+-python\d+|custom)\b", readme_text))
    for cmd in re.findall(r"docker buildx bake([^\n`|]*)", readme_text):
        for word in cmd.split("#")[0].split():  # up to a shell comment
            if word.startswith("-") or "=" in word or word.startswith("<") or word == "\\":
                continue
            names.add(word)
    # Option values after flags that take one (e.g. --file docker-bake.hcl, --builder NAME).
    names -= set(re.findall(r"(?:--file|-f|--builder|--progress|--set|--var)\s+(\S+)", readme_text))
    assert names, f"no bake target named in {readme_sections_path()}"
    unknown = sorted(n for n in names if n not in bake.raw_targets and n not in bake.groups)
    assert not unknown, f"{readme_sections_path().name} names unknown bake targets/groups: {unknown}"
    for t in bake.named_targets:
        assert t in names, f"{readme_sections_path().name} does not list target {t}"
    for g in GROUPS:
        assert g in readme_text, f"{readme_sections_path().name} does not mention group {g}"


def test_workflow_matrix_matches_bake(bake):
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    linux = wf["jobs"]["linux"]["strategy"]["matrix"]["target"]
    assert sorted(linux) == sorted(bake.expand("linux"))
    windows = wf["jobs"]["windows"]["strategy"]["matrix"]["include"]
    assert sorted(w["target"] for w in windows) == sorted(bake.expand("windows"))
    for w in windows:
        args = bake.target(w["target"])["args"]
        assert w["torch"] == args["TORCH_VERSION"]
        assert w["cuda"] == args["CUDA_VERSION"]
        assert w["cuda-full"] == args["CUDA_FULL_VERSION"]
        assert w["python"] == args["PYTHON_VERSION"]
    assert wf["jobs"]["windows"]["env"]["TORCH_CUDA_ARCH_LIST"] == bake.variables["TORCH_CUDA_ARCH_LIST"]
