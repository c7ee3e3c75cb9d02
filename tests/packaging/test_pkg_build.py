"""The build itself: metadata from the installed torch, and scripts/build_wheel.sh.

The metadata checks need torch and scikit-build-core (skipped without them); the full CPU-only
wheel build runs when SAGE_TEST_WHEEL_BUILD=1 (about a minute on 2 cores)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from pkg_helpers import ROOT

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_SKBUILD = importlib.util.find_spec("scikit_build_core") is not None
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
needs_build = pytest.mark.skipif(not (HAVE_TORCH and HAVE_SKBUILD), reason="torch or scikit-build-core missing")
BUILD_SH = ROOT / "scripts" / "build_wheel.sh"


def meta_info(env=None):
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sage_wheel_meta.py"), "info"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout
    return json.loads(out)


def metadata(tmp_path: Path, env=None) -> str:
    code = (
        "import sys; from scikit_build_core.build import prepare_metadata_for_build_wheel as p; "
        "print(p(sys.argv[1]))"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    dist_info = r.stdout.strip().splitlines()[-1]
    return (tmp_path / dist_info / "METADATA").read_text(encoding="utf-8")


@needs_torch
def test_meta_cli_matches_installed_torch(wheel_rules):
    import torch  # noqa: F401 (only to compare with what the CLI read without importing it)

    info = meta_info()
    assert info["torch_version"] == torch.__version__
    assert info["cuda_version"] == torch.version.cuda
    assert info["label"] == wheel_rules.wheel_label(torch.__version__, torch.version.cuda)
    assert info["version"] == f"{info['base_version']}+{info['label']}"


@needs_build
@pytest.mark.skipif(not (ROOT / "README.md").is_file(), reason="README.md (the package readme) not written yet")
def test_metadata_has_label_and_torch_pin(tmp_path):
    info = meta_info()
    text = metadata(tmp_path)
    assert f"\nVersion: {info['version']}\n" in text
    assert f"\nRequires-Dist: {info['requirement']}\n" in text
    env = {**os.environ, "SAGE_WHEEL_LABEL": "none"}
    plain = metadata(tmp_path / "plain", env=env)
    assert f"\nVersion: {info['base_version']}\n" in plain


def test_build_script_help():
    r = subprocess.run(["bash", str(BUILD_SH), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--out-dir" in r.stdout


@needs_build
@pytest.mark.parametrize(
    "env,message",
    [({"TORCH_VERSION": "1.0"}, "TORCH_VERSION=1.0 but the installed torch"),
     ({"CUDA_VERSION": "9.9"}, "CUDA_VERSION=9.9 but the installed torch")],
)
def test_build_script_rejects_other_torch(tmp_path, env, message):
    r = subprocess.run(
        ["bash", str(BUILD_SH), "--cpu-only", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, **env},
    )
    assert r.returncode != 0
    assert message in r.stderr
    assert not list(tmp_path.glob("*.whl"))


@needs_build
@pytest.mark.skipif(os.environ.get("SAGE_TEST_WHEEL_BUILD") != "1", reason="set SAGE_TEST_WHEEL_BUILD=1 to build")
def test_build_script_cpu_wheel(tmp_path):
    out = tmp_path / "dist"
    r = subprocess.run(
        ["bash", str(BUILD_SH), "--cpu-only", "--no-repair", "--out-dir", str(out), "--report", str(tmp_path / "r.json")],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    (wheel,) = out.glob("*.whl")
    info = meta_info()
    _, version, build, tags = parse_wheel_filename(wheel.name)
    assert str(version) == info["version"] and build == ()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["wheel"] == wheel.name and report["size_bytes"] == wheel.stat().st_size
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "sageattention/_wheel_check.py" in names
        assert "sageattention/_build_info.py" in names
        assert not any(n.endswith(".in") for n in names)
        meta = z.read(f"sageattention-{version}.dist-info/METADATA").decode()
    assert f"Requires-Dist: {info['requirement']}" in meta
    # Install into a fresh directory and import it from outside the source tree.
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True)
    code = "import sageattention._build_info as b, sageattention._wheel_check as w; w.check_runtime_matches_build(b); print(b.TORCH_VERSION)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(site)})
    assert r.returncode == 0, r.stderr


@needs_torch
@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("readelf") is None,
                    reason="needs Linux and readelf")
def test_installed_extension_shares_the_cpp_runtime():
    """The installed extension loads libstdc++.so.6 and carries no copy of it: a private copy (from a
    compiler with only a static libstdc++) crashed on the first error message it formatted
    (docs/PACKAGING.md, "One C++ runtime")."""
    spec = importlib.util.find_spec("sageattention")
    libs = sorted(Path(spec.origin).parent.glob("_sageattention_ops*.so")) if spec and spec.origin else []
    if not libs:
        pytest.skip("no compiled sageattention extension installed")
    dynamic = subprocess.run(["readelf", "-d", str(libs[0])], capture_output=True, text=True, check=True).stdout
    assert "libstdc++.so" in dynamic, "the extension does not load libstdc++.so"
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", str(libs[0])], capture_output=True, text=True,
                             check=True).stdout
    own = [line for line in symbols.splitlines()
           if "_ZNSt8ios_base4InitC" in line and len(line.split()) > 7 and line.split()[6] != "UND"]
    assert not own, f"the extension defines libstdc++'s iostream runtime itself: {own}"
