"""sageattention: 8-bit quantized attention (INT8 Q·Kᵀ, FP8/FP16 P·V) for PyTorch inference."""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("sageattention")  # with its +torchXYZ.cuAB label
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"

from . import _build_info  # noqa: E402  (generated at build time)
from ._wheel_check import check_runtime_matches_build  # noqa: E402

check_runtime_matches_build(_build_info)

from ._ops import ops  # noqa: E402,F401  (loads the compiled ops)
from .core import (  # noqa: E402
    sageattn,
    sageattn_qk_int8_pv_fp8_cuda,
    sageattn_qk_int8_pv_fp8_cuda_sm90,
    sageattn_qk_int8_pv_fp16_cuda,
    sageattn_qk_int8_pv_fp16_triton,
    sageattn_varlen,
)

__all__ = [
    "sageattn",
    "sageattn_varlen",
    "sageattn_qk_int8_pv_fp16_cuda",
    "sageattn_qk_int8_pv_fp8_cuda",
    "sageattn_qk_int8_pv_fp8_cuda_sm90",
    "sageattn_qk_int8_pv_fp16_triton",
]
