"""Contract points of DESIGN.md §1.1 on the CPU path."""

import math

import pytest
import torch

import sageattention as sa
from helpers import make_qkv, reference_attention, rel_l1

ops = torch.ops.sageattention


def test_layouts_give_identical_results(gen):
    q, k, v = make_qkv("normal", 2, 4, 2, 100, 130, 64, generator=gen)
    o_hnd = sa.sageattn(q, k, v, tensor_layout="HND")
    o_nhd = sa.sageattn(*(x.transpose(1, 2).contiguous() for x in (q, k, v)), tensor_layout="NHD")
    assert torch.equal(o_hnd, o_nhd.transpose(1, 2))


def test_strided_views_of_fused_qkv(gen):
    qkv = torch.randn(2, 77, 3, 4, 64, generator=gen).to(torch.float16)  # [B, N, 3, H, D]
    q, k, v = qkv.unbind(2)  # NHD views, non-contiguous
    assert not q.is_contiguous()
    o = sa.sageattn(q, k, v, tensor_layout="NHD")
    o_ref = sa.sageattn(q.contiguous(), k.contiguous(), v.contiguous(), tensor_layout="NHD")
    assert torch.equal(o, o_ref)


@pytest.mark.parametrize("ratio", [1, 4, 8])
def test_gqa_equals_repeated_kv(ratio, gen):
    q, k, v = make_qkv("normal", 1, 8, 8 // ratio, 90, 90, 64, generator=gen)
    o = sa.sageattn(q, k, v)
    o_rep = sa.sageattn(q, k.repeat_interleave(ratio, 1), v.repeat_interleave(ratio, 1))
    assert torch.equal(o, o_rep)
    ref, _ = reference_attention(q, k, v)
    assert rel_l1(o, ref) < 0.05


def test_enable_gqa_false_rejects_mismatched_heads(gen):
    q, k, v = make_qkv("normal", 1, 4, 2, 16, 16, 64, generator=gen)
    with pytest.raises(ValueError, match="enable_gqa"):
        sa.sageattn(q, k, v, enable_gqa=False)


@pytest.mark.parametrize("nq,nk", [(64, 200), (200, 64), (1, 17), (17, 1), (113, 239)])
def test_causal_bottom_right(nq, nk, gen):
    q, k, v = make_qkv("normal", 1, 2, 2, nq, nk, 64, generator=gen)
    o, lse = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, is_causal=True, return_lse=True)
    ref, ref_lse = reference_attention(q, k, v, is_causal=True)
    empty = torch.isinf(ref_lse)  # rows that see no key (nq > nk)
    assert torch.equal(empty, torch.isinf(lse))
    assert (lse[empty] == -math.inf).all()
    assert (o[empty.unsqueeze(-1).expand_as(o)] == 0).all()
    if (~empty).any():
        assert (lse[~empty].double() - ref_lse[~empty]).abs().max() < 0.05
        assert rel_l1(o, ref) < 0.02


def test_causal_equal_lengths_matches_sdpa(gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 96, 96, 64, generator=gen)
    ref = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True)
    assert rel_l1(sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v, is_causal=True), ref) < 0.015


def test_lse_matches_float64_scores(gen):
    q, k, v = make_qkv("normal", 2, 2, 1, 70, 150, 128, generator=gen)
    scale = 0.05
    _, lse = sa.sageattn(q, k, v, sm_scale=scale, return_lse=True)
    scores = torch.einsum("bhid,bhjd->bhij", q.double(), k.double().repeat_interleave(2, 1)) * scale
    assert lse.shape == (2, 2, 70) and lse.dtype == torch.float32
    assert (lse.double() - torch.logsumexp(scores, -1)).abs().max() < 0.02


def test_scale_alias_and_default(gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 40, 40, 96, generator=gen)
    assert torch.equal(sa.sageattn(q, k, v, scale=0.1), sa.sageattn(q, k, v, sm_scale=0.1))
    assert torch.equal(sa.sageattn(q, k, v), sa.sageattn(q, k, v, sm_scale=1 / math.sqrt(96)))


def test_sdpa_kwargs_honoured(gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 40, 40, 64, generator=gen)
    o = sa.sageattn(q, k, v, attn_mask=None, dropout_p=0.0, enable_gqa=True)
    assert torch.equal(o, sa.sageattn(q, k, v))


@pytest.mark.parametrize("d", [1, 32, 80, 96, 100, 160, 256])
def test_any_head_dim_up_to_256(d, gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 50, 50, d, generator=gen)
    ref, _ = reference_attention(q, k, v)
    o = sa.sageattn_qk_int8_pv_fp16_cuda(q, k, v)
    assert o.shape == q.shape
    assert rel_l1(o, ref) < 0.03


@pytest.mark.parametrize("shape", [(0, 2, 16, 64), (1, 2, 0, 64), (1, 0, 16, 64)])
def test_empty_inputs(shape):
    q = torch.randn(shape, dtype=torch.float16)
    o, lse = sa.sageattn(q, q, q, return_lse=True)
    assert o.shape == q.shape and lse.shape == (shape[0], shape[1], shape[2])


def test_no_keys_gives_zero_rows():
    q = torch.randn(1, 2, 5, 64, dtype=torch.float16)
    k = torch.randn(1, 2, 0, 64, dtype=torch.float16)
    o, lse = sa.sageattn(q, k, k, return_lse=True)
    assert (o == 0).all() and (lse == -math.inf).all()


def _pack(xs):
    return torch.cat([x[0].transpose(0, 1) for x in xs], 0)  # [B=1,H,N,D] -> [N,H,D]


@pytest.mark.parametrize("causal", [False, True])
def test_varlen_equals_per_sequence_calls(causal, gen):
    lens_q, lens_k = [37, 1, 130, 64], [50, 3, 129, 64]
    seqs = [make_qkv("k_bias", 1, 4, 2, nq, nk, 64, generator=gen) for nq, nk in zip(lens_q, lens_k)]
    q, k, v = (_pack([s[i] for s in seqs]) for i in range(3))
    cu_q = torch.tensor([0] + list(torch.tensor(lens_q).cumsum(0)), dtype=torch.int32)
    cu_k = torch.tensor([0] + list(torch.tensor(lens_k).cumsum(0)), dtype=torch.int32)
    o, lse = sa.sageattn_varlen(q, k, v, cu_q, cu_k, max(lens_q), max(lens_k), is_causal=causal, return_lse=True)
    assert o.shape == q.shape and lse.shape == (4, sum(lens_q))
    for i, (sq, sk, sv) in enumerate(seqs):
        o_i, lse_i = sa.sageattn(sq, sk, sv, is_causal=causal, return_lse=True)
        rows = slice(int(cu_q[i]), int(cu_q[i + 1]))
        assert torch.equal(o[rows], o_i[0].transpose(0, 1))
        assert torch.equal(lse[:, rows], lse_i[0])


def test_torch_compile_fullgraph(gen):
    q, k, v = make_qkv("normal", 1, 2, 2, 64, 64, 64, generator=gen)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(q, k, v):
        return sa.sageattn(q, k, v, is_causal=True) * 2

    assert torch.equal(f(q, k, v), sa.sageattn(q, k, v, is_causal=True) * 2)


def test_opcheck_every_op(gen):
    q, k, v = make_qkv("normal", 1, 2, 1, 40, 72, 64, generator=gen)
    opcheck = torch.library.opcheck
    opcheck(ops.quant_k.default, (k, None, 72, 0, 2, True))
    opcheck(ops.quant_v.default, (v, None, 72, 0, False))
    opcheck(ops.quant_q.default, (q, None, 40, 0, 2))
    k8, ks, km = ops.quant_k(k, None, 72, 0, 2, True)
    v8, vs, vm = ops.quant_v(v, None, 72, 0, False)
    opcheck(ops.attention.default, (q, k8, ks, km, v8, vs, None, None, None, None, 40, 72, 0, 2, 3, True, 0.125, True, 0))
    opcheck(ops.attention.default, (q, k8, ks, km, None, None, None, v, None, None, 40, 72, 0, 2, 0, False, 0.125, False, 0))
    opcheck(ops.sageattn.default, (q, k, v, None, None, 40, 72, 0, 2, 3, False, 0.125, True, False, True, 0))
    # FP8 P·V accumulated in fp16: V codes quantized for that mode (pv_mode 4, range +-2.25).
    opcheck(ops.quant_v.default, (v, None, 72, 0, True, 4))
    v8, vs, vm = ops.quant_v(v, None, 72, 0, True, 4)
    opcheck(ops.attention.default, (q, k8, ks, km, v8, vs, vm, None, None, None, 40, 72, 0, 2, 4, True, 0.125, True, 1))
    opcheck(ops.sageattn.default, (q, k, v, None, None, 40, 72, 0, 2, 4, True, 0.125, True, True, True, 1))


def test_quantization_invariants(gen):
    k = (torch.randn(1, 2, 200, 64, generator=gen) * 3).to(torch.float16)
    k[:, :, :, 5] = 0  # a channel of zeros, and below a group of all-zero rows (amax = 0)
    k[:, 1, :64] = 0
    for gran in (0, 1, 2):
        k8, ks, km = ops.quant_k(k, None, 200, 0, gran, True)
        assert k8.shape == (1, 2, 256, 64)
        centered = k.float() - km[:, :, None, :]
        tokens = torch.arange(256)
        if gran == 2:
            group = tokens // 64 * 4 + (tokens % 8) // 2
        else:
            group = tokens // 64
        scale = ks[:, :, group][:, :, :200, None]
        deq = k8[:, :, :200].float() * scale
        assert ((centered - deq).abs() <= scale / 2 * (1 + 1e-5) + 1e-6).all()
        assert (k8[:, :, 200:] == 0).all()
        assert (ks >= 0).all() and torch.isfinite(ks).all()
    v8, vs, vm = ops.quant_v(k, None, 200, 0, True)
    assert v8.dtype == torch.uint8 and v8.shape == (1, 2, 64, 256)
    assert not torch.isnan(v8.view(torch.float8_e4m3fn).float()).any()
    assert (vs.abs().amax(-1) <= k.float().abs().amax() * 2 / 448 + 1e-6).all()


def test_kernel_argument_on_cpu_picks_softmax_step(gen):
    """kernel=2 makes the CPU reference emulate the Hopper kernel's 128-key softmax step."""
    q, k, v = make_qkv("normal", 1, 2, 2, 300, 300, 64, generator=gen)
    ref, _ = reference_attention(q, k, v)
    o64 = ops.sageattn(q, k, v, None, None, 300, 300, 0, 2, 3, False, 0.125, True, False, False, 1)[0]
    o128 = ops.sageattn(q, k, v, None, None, 300, 300, 0, 2, 3, False, 0.125, True, False, False, 2)[0]
    assert rel_l1(o64, ref) < 0.045 and rel_l1(o128, ref) < 0.045
    assert not torch.equal(o64, o128)


def test_cli_prints_build_and_choice():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "sageattention"], capture_output=True, text=True, check=True).stdout
    assert "built against" in out and "sageattn picks" in out


def test_bench_runs_on_cpu(tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "sageattention.bench", "--head-dims", "64", "--seqlens", "64",
                          "--causal", "1", "--json", str(tmp_path / "r.json")], capture_output=True, text=True, check=True)
    assert "| 64 | yes | 64 |" in out.stdout
    assert (tmp_path / "r.json").exists()


def test_sageattn_forwards_kernel_options(gen):
    """Like SageAttention 2, sageattn passes qk_quant_gran / pv_accum_dtype / smooth_* to the kernel."""
    q, k, v = make_qkv("normal", 1, 2, 2, 200, 200, 64, generator=gen)
    o = sa.sageattn(q, k, v, qk_quant_gran="per_warp", pv_accum_dtype="fp32", smooth_k=False)
    assert torch.equal(o, sa.sageattn_qk_int8_pv_fp8_cuda(q, k, v, qk_quant_gran="per_warp", pv_accum_dtype="fp32",
                                                           smooth_k=False))
    with pytest.raises(ValueError, match="pv_accum_dtype"):
        sa.sageattn(q, k, v, pv_accum_dtype="fp16+fp32")  # not a mode of the FP8 kernel picked here


@pytest.mark.parametrize("gpu_arch, build_archs, mode, kernel, says", [
    (90, ["80", "89", "90a"], "PV_FP8_FP32_FP32", "KERNEL_AUTO", "Hopper"),  # mma.sync fallback
    (90, ["80", "89"], "PV_FP16_FP32", "KERNEL_MMA", "no sm_90a"),  # mma.sync's faster mode on sm_90
    (89, ["80", "89", "90a"], "PV_FP8_FP32_FP32", "KERNEL_MMA", "FP8"),
    (120, ["80", "89", "90a", "120"], "PV_FP8_FP32_FP32", "KERNEL_MMA", "FP8"),
    (120, ["80", "89"], "PV_FP8_FP32_FP32", "KERNEL_MMA", "FP8"),  # sm_89 PTX, JIT-compiled
    (120, ["80", "90a"], "PV_FP16_FP32", "KERNEL_MMA", "no FP8 code"),  # 90a runs on sm_90 alone
    (89, ["80", "89-real", "100f"], "PV_FP8_FP32_FP32", "KERNEL_MMA", "FP8"),
    (120, ["80", "89-real", "100f"], "PV_FP16_FP32", "KERNEL_MMA", "no FP8 code"),
    (103, ["80", "89-real", "100f"], "PV_FP8_FP32_FP32", "KERNEL_MMA", "FP8"),
    (86, ["80", "90a"], "PV_FP16_FP32", "KERNEL_MMA", "FP16"),
    (86, ["90a"], "PV_FP16_FP32", "KERNEL_MMA", "no kernel"),
    (75, ["80", "89", "90a"], "PV_FP16_FP32", "KERNEL_MMA", "no kernel"),
])
def test_default_kernel_per_gpu_and_build(monkeypatch, gpu_arch, build_archs, mode, kernel, says):
    """What sageattn picks from the GPU's arch and the archs the build has code for (the C++
    dispatch applies the same rule, compiled_code_runs, before it launches a kernel)."""
    from sageattention import _build_info, _dispatch
    monkeypatch.setattr(_dispatch, "_arch", lambda index: gpu_arch)
    monkeypatch.setattr(_build_info, "CUDA_ARCHS", build_archs)
    choice = _dispatch._choose("cuda", 0)
    assert (choice.pv_mode, choice.kernel) == (getattr(_dispatch, mode), getattr(_dispatch, kernel))
    assert choice.description.startswith(f"sm{gpu_arch}:") and says in choice.description


@pytest.mark.parametrize("b, h, n_q, n_k, d, causal, fp16_pv", [
    (1, 16, 2048, 2048, 128, False, True),   # 2^26
    (4, 32, 1024, 1024, 128, False, True),   # 2^27: the limit itself
    (4, 32, 1024, 1025, 128, False, False),
    (4, 32, 2048, 2048, 128, True, True),    # causal: 2^29
    (16, 32, 2048, 2048, 128, True, False),  # 2^31
    (4, 32, 1024, 1024, 64, False, True),
    (4, 32, 2048, 2048, 64, False, False),
    (2, 24, 4096, 77, 80, False, True),      # cross-attention; D=80 runs the 128 tile
    (1, 8, 512, 512, 256, False, False),     # no rule above D=128
])
def test_sm90_short_calls_pick_fp16_pv(monkeypatch, b, h, n_q, n_k, d, causal, fp16_pv):
    """sageattn on sm90 with the Hopper kernels: FP16 P·V (Hopper kernel, KERNEL_AUTO) for calls of at
    most SM90_FP16_PV_MAX_WORK, FP8 P·V above; what reaches the op, checked through a stand-in op."""
    from sageattention import _build_info, _dispatch, core
    monkeypatch.setattr(_dispatch, "_arch", lambda index: 90)
    monkeypatch.setattr(_build_info, "CUDA_ARCHS", ["80", "89", "90a"])
    sm90 = _dispatch._choose("cuda", 0)
    expected = (_dispatch.PV_FP16_FP32 if fp16_pv else _dispatch.PV_FP8_FP32_FP32, _dispatch.KERNEL_AUTO)
    assert _dispatch.pick(sm90, b, h, n_q, n_k, d, causal) == expected
    mma_fp8 = _dispatch.Choice(_dispatch.PV_FP8_FP32_FP32, _dispatch.KERNEL_MMA, "")
    for other in (_dispatch._choose("cpu", None), mma_fp8):
        assert _dispatch.pick(other, b, h, n_q, n_k, d, causal) == (other.pv_mode, other.kernel)

    seen = []

    class Op:
        def sageattn(self, q, k, v, *args):
            seen.append((args[6], args[-1]))  # pv_mode, kernel
            return torch.empty(0), torch.empty(0)

    monkeypatch.setattr(core, "ops", Op())
    monkeypatch.setattr(core, "choose", lambda device: sm90)
    q = torch.empty(b, h, n_q, d, dtype=torch.float16)
    k = v = torch.empty(b, h, n_k, d, dtype=torch.float16)
    sa.sageattn(q, k, v, is_causal=causal)
    sa.sageattn(q, k, v, is_causal=causal, pv_accum_dtype="fp32+fp32")  # an FP8 mode asked for: no pick
    assert seen == [expected, (_dispatch.PV_FP8_FP32_FP32, _dispatch.KERNEL_AUTO)]
