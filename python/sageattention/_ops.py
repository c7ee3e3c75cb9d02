"""Loads the compiled op library and registers the fake (meta) implementations of its ops.

The ops live in ``torch.ops.sageattention``; their schemas and CPU/CUDA implementations are in
C++ (bindings/torch). Fake implementations are here so that torch.compile can trace the ops with
symbolic shapes. Every shape rule below mirrors csrc/include/sageattention/quant_layout.h.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from . import _build_info

_LIB_STEM = "_sageattention_ops"
TOKEN_PAD = 128  # kTokenPad
K_BLOCK = 64  # kKBlockTokens
Q_BLOCK_ROWS = 128  # kQBlockRows
Q_WARP_ROWS = 16  # kQWarpRows


def _library_path() -> Path:
    here = Path(__file__).resolve().parent
    suffixes = (".pyd", ".dll") if sys.platform == "win32" else (".so", ".dylib")
    for suffix in suffixes:
        candidate = here / f"{_LIB_STEM}{suffix}"
        if candidate.exists():
            return candidate
    raise ImportError(
        f"sageattention: the compiled op library {_LIB_STEM} is missing from {here}. "
        "The package was installed without its build; reinstall with "
        "`pip install --no-build-isolation .` from a source checkout, or install a wheel that "
        "matches your torch and CUDA."
    )


def _load() -> None:
    path = _library_path()
    try:
        torch.ops.load_library(str(path))
    except OSError as err:
        raise ImportError(
            f"sageattention: could not load {path.name}: {err}. It was built against torch "
            f"{_build_info.TORCH_VERSION} (CUDA {_build_info.CUDA_VERSION or 'none'}); the running torch is "
            f"{torch.__version__}. Rebuild or install the wheel built for this torch."
        ) from err


_load()
ops = torch.ops.sageattention


def padded_head_dim(d):
    return 64 if d <= 64 else (128 if d <= 128 else 256)


def _round_up(n, m):
    return (n + m - 1) // m * m


def _kv_geometry(x, cu_seqlens, tensor_layout):
    """(entries, heads, T, D, batch) of the padded quantized buffers."""
    if cu_seqlens is not None:
        total, heads, d = x.shape
        batch = cu_seqlens.shape[0] - 1
        return 1, heads, _round_up(total, TOKEN_PAD) + batch * TOKEN_PAD, d, batch
    b = x.shape[0]
    heads, n = (x.shape[1], x.shape[2]) if tensor_layout == 0 else (x.shape[2], x.shape[1])
    return b, heads, _round_up(n, TOKEN_PAD), x.shape[3], b


def _k_scale_count(gran, t):
    return t // K_BLOCK * (4 if gran == 2 else 1)


@torch.library.register_fake("sageattention::quant_k")
def _quant_k_fake(k, cu_seqlens_k, max_seqlen_k, tensor_layout, qk_quant_gran, smooth_k):
    entries, heads, t, d, batch = _kv_geometry(k, cu_seqlens_k, tensor_layout)
    dp = padded_head_dim(d)
    return (
        k.new_empty((entries, heads, t, dp), dtype=torch.int8),
        k.new_empty((entries, heads, _k_scale_count(qk_quant_gran, t)), dtype=torch.float32),
        k.new_empty((batch, heads, dp), dtype=torch.float32),
    )


@torch.library.register_fake("sageattention::quant_v")
def _quant_v_fake(v, cu_seqlens_k, max_seqlen_k, tensor_layout, smooth_v, pv_mode=3):
    entries, heads, t, d, batch = _kv_geometry(v, cu_seqlens_k, tensor_layout)
    dp = padded_head_dim(d)
    return (
        v.new_empty((entries, heads, dp, t), dtype=torch.uint8),  # e4m3 bits
        v.new_empty((batch, heads, dp), dtype=torch.float32),
        v.new_empty((batch, heads, dp), dtype=torch.float32),
    )


def _attention_outputs(q, cu_seqlens_q, tensor_layout, return_lse):
    o = q.new_empty(q.shape)
    if not return_lse:
        return o, q.new_empty((0,), dtype=torch.float32)
    if cu_seqlens_q is not None:
        return o, q.new_empty((q.shape[1], q.shape[0]), dtype=torch.float32)
    heads, n = (q.shape[1], q.shape[2]) if tensor_layout == 0 else (q.shape[2], q.shape[1])
    return o, q.new_empty((q.shape[0], heads, n), dtype=torch.float32)


@torch.library.register_fake("sageattention::attention")
def _attention_fake(q, k8, k_scale, k_mean, v8, v_scale, v_mean, v, cu_seqlens_q, cu_seqlens_k,
                    max_seqlen_q, max_seqlen_k, tensor_layout, qk_quant_gran, pv_mode, is_causal,
                    sm_scale, return_lse, kernel):
    return _attention_outputs(q, cu_seqlens_q, tensor_layout, return_lse)


@torch.library.register_fake("sageattention::sageattn")
def _sageattn_fake(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, tensor_layout,
                   qk_quant_gran, pv_mode, is_causal, sm_scale, smooth_k, smooth_v, return_lse, kernel):
    return _attention_outputs(q, cu_seqlens_q, tensor_layout, return_lse)


@torch.library.register_fake("sageattention::quant_q")
def _quant_q_fake(q, cu_seqlens_q, max_seqlen_q, tensor_layout, qk_quant_gran):
    if cu_seqlens_q is not None:
        total, heads, d = q.shape
        batch, n = cu_seqlens_q.shape[0] - 1, max_seqlen_q
        q8_shape = (heads, total, padded_head_dim(d))
    else:
        batch = q.shape[0]
        heads, n = (q.shape[1], q.shape[2]) if tensor_layout == 0 else (q.shape[2], q.shape[1])
        q8_shape = (batch, heads, n, padded_head_dim(q.shape[3]))
    if qk_quant_gran == 0:
        groups = (n + Q_BLOCK_ROWS - 1) // Q_BLOCK_ROWS
    elif qk_quant_gran == 1:
        groups = (n + Q_WARP_ROWS - 1) // Q_WARP_ROWS
    else:
        groups = (n + Q_WARP_ROWS - 1) // Q_WARP_ROWS * 8
    scale_shape = (heads, batch, groups) if cu_seqlens_q is not None else (batch, heads, groups)
    return q.new_empty(q8_shape, dtype=torch.int8), q.new_empty(scale_shape, dtype=torch.float32)


def has_cuda_kernels() -> bool:
    return _build_info.CUDA_VERSION is not None


def library_file() -> str:
    return os.fspath(_library_path())
