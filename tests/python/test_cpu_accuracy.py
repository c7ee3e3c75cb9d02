"""The CPU path (the C++ reference of the quantized algorithm) against float64 attention."""

import pytest
import torch

import sageattention as sa
from helpers import FAMILIES, cos_sim, finite, lse_rounding_bound, make_qkv, reference_attention, rel_l1

# (rel-L1 max, cos min) per family and P·V mode at N=512; measured values are about 0.8x these.
# Outliers: the cos of the worst seeds sits near the old bounds (120 seeds, D=128: FP16 min 0.99892,
# 1st percentile 0.99918, median 0.99950; FP8 min 0.99847, median 0.99912), so theirs leave room
# for the tail; a one-tile mistake still lands far below.
THRESHOLDS = {
    ("normal", "fp8"): (0.045, 0.999), ("normal", "fp16"): (0.014, 0.9999),
    ("k_bias", "fp8"): (0.045, 0.999), ("k_bias", "fp16"): (0.024, 0.9997),
    ("outliers", "fp8"): (0.06, 0.997), ("outliers", "fp16"): (0.04, 0.998),
    ("large", "fp8"): (0.07, 0.985), ("large", "fp16"): (0.04, 0.985),
}
MODES = {
    "fp8": sa.sageattn_qk_int8_pv_fp8_cuda,
    # fp16 accumulation per key block, V codes within +-2.25: the FP8 bounds hold.
    "fp8acc16": lambda *a, **kw: sa.sageattn_qk_int8_pv_fp8_cuda(*a, pv_accum_dtype="fp32+fp16", **kw),
    "fp16": sa.sageattn_qk_int8_pv_fp16_cuda,
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("d", [64, 128])
def test_accuracy_vs_float64(family, mode, d, gen):
    q, k, v = make_qkv(family, 1, 2, 2, 512, 512, d, generator=gen)
    ref, ref_lse = reference_attention(q, k, v)
    o, lse = MODES[mode](q, k, v, return_lse=True)
    assert o.shape == q.shape and o.dtype == q.dtype
    assert finite(o) and finite(lse)
    max_l1, min_cos = THRESHOLDS[(family, "fp16" if mode == "fp16" else "fp8")]
    assert rel_l1(o, ref) <= max_l1
    assert cos_sim(o, ref) >= min_cos
    # LSE: within the bound that the INT8 rounding of Q and K allows, row by row.
    assert bool(((lse.double() - ref_lse).abs() <= lse_rounding_bound(q, k)).all())


@pytest.mark.parametrize("gran", ["per_block", "per_warp", "per_thread"])
@pytest.mark.parametrize("acc", ["fp32", "fp16+fp32"])
def test_granularities_and_fp16_accumulation(gran, acc, gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 300, 300, 64, generator=gen)
    ref, _ = reference_attention(q, k, v)
    o = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, qk_quant_gran=gran, pv_accum_dtype=acc)
    assert rel_l1(o, ref) <= (0.02 if gran == "per_block" else 0.014)


def test_per_thread_is_at_least_as_accurate_as_per_block(gen):
    q, k, v = make_qkv("k_bias", 1, 4, 4, 512, 512, 128, generator=gen)
    ref, _ = reference_attention(q, k, v)
    fine = rel_l1(sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, qk_quant_gran="per_thread"), ref)
    coarse = rel_l1(sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, qk_quant_gran="per_block"), ref)
    assert fine <= coarse * 1.05


def test_smooth_k_matters_on_k_bias(gen):
    """Without smoothing, the per-channel K offset eats the INT8 range (the reason for step 1)."""
    q, k, v = make_qkv("k_bias", 1, 2, 2, 512, 512, 128, generator=gen)
    k = k + 20.0  # a large common offset
    ref, ref_lse = reference_attention(q, k, v)
    o_s, lse_s = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, smooth_k=True, return_lse=True)
    o_n, lse_n = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, smooth_k=False, return_lse=True)
    assert rel_l1(o_s, ref) < rel_l1(o_n, ref)
    # The LSE correction sm_scale·q·mean(K) makes both LSEs the true one.
    tol = 0.02 * (ref_lse.abs().max().item() + 1.0)
    assert (lse_s.double() - ref_lse).abs().max().item() <= tol
    assert (lse_n.double() - ref_lse).abs().max().item() <= 2 * tol


@pytest.mark.parametrize("smooth_v", [False, True])
def test_smooth_v(smooth_v, gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 256, 256, 64, generator=gen)
    v = v + 3.0
    ref, _ = reference_attention(q, k, v)
    o = sa.sageattn_qk_int8_pv_fp8_cuda(q, k, v, smooth_v=smooth_v)
    assert rel_l1(o, ref) <= 0.04
    o16 = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, smooth_v=smooth_v, pv_accum_dtype="fp16+fp32")
    assert rel_l1(o16, ref) <= 0.014


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kernel", [1, 2])
def test_emulated_bf16_pv(family, kernel, gen):
    """With bf16 V the FP16-P·V mode with fp32 accumulation multiplies P rounded to bf16 by V as it is
    (the Hopper kernel, and the mma.sync kernels since NOTEBOOK_portable v11); the CPU path emulates
    it for either kernel choice. Its error stays within the FP16 mode's bounds and close to fp16 P·V,
    obtained by handing the same V over as fp16 (exact for these values)."""
    ops = torch.ops.sageattention
    q, k, v = make_qkv(family, 1, 2, 2, 512, 512, 128, generator=gen)
    ref, _ = reference_attention(q, k, v)
    k8, ks, km = ops.quant_k(k, None, 512, 0, 2, True)
    args = (None, None, 512, 512, 0, 2, 0, False, 128 ** -0.5, True, kernel)
    o_bf16 = ops.attention(q, k8, ks, km, None, None, None, v, *args)[0]
    o_fp16 = ops.attention(q, k8, ks, km, None, None, None, v.half(), *args)[0]
    max_l1, min_cos = THRESHOLDS[(family, "fp16")]
    assert rel_l1(o_bf16, ref) <= max_l1 and cos_sim(o_bf16, ref) >= min_cos
    assert 0 < rel_l1(o_bf16, o_fp16) <= 0.004  # bf16 P: 8 significant bits instead of 11


def test_emulated_rounded_p_denominator_of_the_hopper_fp8_kernel(gen):
    """The Hopper kernel's two-level FP8 mode divides by the sum of the e4m3 P it multiplied (its P·V
    product returns that sum), the other kernels and modes by the sum of fp32 P; the CPU path
    emulates each when asked for that kernel. With V = 1 (quantized exactly: 448 * 1/448) the output
    is then exactly 1 for the Hopper two-level mode, and visibly not for the others."""
    ops = torch.ops.sageattention
    q, k, _ = make_qkv("normal", 1, 2, 2, 300, 300, 128, generator=gen)
    v = torch.ones_like(q)

    def run(pv_mode, kernel):
        args = (None, None, 300, 300, 0, 2, pv_mode, False, 128 ** -0.5, True, False, False)
        return ops.sageattn(q, k, v, *args, kernel)[0].float()

    assert torch.equal(run(3, 2), torch.ones_like(q, dtype=torch.float32))
    for pv_mode, kernel in ((3, 1), (2, 2)):
        err = (run(pv_mode, kernel) - 1).abs()
        assert err.max() > 1e-3 and err.max() < 0.05  # e4m3 P rounding, not normalised away


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_fp16_accumulated_fp8_block_at_its_bound(device):
    """FP8 P·V accumulated in fp16 ("fp32+fp16") at its worst case: every P of a 64-key block at the
    e4m3 top (448, all scores equal) and every V code at the top of its range (2.25), so each block
    sums to 64 x 448 x 2.25 = 64512, just inside fp16. The output is V exactly, with no inf or NaN;
    with V codes up to 448 the same block would overflow fp16 200 times over."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    q = torch.zeros(1, 2, 300, 128, dtype=torch.bfloat16, device=device)
    k = torch.randn(1, 2, 300, 128, device=device).to(torch.bfloat16)
    v = torch.full((1, 2, 300, 128), 3.0, dtype=torch.bfloat16, device=device)
    o, lse = sa.sageattn_qk_int8_pv_fp8_cuda(q, k, v, pv_accum_dtype="fp32+fp16", smooth_k=False, return_lse=True)
    assert finite(o) and finite(lse)
    assert torch.equal(o, v)
