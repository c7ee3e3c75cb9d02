"""Where the time of one `sageattn` call goes: per-kernel GPU time and the host time of the call,
from torch.profiler, at a few sequence lengths (B=4, H=32, D=128, bf16). Run on a GPU machine:

    python bench/profile_call.py [--seqlens 1024 4096] [--head-dim 128]
"""

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

import sageattention as sa


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seqlens", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--causal", action="store_true")
    args = parser.parse_args()
    for n in args.seqlens:
        q, k, v = (torch.randn(4, 32, n, args.head_dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        for _ in range(3):
            sa.sageattn(q, k, v, is_causal=args.causal)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            sa.sageattn(q, k, v, is_causal=args.causal)
        host_us = (time.perf_counter() - t0) / 20 * 1e6  # enqueue time while the GPU is busy
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                sa.sageattn(q, k, v, is_causal=args.causal)
            torch.cuda.synchronize()
        print(f"\nN={n} D={args.head_dim} causal={args.causal}: host time per call (queued) {host_us:.0f} us")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=8))


if __name__ == "__main__":
    main()
