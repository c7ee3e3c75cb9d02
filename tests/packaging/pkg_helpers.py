"""Helpers of the packaging checks (tests/packaging): the bake file as resolved targets, the README
sections. A uniquely named module, so it cannot clash with another test directory's conftest."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
BAKE_FILE = ROOT / "docker-bake.hcl"
README = ROOT / "README.md"
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
DOCKERFILES = sorted(p for p in (ROOT / "docker").glob("Dockerfile.*") if p.suffix != ".dockerignore")

# Named wheel targets: <platform>-pytorch<MAJOR><MINOR>-cu<CUDA digits>-python<MAJOR><MINOR>.
TARGET_RE = re.compile(r"^(?P<platform>linux|windows)-pytorch(?P<torch>\d{2,3})-cu(?P<cuda>\d{3})-python(?P<py>\d{3,4})$")
WHEEL_TARGETS = [
    "linux-pytorch27-cu128-python312",
    "linux-pytorch28-cu129-python312",
    "linux-pytorch211-cu130-python312",
    "windows-pytorch27-cu128-python312",
    "windows-pytorch28-cu129-python312",
]
GROUPS = ["default", "linux", "windows", "pytorch27", "pytorch28", "all", "test-all"]
PLATFORM_TAG = {"linux": "manylinux_2_28_x86_64", "windows": "win_amd64"}


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _unwrap(items: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for item in items:
        for name, body in item.items():
            assert name not in out, f"{name} defined twice in docker-bake.hcl"
            out[name] = {k: v for k, v in body.items() if not k.startswith("__")}
    return out


class Bake:
    """docker-bake.hcl parsed by python-hcl2, with inherits and ${VAR} defaults resolved."""

    def __init__(self, path: Path = BAKE_FILE):
        import hcl2

        opts = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
        with path.open(encoding="utf-8") as f:
            raw = hcl2.load(f, serialization_options=opts)
        self.raw = raw
        self.variables = {k: v.get("default") for k, v in _unwrap(raw.get("variable", [])).items()}
        self.raw_targets = _unwrap(raw.get("target", []))
        self.groups = {k: list(v.get("targets", [])) for k, v in _unwrap(raw.get("group", [])).items()}

    def interpolate(self, value: Any) -> Any:
        if isinstance(value, str):
            def sub(m: re.Match) -> str:
                name = m.group(1)
                assert name in self.variables, f"undefined bake variable {name}"
                return str(self.variables[name])
            return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, value)
        if isinstance(value, list):
            return [self.interpolate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.interpolate(v) for k, v in value.items()}
        return value

    def target(self, name: str) -> Dict[str, Any]:
        """A target with its parents merged in (args merge key by key; other keys: child wins)."""
        body = self.raw_targets[name]
        merged: Dict[str, Any] = {}
        for parent in body.get("inherits", []):
            parent_body = self.target(parent)
            args = {**merged.get("args", {}), **parent_body.get("args", {})}
            merged.update(parent_body)
            merged["args"] = args
        args = {**merged.get("args", {}), **body.get("args", {})}
        merged.update({k: v for k, v in body.items() if k != "inherits"})
        merged["args"] = args
        merged["inherits"] = body.get("inherits", [])
        return self.interpolate(merged)

    def expand(self, name: str) -> List[str]:
        """A group or target name -> the targets it builds."""
        if name in self.groups:
            out: List[str] = []
            for member in self.groups[name]:
                out += [t for t in self.expand(member) if t not in out]
            return out
        assert name in self.raw_targets, f"{name} is neither a target nor a group"
        return [name]

    @property
    def named_targets(self) -> List[str]:
        return [t for t in self.raw_targets if TARGET_RE.match(t)]


def readme_sections_path() -> Path:
    """The README, which holds the packaging sections (quick start, naming, matrix, groups, CI)."""
    return README
