"""Every bad input raises a ValueError/TypeError/RuntimeError whose message names the argument."""

import pytest
import torch

import sageattention as sa


def t(*shape, dtype=torch.float16):
    return torch.randn(*shape).to(dtype)


Q = t(1, 2, 16, 64)
CU = torch.tensor([0, 16], dtype=torch.int32)
V3 = t(16, 2, 64)

CASES = [
    # (id, callable, exception type, text the message must contain)
    ("q not a tensor", lambda: sa.sageattn([1.0], Q, Q), TypeError, "q"),
    ("q float32", lambda: sa.sageattn(Q.float(), Q, Q), TypeError, "q must be float16 or bfloat16"),
    ("k int8", lambda: sa.sageattn(Q, Q.to(torch.int8), Q), TypeError, "k must be float16"),
    ("v float64", lambda: sa.sageattn(Q, Q, Q.double()), TypeError, "v must be float16"),
    ("mixed dtypes", lambda: sa.sageattn(Q, Q.bfloat16(), Q), TypeError, "same dtype"),
    ("q 3-D", lambda: sa.sageattn(Q[0], Q, Q), ValueError, "q must be 4-D"),
    ("k 5-D", lambda: sa.sageattn(Q, Q[None], Q), ValueError, "k must be 4-D"),
    ("bad layout", lambda: sa.sageattn(Q, Q, Q, tensor_layout="BHND"), ValueError, "tensor_layout"),
    ("layout not str", lambda: sa.sageattn(Q, Q, Q, tensor_layout=0), ValueError, "tensor_layout"),
    ("q last dim strided", lambda: sa.sageattn(t(1, 2, 64, 16).transpose(2, 3), Q, Q), ValueError,
     "q must be contiguous in its last dimension"),
    ("head dim mismatch", lambda: sa.sageattn(Q, t(1, 2, 16, 32), t(1, 2, 16, 32)), ValueError, "head_dim"),
    ("head dim 512", lambda: sa.sageattn(t(1, 1, 4, 512), t(1, 1, 4, 512), t(1, 1, 4, 512)), ValueError, "head_dim"),
    ("k v shape mismatch", lambda: sa.sageattn(Q, Q, t(1, 2, 17, 64)), ValueError, "k and v"),
    ("batch mismatch", lambda: sa.sageattn(Q, t(2, 2, 16, 64), t(2, 2, 16, 64)), ValueError, "batch"),
    ("heads not multiple", lambda: sa.sageattn(t(1, 3, 16, 64), Q, Q), ValueError, "multiple"),
    ("attn_mask", lambda: sa.sageattn(Q, Q, Q, attn_mask=torch.ones(16, 16, dtype=torch.bool)), ValueError, "attn_mask"),
    ("dropout", lambda: sa.sageattn(Q, Q, Q, dropout_p=0.1), ValueError, "dropout_p"),
    ("scale and sm_scale differ", lambda: sa.sageattn(Q, Q, Q, sm_scale=0.1, scale=0.2), ValueError, "scale"),
    ("unknown kwarg", lambda: sa.sageattn(Q, Q, Q, window_size=(1, 1)), TypeError, "window_size"),
    ("sm_scale nan", lambda: sa.sageattn(Q, Q, Q, sm_scale=float("nan")), ValueError, "sm_scale"),
    ("sm_scale str", lambda: sa.sageattn(Q, Q, Q, sm_scale="0.1"), TypeError, "sm_scale"),
    ("is_causal int", lambda: sa.sageattn(Q, Q, Q, is_causal=1), TypeError, "is_causal"),
    ("return_lse str", lambda: sa.sageattn(Q, Q, Q, return_lse="yes"), TypeError, "return_lse"),
    ("enable_gqa not bool", lambda: sa.sageattn(Q, Q, Q, enable_gqa="no"), TypeError, "enable_gqa"),
    ("bad granularity", lambda: sa.sageattn_qk_int8_pv_fp8_cuda(Q, Q, Q, qk_quant_gran="per_head"), ValueError,
     "qk_quant_gran"),
    ("fp8 bad accum", lambda: sa.sageattn_qk_int8_pv_fp8_cuda(Q, Q, Q, pv_accum_dtype="fp16"), ValueError,
     "pv_accum_dtype"),
    ("fp16 bad accum", lambda: sa.sageattn_qk_int8_pv_fp16_cuda(Q, Q, Q, pv_accum_dtype="fp32+fp32"), ValueError,
     "pv_accum_dtype"),
    ("sm90 fp16 accum", lambda: sa.sageattn_qk_int8_pv_fp8_cuda_sm90(Q, Q, Q, pv_accum_dtype="fp32+fp16"),
     ValueError, "pv_accum_dtype"),
    ("triton bad backend", lambda: sa.sageattn_qk_int8_pv_fp16_triton(Q, Q, Q, quantization_backend="x"),
     ValueError, "quantization_backend"),
    ("smooth_k not bool", lambda: sa.sageattn_qk_int8_pv_fp16_cuda(Q, Q, Q, smooth_k=None), TypeError, "smooth_k"),
    ("varlen q 4-D", lambda: sa.sageattn_varlen(Q, V3, V3, CU, CU, 16, 16), ValueError, "q must be 3-D"),
    ("cu_seqlens int64", lambda: sa.sageattn_varlen(V3, V3, V3, CU.long(), CU, 16, 16), TypeError, "cu_seqlens_q"),
    ("cu_seqlens 2-D", lambda: sa.sageattn_varlen(V3, V3, V3, CU, CU[None], 16, 16), ValueError, "cu_seqlens_k"),
    ("cu_seqlens wrong end", lambda: sa.sageattn_varlen(V3, V3, V3, torch.tensor([0, 15], dtype=torch.int32), CU, 16, 16),
     ValueError, "cu_seqlens_q"),
    ("cu_seqlens decreasing", lambda: sa.sageattn_varlen(V3, V3, V3, torch.tensor([0, 10, 5, 16], dtype=torch.int32),
                                                         torch.tensor([0, 10, 5, 16], dtype=torch.int32), 16, 16),
     ValueError, "non-decreasing"),
    ("max_seqlen too small", lambda: sa.sageattn_varlen(V3, V3, V3, CU, CU, 8, 16), ValueError, "max_seqlen_q"),
    ("max_seqlen negative", lambda: sa.sageattn_varlen(V3, V3, V3, CU, CU, 16, -1), ValueError, "max_seqlen_k"),
    ("cu_seqlens batch mismatch", lambda: sa.sageattn_varlen(V3, V3, V3, CU, torch.tensor([0, 8, 16], dtype=torch.int32),
                                                             16, 16), ValueError, "cu_seqlens_q and cu_seqlens_k"),
    ("op: bad layout int", lambda: torch.ops.sageattention.quant_k(Q, None, 16, 7, 2, True), RuntimeError, "tensor_layout"),
    ("op: bad gran int", lambda: torch.ops.sageattention.quant_k(Q, None, 16, 0, 9, True), RuntimeError, "qk_quant_gran"),
    ("op: quant_v fp16 mode", lambda: torch.ops.sageattention.quant_v(Q, None, 16, 0, False, 0), RuntimeError, "pv_mode"),
    ("op: sm90 kernel, fp16-accumulated FP8", lambda: torch.ops.sageattention.sageattn(
        Q, Q, Q, None, None, 16, 16, 0, 2, 4, False, 0.1, True, False, False, 2), RuntimeError, "pv_mode 4"),
    ("op: pv_mode 5", lambda: torch.ops.sageattention.sageattn(
        Q, Q, Q, None, None, 16, 16, 0, 2, 5, False, 0.1, True, False, False, 0), RuntimeError, "pv_mode"),
    ("op: k8 wrong dtype", lambda: torch.ops.sageattention.attention(
        Q, Q, Q, None, None, None, None, Q, None, None, 16, 16, 0, 2, 0, False, 0.1, False, 0), TypeError, "k8"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case):
    _, fn, exc, text = case
    with pytest.raises(exc) as info:
        fn()
    assert text in str(info.value), f"message does not name the argument: {info.value}"


def test_enough_cases():
    assert len(CASES) >= 25


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch():
    with pytest.raises(ValueError, match="same device"):
        sa.sageattn(Q.cuda(), Q, Q)
