"""python/sageattention/_wheel_check.py: the import-time torch/CUDA check, with a fake torch."""

from __future__ import annotations

import types

import pytest


def fake_torch(version: str, cuda):
    return types.SimpleNamespace(__version__=version, version=types.SimpleNamespace(cuda=cuda))


BUILD = {"TORCH_VERSION": "2.11.0", "TORCH_CUDA_VERSION": "13.0", "CUDA_VERSION": "13.0.88", "CUDA_ARCHS": ["90a"]}


@pytest.fixture(autouse=True)
def no_skip_env(monkeypatch, wheel_rules):
    monkeypatch.delenv(wheel_rules.SKIP_ENV, raising=False)


@pytest.mark.parametrize(
    "version,cuda",
    [("2.11.0+cu130", "13.0"), ("2.11.1+cu130", "13.0"), ("2.11.0+cu132", "13.2")],
)
def test_match_passes(wheel_rules, version, cuda):
    wheel_rules.check_runtime_matches_build(BUILD, torch_module=fake_torch(version, cuda))


def test_module_style_build_info(wheel_rules):
    info = types.SimpleNamespace(**BUILD)
    wheel_rules.check_runtime_matches_build(info, torch_module=fake_torch("2.11.0+cu130", "13.0"))


def test_other_torch_minor(wheel_rules):
    with pytest.raises(ImportError) as e:
        wheel_rules.check_runtime_matches_build(BUILD, torch_module=fake_torch("2.8.0+cu129", "12.9"))
    msg = str(e.value)
    assert "torch 2.11.0" in msg and "2.8.0+cu129" in msg  # both versions named
    assert "+torch280.cu129" in msg  # the wheel to get
    assert "+torch2110.cu130" in msg  # the wheel this is


def test_other_cuda_major(wheel_rules):
    with pytest.raises(ImportError) as e:
        wheel_rules.check_runtime_matches_build(BUILD, torch_module=fake_torch("2.11.0+cu128", "12.8"))
    msg = str(e.value)
    assert "CUDA 13" in msg and "12.8" in msg
    assert "+torch2110.cu128" in msg


def test_cpu_torch_under_cuda_build(wheel_rules):
    with pytest.raises(ImportError, match=r"\+torch2110\.cpu"):
        wheel_rules.check_runtime_matches_build(BUILD, torch_module=fake_torch("2.11.0+cpu", None))


def test_cpu_build_runs_under_cuda_torch(wheel_rules):
    cpu_build = {"TORCH_VERSION": "2.11.0", "TORCH_CUDA_VERSION": "13.0", "CUDA_VERSION": None}
    wheel_rules.check_runtime_matches_build(cpu_build, torch_module=fake_torch("2.11.0+cu130", "13.0"))
    wheel_rules.check_runtime_matches_build(cpu_build, torch_module=fake_torch("2.11.0+cpu", None))
    with pytest.raises(ImportError):
        wheel_rules.check_runtime_matches_build(cpu_build, torch_module=fake_torch("2.10.0+cpu", None))


def test_no_build_info_is_not_checked(wheel_rules):
    wheel_rules.check_runtime_matches_build({}, torch_module=fake_torch("2.8.0", "12.9"))


def test_skip_env(wheel_rules, monkeypatch):
    monkeypatch.setenv(wheel_rules.SKIP_ENV, "1")
    wheel_rules.check_runtime_matches_build(BUILD, torch_module=fake_torch("2.8.0+cu129", "12.9"))


def test_bad_versions_raise_value_error(wheel_rules):
    with pytest.raises(ValueError):
        wheel_rules.torch_label("nightly")
    with pytest.raises(ValueError):
        wheel_rules.parse_label("torch280-cu129")


def test_import_needs_no_torch():
    """The module imports with the standard library only (the build backend loads it)."""
    import ast
    from pkg_helpers import ROOT

    tree = ast.parse((ROOT / "python" / "sageattention" / "_wheel_check.py").read_text(encoding="utf-8"))
    modules = set()
    for n in tree.body:
        if isinstance(n, ast.Import):
            modules |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            modules.add((n.module or "").split(".")[0])
    assert modules <= {"__future__", "os", "re", "typing"}, modules
