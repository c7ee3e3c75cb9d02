# Which sageattention kernel is fastest for short calls on this GPU, over batch x heads, head dim,
# mask and length: the measurement behind sageattn's short-call rule (python/sageattention/_dispatch.py).
# Full calls (quantization included), bf16, timed as `python -m sageattention.bench` (CUDA events,
# L2 flushed, median of repeats), SDPA flash and cuDNN in the same process; the sageattn column is
# the public call, its pick included.
#   python3 bench/short_n_crossover.py [--json out.json]
import argparse
import json
import math
import statistics

import torch

import sageattention as sa
from sageattention._dispatch import KERNEL_AUTO, KERNEL_MMA, KERNEL_SM90, PV_FP8_FP32_FP32, PV_FP16_FP32
from sageattention.bench import Timer, sdpa_backend_fn, tops

ops = torch.ops.sageattention
SAGE = {"fp8 hopper": (PV_FP8_FP32_FP32, KERNEL_AUTO), "fp16 hopper": (PV_FP16_FP32, KERNEL_SM90),
        "fp16 mma": (PV_FP16_FP32, KERNEL_MMA)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--bh", default="1x16,2x10,2x24,4x32,16x32")
    ap.add_argument("--seqlens", default="512,1024,1536,2048,3072,4096")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    dev = torch.device("cuda")
    timer = Timer(dev)
    rows = []
    for d in map(int, args.head_dims.split(",")):
        for causal in (False, True):
            for bh in args.bh.split(","):
                b, h = map(int, bh.split("x"))
                for n in map(int, args.seqlens.split(",")):
                    q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=torch.bfloat16) for _ in range(3))
                    row = {"D": d, "causal": causal, "B": b, "H": h, "N": n}
                    fns = {backend: sdpa_backend_fn(backend, q, k, v, causal) for backend in ("flash", "cudnn")}
                    for name, (pv, kernel) in SAGE.items():
                        fns[name] = (lambda pv=pv, kernel=kernel: ops.sageattn(
                            q, k, v, None, None, n, n, 0, 2, pv, causal, 1 / math.sqrt(d), True, False, False, kernel))
                    fns["sageattn"] = lambda: sa.sageattn(q, k, v, is_causal=causal)
                    # rounds in rotated order, so that no variant always runs first (clocks, allocator)
                    names, times = list(fns), {name: [] for name in fns}
                    for r in range(args.rounds):
                        for name in names[r % len(names):] + names[:r % len(names)]:
                            times[name].append(timer(fns[name], repeats=5))
                    for name in names:
                        row[name] = tops(b, h, n, d, causal, statistics.median(times[name]))
                    best = max(SAGE, key=lambda s: row[s])
                    print(f"D={d} causal={int(causal)} B={b} H={h} N={n}: "
                          + " ".join(f"{c}={row[c]:.0f}" for c in ("flash", "cudnn", *SAGE))
                          + f" sageattn={row['sageattn']:.0f} best={best}"
                          + f" sageattn/best={row['sageattn'] / row[best]:.2f}", flush=True)
                    rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
