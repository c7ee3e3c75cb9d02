"""A small GPU workload for compute-sanitizer (memcheck, racecheck, synccheck): every kernel once,
with odd lengths, causal, GQA, varlen and LSE, head dims 64, 96 and 256 on the mma.sync FP16 kernel,
and head dim 256 on Hopper. 300 keys: more key blocks than the kernels have shared-memory stages, so
every stage is refilled while other warps may still read it (the hand-off racecheck must see).
Run: compute-sanitizer python3 sanitizer_suite.py"""

import functools

import torch

import sageattention as sa
from sageattention import core
from sageattention._dispatch import KERNEL_MMA, KERNEL_SM90, PV_FP16_FP32, PV_FP8_FP32_FP32

ops = torch.ops.sageattention


def fp16_on(kernel):
    """INT8 Q·K + FP16 P·V pinned to one kernel family."""
    return functools.partial(core._run, sm_scale=None, qk_quant_gran="per_thread", pv_mode=PV_FP16_FP32,
                             kernel=kernel, smooth_k=True, smooth_v=False, tensor_layout="HND")


def main():
    g = torch.Generator().manual_seed(0)
    dev = "cuda"
    q = torch.randn(1, 4, 130, 128, generator=g).to(dev, torch.bfloat16)
    k = torch.randn(1, 2, 300, 128, generator=g).to(dev, torch.bfloat16)
    v = torch.randn(1, 2, 300, 128, generator=g).to(dev, torch.bfloat16)
    major, minor = torch.cuda.get_device_capability()
    sm = major * 10 + minor
    calls = [sa.sageattn, fp16_on(KERNEL_MMA)]
    if sm >= 89:
        calls += [sa.sageattn_qk_int8_pv_fp8_cuda,
                  functools.partial(sa.sageattn_qk_int8_pv_fp8_cuda, pv_accum_dtype="fp32+fp16")]
    if sm == 90:
        calls += [sa.sageattn_qk_int8_pv_fp8_cuda_sm90, fp16_on(KERNEL_SM90)]
    for fn in calls:
        for causal in (False, True):
            o, lse = fn(q, k, v, is_causal=causal, return_lse=True)
            assert torch.isfinite(o).all()
    # The mma.sync FP16 kernel's other instantiations: D=64 (128-key steps, denominator on the
    # tensor cores), D=96 on the 128 tile (columns past D in its tiles and output chunks), the 256 tile.
    for d in (64, 96, 256):
        q2, k2, v2 = (torch.randn(1, h, n, d, generator=g).to(dev, torch.bfloat16)
                      for h, n in ((4, 130), (2, 300), (2, 300)))
        for causal in (False, True) if d == 64 else (True,):
            o, lse = fp16_on(KERNEL_MMA)(q2, k2, v2, is_causal=causal, return_lse=True)
            assert torch.isfinite(o).all()
    # D=128 FP16 mma.sync from 4096 rows (non-causal): two 16-row slices per warp (attention_launch.cuh).
    q3, k3, v3 = (torch.randn(1, 2, 4100, 128, generator=g).to(dev, torch.bfloat16) for _ in range(3))
    o, lse = fp16_on(KERNEL_MMA)(q3, k3, v3, is_causal=False, return_lse=True)
    assert torch.isfinite(o).all()
    if sm == 90:  # head dim 256: two work tiles per query block, one per half of the output columns
        q2, k2, v2 = (torch.randn(1, h, n, 256, generator=g).to(dev, torch.bfloat16)
                      for h, n in ((4, 130), (2, 300), (2, 300)))
        for causal in (False, True):
            for fn in (sa.sageattn_qk_int8_pv_fp8_cuda_sm90, fp16_on(KERNEL_SM90)):
                o, lse = fn(q2, k2, v2, is_causal=causal, return_lse=True)
                assert torch.isfinite(o).all()
    cu_q = torch.tensor([0, 3, 70], dtype=torch.int32, device=dev)
    cu_k = torch.tensor([0, 50, 300], dtype=torch.int32, device=dev)
    qv, kv = q[0].transpose(0, 1)[:70].contiguous(), k[0].transpose(0, 1).contiguous()
    sa.sageattn_varlen(qv, kv, kv, cu_q, cu_k, 67, 250, is_causal=True)
    # Varlen on the mma.sync kernels (the FP16 mode keeps its cp.async loads there).
    ops.sageattn(qv, kv, kv, cu_q, cu_k, 67, 250, 0, 2, PV_FP16_FP32, True, 0.1, True, False, True, KERNEL_MMA)
    if sm >= 89:
        ops.sageattn(qv, kv, kv, cu_q, cu_k, 67, 250, 0, 2, PV_FP8_FP32_FP32, True, 0.1, True, False, True, KERNEL_MMA)
    if sm == 90:  # both P·V modes varlen on the Hopper kernel (V rows of the next sequence meet P = 0)
        ops.sageattn(qv, kv, kv, cu_q, cu_k, 67, 250, 0, 2, PV_FP16_FP32, True, 0.1, True, False, True, KERNEL_SM90)
        ops.sageattn(qv, kv, kv, cu_q, cu_k, 67, 250, 0, 2, PV_FP8_FP32_FP32, True, 0.1, True, False, True,
                     KERNEL_SM90)
    torch.cuda.synchronize()
    print("sanitizer suite ran", len(calls), "kernels")


if __name__ == "__main__":
    main()
