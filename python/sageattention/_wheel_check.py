"""Wheel label rule and the import-time check that the running torch matches the build.

A wheel of sageattention is built against one torch minor and one CUDA major: its compiled ops
link libtorch/libc10 (whose C++ ABI changes between torch minors) and libcudart (one soname per
CUDA major). Loading it under another torch is a crash or an undefined-symbol error at best, so
the package checks first and says which wheel to get instead.

The label rule (also used by the build, see scripts/sage_wheel_meta.py and docs/PACKAGING.md):

    torch X.Y.Z  ->  "torchXYZ"   (digits of major, minor, patch concatenated; local part dropped)
                     2.8.0 -> torch280, 2.7.1 -> torch271, 2.11.0 -> torch2110
    CUDA  A.B    ->  "cuAB"       12.9 -> cu129, 13.0 -> cu130; a CPU-only torch -> "cpu"
    label        =   "torchXYZ.cuAB", the PEP 440 local version: sageattention-0.1.0+torch280.cu129

This module imports nothing but the standard library at import time (torch only inside
``check_runtime_matches_build``), so the build backend can load it without importing torch.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional, Tuple, Union

__all__ = [
    "SKIP_ENV",
    "check_runtime_matches_build",
    "cuda_label",
    "parse_label",
    "torch_label",
    "wheel_label",
]

# Set to 1 to skip the check (e.g. a torch nightly known to be ABI compatible). At your own risk.
SKIP_ENV = "SAGEATTENTION_SKIP_TORCH_CHECK"

_TORCH_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")
_CUDA_RE = re.compile(r"^\s*(\d+)\.(\d+)")
_LABEL_RE = re.compile(r"^torch(?P<torch>\d+)\.(?P<cuda>cu\d+|cpu)$")


def _torch_parts(version: str) -> Tuple[int, int, int]:
    """(major, minor, patch) of a torch version string such as '2.11.0+cu130' or '2.8.0a0+git'."""
    m = _TORCH_RE.match(str(version))
    if not m:
        raise ValueError(f"not a torch version: {version!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _cuda_parts(version: Optional[str]) -> Optional[Tuple[int, int]]:
    """(major, minor) of a CUDA version such as '12.9' or '13.0.2'; None for CPU-only."""
    if version is None or str(version).strip().lower() in ("", "none", "cpu"):
        return None
    m = _CUDA_RE.match(str(version))
    if not m:
        raise ValueError(f"not a CUDA version: {version!r}")
    return int(m.group(1)), int(m.group(2))


def torch_label(torch_version: str) -> str:
    """'2.8.0' -> 'torch280', '2.11.0+cu130' -> 'torch2110'."""
    major, minor, patch = _torch_parts(torch_version)
    return f"torch{major}{minor}{patch}"


def cuda_label(cuda_version: Optional[str]) -> str:
    """'12.9' -> 'cu129', '13.0' -> 'cu130', None -> 'cpu'."""
    parts = _cuda_parts(cuda_version)
    return "cpu" if parts is None else f"cu{parts[0]}{parts[1]}"


def wheel_label(torch_version: str, cuda_version: Optional[str]) -> str:
    """The PEP 440 local version label of a wheel: 'torch280.cu129'."""
    return f"{torch_label(torch_version)}.{cuda_label(cuda_version)}"


def parse_label(label: str) -> Tuple[str, str]:
    """'torch280.cu129' (or '+torch280.cu129') -> ('torch280', 'cu129'). Raises ValueError."""
    m = _LABEL_RE.match(label.lstrip("+"))
    if not m:
        raise ValueError(f"not a sageattention wheel label: {label!r} (expected e.g. 'torch280.cu129')")
    return f"torch{m.group('torch')}", m.group("cuda")


def _get(build_info: Union[Mapping[str, Any], Any], key: str) -> Any:
    if isinstance(build_info, Mapping):
        return build_info.get(key)
    return getattr(build_info, key, None)


def check_runtime_matches_build(build_info: Union[Mapping[str, Any], Any], torch_module: Any = None) -> None:
    """Raise ImportError when the running torch does not match the one this build was made for.

    ``build_info`` is the generated ``sageattention._build_info`` module (or a mapping) with
    ``TORCH_VERSION`` (e.g. "2.11.0"), ``CUDA_VERSION`` (the nvcc that compiled the kernels, e.g.
    "13.0.88", or None for a CPU-only build) and optionally ``TORCH_CUDA_VERSION`` (the CUDA of the
    torch built against, used for the label). A mismatch is a different torch major.minor, or a different CUDA major. A CUDA build
    under a CPU-only torch is a mismatch too; a CPU-only build runs under any torch of its minor.
    ``torch_module`` is for tests; by default the imported ``torch``.
    """
    if os.environ.get(SKIP_ENV, "") not in ("", "0"):
        return
    built_torch = _get(build_info, "TORCH_VERSION")
    if not built_torch:
        return  # a development tree without build information: nothing to compare with
    built_cuda = _get(build_info, "CUDA_VERSION")  # the CUDA the kernels were compiled with; None: CPU-only
    # The label names the CUDA of the torch built against (a CPU-only build on a cu130 torch is "cu130").
    label_cuda = _get(build_info, "TORCH_CUDA_VERSION") or built_cuda

    if torch_module is None:
        import torch as torch_module  # noqa: PLC0415 (deliberately lazy)

    run_torch = str(torch_module.__version__)
    run_cuda = getattr(torch_module.version, "cuda", None)

    b_major, b_minor, _ = _torch_parts(built_torch)
    r_major, r_minor, _ = _torch_parts(run_torch)
    b_cuda = _cuda_parts(built_cuda)
    r_cuda = _cuda_parts(run_cuda)

    problems = []
    if (b_major, b_minor) != (r_major, r_minor):
        problems.append(f"torch {b_major}.{b_minor} != running torch {r_major}.{r_minor}")
    if b_cuda is not None and (r_cuda is None or r_cuda[0] != b_cuda[0]):
        running = "a CPU-only torch" if r_cuda is None else f"CUDA {r_cuda[0]}.{r_cuda[1]}"
        problems.append(f"CUDA {b_cuda[0]} != running {running}")
    if not problems:
        return

    built_desc = f"torch {built_torch} with " + (f"CUDA {built_cuda}" if b_cuda else "no CUDA (CPU only)")
    run_desc = f"torch {run_torch} with " + (f"CUDA {run_cuda}" if r_cuda else "no CUDA (CPU only)")
    want = wheel_label(run_torch, run_cuda)
    raise ImportError(
        f"sageattention was built for {built_desc} (wheel label +{wheel_label(built_torch, label_cuda)}), "
        f"but the running torch is {run_desc} ({'; '.join(problems)}). "
        f"Install the sageattention wheel built for your torch, label +{want} "
        f"(sageattention-<version>+{want}-<python>-<platform>.whl), or build from source against it: "
        f"pip install --no-build-isolation . (set {SKIP_ENV}=1 to skip this check at your own risk)."
    )
