"""Builds and runs the GoogleTest suite of the torch-free core (tests/cpp) through CTest."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_googletest_suite():
    build = Path(os.environ.get("SAGE_CPP_TEST_BUILD", tempfile.mkdtemp(prefix="sage_cpp_tests_")))
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *generator, "-DSAGE_BUILD_TORCH=OFF",
                    "-DSAGE_BUILD_CUDA=OFF", "-DSAGE_BUILD_TESTS=ON", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, capture_output=True, text=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel"], check=True, capture_output=True, text=True)
    result = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "100% tests passed" in result.stdout
