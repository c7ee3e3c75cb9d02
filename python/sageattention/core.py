"""The public API, compatible with SageAttention 2 (see README for the contract)."""

from __future__ import annotations

import torch

from . import _build_info
from ._checks import (check_bool, check_choice, check_cu_seqlens, check_qkv, check_sm_scale,
                      resolve_sdpa_kwargs)
from ._dispatch import (KERNEL_AUTO, KERNEL_MMA, KERNEL_SM90, LAYOUTS, PV_FP8_MODES, PV_FP8_SM90_MODES,
                        PV_FP16_FP32, PV_FP16_MODES, QK_GRANULARITIES, choose, pick)
from ._ops import ops

_SAGEATTN_EXTRAS = ("qk_quant_gran", "smooth_k", "smooth_v", "pv_accum_dtype")


def _check_device_supported(q):
    if q.device.type == "cuda" and _build_info.CUDA_VERSION is None:
        raise RuntimeError(
            "this build of sageattention has no CUDA kernels (it was built CPU-only: torch "
            f"{_build_info.TORCH_VERSION} with CUDA {_build_info.TORCH_CUDA_VERSION or 'none'}); "
            "install a CUDA wheel or rebuild where nvcc matches torch's CUDA major version")
    if q.device.type not in ("cuda", "cpu"):
        raise ValueError(f"q must be on a CUDA device or the CPU, got {q.device}")


def _run(q, k, v, *, tensor_layout, is_causal, sm_scale, return_lse, qk_quant_gran, pv_mode, kernel,
         smooth_k, smooth_v, enable_gqa=True, by_shape=None):
    """by_shape: a dispatch Choice whose pick for this call's shape replaces pv_mode and kernel."""
    layout = check_choice(tensor_layout, "tensor_layout", LAYOUTS)
    gran = check_choice(qk_quant_gran, "qk_quant_gran", QK_GRANULARITIES)
    for value, name in ((is_causal, "is_causal"), (return_lse, "return_lse"), (smooth_k, "smooth_k"),
                        (smooth_v, "smooth_v")):
        check_bool(value, name)
    batch, heads_q, _, n_q, n_k, d = check_qkv(q, k, v, tensor_layout, varlen=False, enable_gqa=enable_gqa)
    scale = check_sm_scale(sm_scale, d)
    if by_shape is not None:
        pv_mode, kernel = pick(by_shape, batch, heads_q, n_q, n_k, d, is_causal)
    _check_device_supported(q)
    o, lse = ops.sageattn(q, k, v, None, None, n_q, n_k, layout, gran, pv_mode, is_causal, scale, smooth_k,
                          smooth_v, return_lse, kernel)
    return (o, lse) if return_lse else o


def sageattn(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, **kwargs):
    """Scaled dot-product attention with INT8 Q·Kᵀ and FP8 (or FP16) P·V, picking the best kernel.

    Drop-in for ``torch.nn.functional.scaled_dot_product_attention`` in inference: ``scale`` is an
    alias of ``sm_scale``, ``attn_mask`` must be None, ``dropout_p`` 0, GQA is always enabled
    unless ``enable_gqa=False``. Causal masks are bottom-right aligned when Nq != Nk. Returns
    ``o`` (q's shape and dtype) or ``(o, lse)`` with lse fp32 [B, Hq, Nq] (natural log).
    """
    sm_scale, enable_gqa, extra = resolve_sdpa_kwargs(kwargs, sm_scale, _SAGEATTN_EXTRAS)
    choice = choose(q.device if isinstance(q, torch.Tensor) else torch.device("cpu"))
    pv_mode, by_shape = choice.pv_mode, choice
    if "pv_accum_dtype" in extra:  # as the SageAttention 2 API forwards it to the picked kernel
        modes = PV_FP16_MODES if pv_mode in PV_FP16_MODES.values() else PV_FP8_MODES
        pv_mode, by_shape = check_choice(extra["pv_accum_dtype"], "pv_accum_dtype", modes), None
    return _run(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
                return_lse=return_lse, qk_quant_gran=extra.get("qk_quant_gran", "per_thread"),
                pv_mode=pv_mode, kernel=choice.kernel, smooth_k=extra.get("smooth_k", True),
                smooth_v=extra.get("smooth_v", False), enable_gqa=enable_gqa, by_shape=by_shape)


def sageattn_qk_int8_pv_fp16_cuda(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                  sm_scale=None, pv_accum_dtype="fp32", smooth_k=True, smooth_v=False,
                                  return_lse=False, **kwargs):
    """INT8 Q·Kᵀ + FP16 P·V. pv_accum_dtype: "fp32" or "fp16+fp32" (per-block fp16, then fp32).

    On sm90, "fp32" runs the Hopper TMA/wgmma kernel; "fp16+fp32" and other GPUs run the mma.sync
    kernel. With "fp32" both multiply P·V in V's 16-bit type (bf16 inputs: P rounded to bf16, V as it
    is); "fp16+fp32" multiplies P and V in fp16.
    """
    sm_scale, enable_gqa, _ = resolve_sdpa_kwargs(kwargs, sm_scale)
    pv_mode = check_choice(pv_accum_dtype, "pv_accum_dtype", PV_FP16_MODES)
    return _run(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
                return_lse=return_lse, qk_quant_gran=qk_quant_gran, pv_mode=pv_mode, kernel=KERNEL_AUTO,
                smooth_k=smooth_k, smooth_v=smooth_v, enable_gqa=enable_gqa)


def sageattn_qk_int8_pv_fp8_cuda(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                 sm_scale=None, pv_accum_dtype="fp32+fp32", smooth_k=True, smooth_v=False,
                                 return_lse=False, **kwargs):
    """INT8 Q·Kᵀ + FP8 P·V on the mma.sync kernel (sm89+).

    pv_accum_dtype: "fp32+fp32" (each key block accumulated afresh, then added in fp32), "fp32" (one
    accumulator per row) or "fp32+fp16" (each key block accumulated in fp16, then added in fp32: the
    fast FP8 MMA of sm89 / sm120; V is quantized to +-2.25 so a block's sum fits fp16).
    """
    sm_scale, enable_gqa, _ = resolve_sdpa_kwargs(kwargs, sm_scale)
    pv_mode = check_choice(pv_accum_dtype, "pv_accum_dtype", PV_FP8_MODES)
    return _run(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
                return_lse=return_lse, qk_quant_gran=qk_quant_gran, pv_mode=pv_mode, kernel=KERNEL_MMA,
                smooth_k=smooth_k, smooth_v=smooth_v, enable_gqa=enable_gqa)


def sageattn_qk_int8_pv_fp8_cuda_sm90(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                      sm_scale=None, pv_accum_dtype="fp32+fp32", smooth_k=True, return_lse=False,
                                      **kwargs):
    """INT8 Q·Kᵀ + FP8 P·V on the Hopper TMA/wgmma kernel (sm90 only). pv_accum_dtype: "fp32+fp32" or "fp32"."""
    sm_scale, enable_gqa, _ = resolve_sdpa_kwargs(kwargs, sm_scale)
    pv_mode = check_choice(pv_accum_dtype, "pv_accum_dtype", PV_FP8_SM90_MODES)
    return _run(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
                return_lse=return_lse, qk_quant_gran=qk_quant_gran, pv_mode=pv_mode, kernel=KERNEL_SM90,
                smooth_k=smooth_k, smooth_v=False, enable_gqa=enable_gqa)


def sageattn_qk_int8_pv_fp16_triton(q, k, v, tensor_layout="HND", quantization_backend="triton", is_causal=False,
                                    sm_scale=None, smooth_k=True, return_lse=False, **kwargs):
    """Kept for compatibility: runs the CUDA INT8 Q·Kᵀ + FP16 P·V kernel (per-block Q/K scales)."""
    check_choice(quantization_backend, "quantization_backend", {"triton": 0, "cuda": 1})
    sm_scale, enable_gqa, _ = resolve_sdpa_kwargs(kwargs, sm_scale)
    return _run(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
                return_lse=return_lse, qk_quant_gran="per_block", pv_mode=PV_FP16_FP32, kernel=KERNEL_MMA,
                smooth_k=smooth_k, smooth_v=False, enable_gqa=enable_gqa)


def sageattn_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, is_causal=False,
                    sm_scale=None, smooth_k=True, **kwargs):
    """Attention over packed variable-length sequences: q [total_q, Hq, D], k/v [total_k, Hkv, D].

    ``cu_seqlens_*`` are int32 prefix offsets (batch + 1 entries). Causal masks are bottom-right
    aligned per sequence. Extra keywords: ``return_lse`` (lse fp32 [Hq, total_q]), ``qk_quant_gran``,
    ``smooth_v`` and the SDPA ones. Values of cu_seqlens on a GPU are trusted (reading them would
    cost a device sync); on the CPU they are checked.
    """
    sm_scale, enable_gqa, extra = resolve_sdpa_kwargs(kwargs, sm_scale, _SAGEATTN_EXTRAS + ("return_lse",))
    return_lse = extra.get("return_lse", False)
    gran = check_choice(extra.get("qk_quant_gran", "per_thread"), "qk_quant_gran", QK_GRANULARITIES)
    smooth_v = extra.get("smooth_v", False)
    for value, name in ((is_causal, "is_causal"), (return_lse, "return_lse"), (smooth_k, "smooth_k"),
                        (smooth_v, "smooth_v")):
        check_bool(value, name)
    _, heads_q, _, total_q, total_k, d = check_qkv(q, k, v, "NHD", varlen=True, enable_gqa=enable_gqa)
    check_cu_seqlens(cu_seqlens_q, "cu_seqlens_q", q.device, total_q, max_seqlen_q, "max_seqlen_q")
    check_cu_seqlens(cu_seqlens_k, "cu_seqlens_k", q.device, total_k, max_seqlen_k, "max_seqlen_k")
    if cu_seqlens_q.numel() != cu_seqlens_k.numel():
        raise ValueError(f"cu_seqlens_q and cu_seqlens_k must have the same length (batch + 1), got "
                         f"{cu_seqlens_q.numel()} and {cu_seqlens_k.numel()}")
    scale = check_sm_scale(sm_scale, d)
    _check_device_supported(q)
    # total_q x max_seqlen_k bounds the call's work from above (its exact value needs cu_seqlens on the host)
    pv_mode, kernel = pick(choose(q.device), 1, heads_q, total_q, max_seqlen_k, d, is_causal)
    o, lse = ops.sageattn(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, 0, gran,
                          pv_mode, is_causal, scale, smooth_k, smooth_v, return_lse, kernel)
    return (o, lse) if return_lse else o
