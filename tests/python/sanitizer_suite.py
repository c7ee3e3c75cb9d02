"""A small GPU workload for compute-sanitizer (memcheck, racecheck, synccheck): every kernel once,
with odd lengths, causal, GQA, varlen and LSE. Run: compute-sanitizer python3 sanitizer_suite.py"""

import torch

import sageattention as sa


def main():
    g = torch.Generator().manual_seed(0)
    dev = "cuda"
    q = torch.randn(1, 4, 130, 128, generator=g).to(dev, torch.bfloat16)
    k = torch.randn(1, 2, 77, 128, generator=g).to(dev, torch.bfloat16)
    v = torch.randn(1, 2, 77, 128, generator=g).to(dev, torch.bfloat16)
    major, minor = torch.cuda.get_device_capability()
    calls = [sa.sageattn, sa.sageattn_qk_int8_pv_fp16_cuda]
    if major * 10 + minor >= 89:
        calls.append(sa.sageattn_qk_int8_pv_fp8_cuda)
    if major * 10 + minor == 90:
        calls.append(sa.sageattn_qk_int8_pv_fp8_cuda_sm90)
    for fn in calls:
        for causal in (False, True):
            o, lse = fn(q, k, v, is_causal=causal, return_lse=True)
            assert torch.isfinite(o).all()
    cu_q = torch.tensor([0, 3, 70], dtype=torch.int32, device=dev)
    cu_k = torch.tensor([0, 50, 77], dtype=torch.int32, device=dev)
    qv, kv = q[0].transpose(0, 1)[:70].contiguous(), k[0].transpose(0, 1).contiguous()
    sa.sageattn_varlen(qv, kv, kv, cu_q, cu_k, 67, 50, is_causal=True)
    torch.cuda.synchronize()
    print("sanitizer suite ran", len(calls), "kernels")


if __name__ == "__main__":
    main()
