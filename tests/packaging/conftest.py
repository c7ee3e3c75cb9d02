"""Fixtures of the packaging checks (helpers in pkg_helpers.py)."""

from __future__ import annotations

import pytest

from pkg_helpers import ROOT, Bake, load_module, readme_sections_path


@pytest.fixture(scope="session")
def bake() -> Bake:
    return Bake()


@pytest.fixture(scope="session")
def wheel_rules():
    return load_module("_sage_wheel_check_for_tests", ROOT / "python" / "sageattention" / "_wheel_check.py")


@pytest.fixture(scope="session")
def wheel_meta():
    return load_module("_sage_wheel_meta_for_tests", ROOT / "scripts" / "sage_wheel_meta.py")



@pytest.fixture(scope="session")
def readme_text() -> str:
    return readme_sections_path().read_text(encoding="utf-8")
