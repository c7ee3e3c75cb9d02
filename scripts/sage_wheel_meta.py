"""Wheel metadata of sageattention, derived from the torch the build compiles against.

Two uses, one rule:

* scikit-build-core dynamic-metadata provider (pyproject.toml, ``[tool.scikit-build.metadata.*]``
  with ``provider = "sage_wheel_meta"`` and ``provider-path = "scripts"``):
    - ``version``      -> "<base-version>+torchXYZ.cuAB", e.g. "0.1.0+torch2110.cu130"
    - ``dependencies`` -> ["torch==X.Y.*"] (+ the ``extra`` list from the settings)
  So every build, ``pip install --no-build-isolation .`` included, is labelled with the torch it
  was compiled against and requires that torch minor in METADATA (Requires-Dist).
* Command line, for scripts/build_wheel.sh, the Dockerfiles and the tests:
    python scripts/sage_wheel_meta.py info           # JSON: torch, cuda, label, requirement, version
    python scripts/sage_wheel_meta.py label          # torch2110.cu130
    python scripts/sage_wheel_meta.py version        # 0.1.0+torch2110.cu130

The torch version is read from ``torch/version.py`` of the installed torch without importing torch
(fast, and no CUDA initialisation inside the build backend). The label rule itself lives in
``python/sageattention/_wheel_check.py`` so the package and the build share one definition.

Environment:
    SAGE_WHEEL_LABEL=none   build without the local label (plain "0.1.0"), e.g. for an sdist.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
_CHECK_PY = ROOT / "python" / "sageattention" / "_wheel_check.py"
LABEL_ENV = "SAGE_WHEEL_LABEL"


def _rules():
    """Load python/sageattention/_wheel_check.py by path (the package itself need not be importable)."""
    mod = sys.modules.get("_sage_wheel_rules")
    if mod is None:
        spec = importlib.util.spec_from_file_location("_sage_wheel_rules", _CHECK_PY)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["_sage_wheel_rules"] = mod
        spec.loader.exec_module(mod)
    return mod


def installed_torch() -> Tuple[str, Optional[str]]:
    """(torch.__version__, torch.version.cuda) of the installed torch, read without importing it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "torch is not installed in this Python environment. sageattention builds against the installed "
            "torch: install the torch you target first, then build with --no-build-isolation."
        )
    version_py = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    values: Dict[str, Any] = {}
    for node in ast.parse(version_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if isinstance(t, ast.Name) and t.id in ("__version__", "cuda"):
                values[t.id] = ast.literal_eval(value)
    if "__version__" not in values:
        raise RuntimeError(f"cannot read the torch version from {version_py}")
    return str(values["__version__"]), values.get("cuda")


def torch_requirement(torch_version: str) -> str:
    """'2.11.0+cu130' -> 'torch==2.11.*' (the torch minor the wheel's C++ ABI is tied to)."""
    m = re.match(r"^(\d+)\.(\d+)", torch_version)
    if not m:
        raise ValueError(f"not a torch version: {torch_version!r}")
    return f"torch=={m.group(1)}.{m.group(2)}.*"


def base_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The static base version: ``base-version`` of [tool.scikit-build.metadata.version]."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib  # Python >= 3.11

        data = tomllib.loads(text)
        return str(data["tool"]["scikit-build"]["metadata"]["version"]["base-version"])
    except ImportError:  # pragma: no cover - Python 3.10 and older
        m = re.search(r'^base-version\s*=\s*"([^"]+)"', text, re.MULTILINE)
        if not m:
            raise RuntimeError(f"base-version not found in {pyproject}") from None
        return m.group(1)


def label(torch_version: Optional[str] = None, cuda_version: Optional[str] = None) -> str:
    """The local version label, from the arguments or the installed torch; '' if disabled by the env."""
    import os

    if os.environ.get(LABEL_ENV, "").strip().lower() == "none":
        return ""
    if torch_version is None:
        torch_version, cuda_version = installed_torch()
    return _rules().wheel_label(torch_version, cuda_version)


def full_version(base: str, lbl: str) -> str:
    return f"{base}+{lbl}" if lbl else base


# ------------------------------------------------------------------------------------------------
# scikit-build-core provider hooks
# ------------------------------------------------------------------------------------------------
def dynamic_metadata(field: str, settings: Optional[Mapping[str, Any]] = None) -> Any:
    settings = dict(settings or {})
    if field == "version":
        base = settings.get("base-version")
        if not isinstance(base, str) or not base:
            raise RuntimeError("sage_wheel_meta: set base-version = \"X.Y.Z\" for the version field")
        return full_version(base, label())
    if field == "dependencies":
        extra = settings.get("extra", [])
        if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
            raise RuntimeError("sage_wheel_meta: 'extra' must be a list of requirement strings")
        torch_version, _ = installed_torch()
        return [torch_requirement(torch_version), *extra]
    raise RuntimeError(f"sage_wheel_meta provides 'version' and 'dependencies', not {field!r}")


def get_requires_for_dynamic_metadata(_settings: Optional[Mapping[str, Any]] = None) -> List[str]:
    return []  # needs nothing but the installed torch, which a --no-build-isolation build has


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def info() -> Dict[str, Any]:
    torch_version, cuda_version = installed_torch()
    lbl = label(torch_version, cuda_version)
    base = base_version()
    return {
        "torch_version": torch_version,
        "cuda_version": cuda_version,
        "label": lbl,
        "requirement": torch_requirement(torch_version),
        "base_version": base,
        "version": full_version(base, lbl),
        "python_tag": f"cp{sys.version_info.major}{sys.version_info.minor}",
    }


def main(argv: List[str]) -> int:
    what = argv[1] if len(argv) > 1 else "info"
    data = info()
    if what == "info":
        print(json.dumps(data, indent=2))
    elif what in data:
        print("" if data[what] is None else data[what])
    else:
        print(f"usage: {argv[0]} [info|{'|'.join(data)}]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
