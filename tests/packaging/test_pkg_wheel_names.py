"""Wheel names: every bake target's wheel name round-trips through packaging's parser, carries the
torch/CUDA label as a PEP 440 local version, and pins the torch minor it was built for."""

from __future__ import annotations

import re

import pytest
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from pkg_helpers import PLATFORM_TAG, ROOT, TARGET_RE, WHEEL_TARGETS


def expected_wheel_name(bake, wheel_rules, wheel_meta, target: str) -> str:
    args = bake.target(target)["args"]
    platform = TARGET_RE.match(target).group("platform")
    py = "cp" + args["PYTHON_VERSION"].replace(".", "")
    label = wheel_rules.wheel_label(args["TORCH_VERSION"], args["CUDA_VERSION"])
    version = wheel_meta.full_version(wheel_meta.base_version(), label)
    return f"sageattention-{version}-{py}-{py}-{PLATFORM_TAG[platform]}.whl"


@pytest.mark.parametrize("target", WHEEL_TARGETS)
def test_wheel_name_round_trip(bake, wheel_rules, wheel_meta, target):
    name = expected_wheel_name(bake, wheel_rules, wheel_meta, target)
    dist, version, build, tags = parse_wheel_filename(name)
    args = bake.target(target)["args"]
    assert dist == "sageattention"
    assert build == ()
    assert version.public == wheel_meta.base_version()
    assert version.local == wheel_rules.wheel_label(args["TORCH_VERSION"], args["CUDA_VERSION"])
    py = "cp" + args["PYTHON_VERSION"].replace(".", "")
    assert tags == frozenset({Tag(py, py, PLATFORM_TAG[TARGET_RE.match(target).group("platform")])})
    # Rebuilding the name from the parsed parts gives it back.
    (tag,) = tags
    assert f"{dist}-{version}-{tag.interpreter}-{tag.abi}-{tag.platform}.whl" == name


@pytest.mark.parametrize("target", WHEEL_TARGETS)
def test_label_matches_target(bake, wheel_rules, target):
    m = TARGET_RE.match(target)
    args = bake.target(target)["args"]
    torch_part, cuda_part = wheel_rules.parse_label(wheel_rules.wheel_label(args["TORCH_VERSION"], args["CUDA_VERSION"]))
    # pytorch28 -> torch280 (2.8.0), pytorch211 -> torch2110 (2.11.0); cu129 -> cu129.
    assert torch_part == "torch" + args["TORCH_VERSION"].replace(".", "")
    assert torch_part.startswith("torch" + m.group("torch"))
    assert cuda_part == "cu" + m.group("cuda")


def test_issue_example_parses(wheel_rules):
    name = "sageattention-0.1.0+torch280.cu129-cp312-cp312-manylinux_2_28_x86_64.whl"
    _, version, build, _ = parse_wheel_filename(name)
    assert version == Version("0.1.0+torch280.cu129")
    assert build == ()
    assert wheel_rules.wheel_label("2.8.0", "12.9") == version.local


def test_build_tag_form_is_rejected():
    # The seed convention put the label in the build-tag slot; build tags must start with a digit.
    with pytest.raises(InvalidWheelFilename):
        parse_wheel_filename("sageattention-0.1.0-torch280.cu129-cp312-cp312-manylinux_2_28_x86_64.whl")


@pytest.mark.parametrize(
    "torch_version,cuda,label",
    [
        ("2.8.0", "12.9", "torch280.cu129"),
        ("2.7.1+cu128", "12.8", "torch271.cu128"),
        ("2.11.0+cu130", "13.0", "torch2110.cu130"),
        ("2.11.0", "13.0.88", "torch2110.cu130"),
        ("2.11.0+cpu", None, "torch2110.cpu"),
    ],
)
def test_label_rule(wheel_rules, torch_version, cuda, label):
    assert wheel_rules.wheel_label(torch_version, cuda) == label
    assert Version(f"0.1.0+{label}").local == label  # a valid PEP 440 local version


@pytest.mark.parametrize("torch_version", ["2.7.1", "2.8.0+cu129", "2.11.0+cu130"])
def test_torch_requirement(wheel_meta, torch_version):
    req = wheel_meta.torch_requirement(torch_version)
    major, minor = torch_version.split(".")[:2]
    assert req == f"torch=={major}.{minor}.*"
    spec = SpecifierSet(req.removeprefix("torch"))
    assert spec.contains(torch_version)  # the local +cuXYZ of a torch build is accepted
    assert spec.contains(f"{major}.{minor}.9")
    assert not spec.contains(f"{major}.{int(minor) + 1}.0")
    assert not spec.contains(f"{major}.{int(minor) - 1}.0")


def test_readme_wheel_names(readme_text, wheel_rules):
    names = set(re.findall(r"sageattention-[A-Za-z0-9.+_]+-cp\d+-cp\d+-[a-z0-9_]+\.whl", readme_text))
    assert names, "the README sections give no example wheel name"
    for name in names:
        if "-torch" in name.split("+")[0] and "+" not in name:
            continue  # the rejected build-tag form, shown as a counter-example
        _, version, _, _ = parse_wheel_filename(name)
        wheel_rules.parse_label(version.local or "")


def test_pyproject_base_version(wheel_meta):
    base = wheel_meta.base_version()
    assert Version(base).local is None and str(Version(base)) == base
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'wheel.packages = ["python/sageattention"]' in text
