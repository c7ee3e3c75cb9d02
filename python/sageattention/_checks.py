"""Argument checks of the public API. Each error names the argument and what was expected."""

from __future__ import annotations

import math

import torch

MAX_HEAD_DIM = 256
_SDPA_KWARGS = ("attn_mask", "dropout_p", "scale", "enable_gqa")


def check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return choices[value]


def resolve_sdpa_kwargs(kwargs: dict, sm_scale, extra_allowed=()):
    """Honours or rejects torch SDPA's keyword arguments; rejects anything unknown.

    Returns (sm_scale, enable_gqa, remaining_kwargs_of_extra_allowed).
    """
    kwargs = dict(kwargs)
    attn_mask = kwargs.pop("attn_mask", None)
    if attn_mask is not None:
        raise ValueError("attn_mask is not supported by sageattention (only is_causal masks); pass attn_mask=None")
    dropout_p = kwargs.pop("dropout_p", 0.0)
    if not isinstance(dropout_p, (int, float)) or dropout_p != 0:
        raise ValueError(f"dropout_p must be 0 (sageattention is for inference), got {dropout_p!r}")
    scale = kwargs.pop("scale", None)
    if scale is not None:
        if sm_scale is not None and float(scale) != float(sm_scale):
            raise ValueError(f"scale ({scale}) and sm_scale ({sm_scale}) are aliases; give one of them")
        sm_scale = scale
    enable_gqa = kwargs.pop("enable_gqa", True)
    check_bool(enable_gqa, "enable_gqa")
    extra = {key: kwargs.pop(key) for key in list(kwargs) if key in extra_allowed}
    if kwargs:
        names = ", ".join(sorted(kwargs))
        raise TypeError(f"unexpected keyword argument(s): {names}")
    return sm_scale, enable_gqa, extra


def check_tensor(t, name):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in (torch.float16, torch.bfloat16):
        raise TypeError(f"{name} must be float16 or bfloat16, got {t.dtype}")
    if t.numel() > 0 and t.stride(-1) != 1:
        raise ValueError(f"{name} must be contiguous in its last dimension (stride 1), got stride {t.stride(-1)}")


def check_qkv(q, k, v, layout_name, varlen, enable_gqa):
    """Checks q, k, v; returns (batch, heads_q, heads_kv, n_q, n_k, head_dim)."""
    for t, name in ((q, "q"), (k, "k"), (v, "v")):
        check_tensor(t, name)
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(f"q, k and v must have the same dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if k.device != q.device or v.device != q.device:
        raise ValueError(f"q, k and v must be on the same device, got {q.device}, {k.device}, {v.device}")
    rank = 3 if varlen else 4
    shape_doc = "[total_tokens, heads, head_dim]" if varlen else (
        "[B, H, N, D] (tensor_layout='HND')" if layout_name == "HND" else "[B, N, H, D] (tensor_layout='NHD')")
    for t, name in ((q, "q"), (k, "k"), (v, "v")):
        if t.dim() != rank:
            raise ValueError(f"{name} must be {rank}-D {shape_doc}, got shape {tuple(t.shape)}")
    if varlen:
        (n_q, hq, d), (n_k, hkv, dk) = q.shape, k.shape
        batch = None
    else:
        if layout_name == "HND":
            batch, hq, n_q, d = q.shape
            _, hkv, n_k, dk = k.shape
        else:
            batch, n_q, hq, d = q.shape
            _, n_k, hkv, dk = k.shape
        if k.shape[0] != batch or v.shape[0] != batch:
            raise ValueError(f"q, k and v must have the same batch size, got {q.shape[0]}, {k.shape[0]}, {v.shape[0]}")
    if v.shape != k.shape:
        raise ValueError(f"k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}")
    if dk != d:
        raise ValueError(f"q and k must have the same head_dim, got {d} and {dk}")
    if d < 1 or d > MAX_HEAD_DIM:
        raise ValueError(f"head_dim must be between 1 and {MAX_HEAD_DIM}, got {d}")
    if hkv == 0 and hq != 0 or (hkv and hq % hkv != 0):
        raise ValueError(f"the number of q heads ({hq}) must be a multiple of the number of k/v heads ({hkv})")
    if not enable_gqa and hq != hkv:
        raise ValueError(f"enable_gqa=False but q has {hq} heads and k/v have {hkv}")
    return batch, hq, hkv, n_q, n_k, d


def check_sm_scale(sm_scale, head_dim):
    if sm_scale is None:
        return 1.0 / math.sqrt(head_dim)
    if isinstance(sm_scale, torch.Tensor) or not isinstance(sm_scale, (int, float)):
        raise TypeError(f"sm_scale must be a float, got {type(sm_scale).__name__}")
    if not math.isfinite(sm_scale):
        raise ValueError(f"sm_scale must be finite, got {sm_scale}")
    return float(sm_scale)


def check_cu_seqlens(cu, name, device, total, max_seqlen, max_name):
    if not isinstance(cu, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(cu).__name__}")
    if cu.dtype != torch.int32:
        raise TypeError(f"{name} must be int32, got {cu.dtype}")
    if cu.dim() != 1 or cu.numel() < 1:
        raise ValueError(f"{name} must be 1-D with batch + 1 entries, got shape {tuple(cu.shape)}")
    if cu.device != device:
        raise ValueError(f"{name} must be on the same device as q ({device}), got {cu.device}")
    if not isinstance(max_seqlen, int) or isinstance(max_seqlen, bool) or max_seqlen < 0:
        raise ValueError(f"{max_name} must be a non-negative int, got {max_seqlen!r}")
    if cu.device.type == "cpu":  # values are checked where reading them costs no device sync
        values = cu.tolist()
        if values[0] != 0 or values[-1] != total:
            raise ValueError(f"{name} must start at 0 and end at the number of tokens ({total}), got {values[0]}..{values[-1]}")
        lengths = [b - a for a, b in zip(values, values[1:])]
        if any(n < 0 for n in lengths):
            raise ValueError(f"{name} must be non-decreasing")
        if lengths and max(lengths) > max_seqlen:
            raise ValueError(f"{max_name} ({max_seqlen}) is smaller than the longest sequence ({max(lengths)})")
