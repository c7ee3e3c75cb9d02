"""`python -m sageattention.bench`: TOPS and accuracy of sageattention beside torch SDPA (DESIGN.md §6).

Every number is the median of repeated calls timed with CUDA events, after warm-up, with the L2
cache flushed before each call. "full" is the whole public call including quantization;
"kernel" is the attention op alone on pre-quantized K/V. TOPS = 4·B·H·Nq·Nk·D / time, halved for
causal. Without a GPU it runs the CPU path at small sizes (a smoke test of the method).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import sageattention as sa
from sageattention._dispatch import KERNEL_MMA, KERNEL_SM90, PV_FP8_FP32_FP32, PV_FP16_FP32, choose, pick

ops = torch.ops.sageattention


def tops(b, h, n, d, causal, seconds):
    return 4 * b * h * n * n * d / (2 if causal else 1) / seconds / 1e12


class Timer:
    def __init__(self, device, flush_bytes=256 << 20):
        self.device = device
        self.flush = torch.empty(flush_bytes, dtype=torch.uint8, device=device) if device.type == "cuda" else None

    def __call__(self, fn, warmup=1, repeats=5, budget_s=1.5):
        for _ in range(warmup):
            fn()
        times = []
        if self.device.type != "cuda":
            import time
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return statistics.median(times)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        spent = 0.0
        for i in range(repeats):
            self.flush.zero_()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
            spent += times[-1]
            if spent > budget_s and i >= 2:
                break
        return statistics.median(times)


def sdpa_backend_fn(backend, q, k, v, causal):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    which = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]

    def fn():
        with sdpa_kernel([which]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return fn


def sage_variants(device):
    """(name, full-call fn factory, kernel-only fn factory) for the kernels this device runs."""
    variants = []

    def full(pv_mode, kernel):
        return lambda q, k, v, c: (lambda: ops.sageattn(q, k, v, None, None, q.shape[2], k.shape[2], 0, 2, pv_mode, c,
                                                        1 / math.sqrt(q.shape[-1]), True, False, False, kernel))

    def kernel_only(pv_mode, kernel):
        def make(q, k, v, c):
            n = k.shape[2]
            k8, ks, km = ops.quant_k(k, None, n, 0, 2, True)
            if pv_mode >= 2:
                v8, vs, _ = ops.quant_v(v, None, n, 0, False)
                args = (v8, vs, None, None)
            else:
                args = (None, None, None, v)
            return lambda: ops.attention(q, k8, ks, km, *args, None, None, q.shape[2], n, 0, 2, pv_mode, c,
                                         1 / math.sqrt(q.shape[-1]), False, kernel)
        return make

    if device.type != "cuda":
        return [("sage fp8 (cpu)", full(PV_FP8_FP32_FP32, 0), kernel_only(PV_FP8_FP32_FP32, 0))]
    major, minor = torch.cuda.get_device_capability(device)
    arch = major * 10 + minor
    auto = choose(device)

    def as_sageattn(make):  # the mode and kernel sageattn picks for this shape
        return lambda q, k, v, c: make(*pick(auto, q.shape[0], q.shape[1], q.shape[2], k.shape[2], q.shape[3], c))(
            q, k, v, c)
    variants.append(("sageattn", as_sageattn(full), as_sageattn(kernel_only)))
    if arch == 90:  # what sageattn_qk_int8_pv_fp16_cuda runs there
        variants.append(("sm90 fp16", full(PV_FP16_FP32, KERNEL_SM90), kernel_only(PV_FP16_FP32, KERNEL_SM90)))
    if arch >= 89:
        variants.append(("mma fp8", full(PV_FP8_FP32_FP32, KERNEL_MMA), kernel_only(PV_FP8_FP32_FP32, KERNEL_MMA)))
    variants.append(("mma fp16", full(PV_FP16_FP32, KERNEL_MMA), kernel_only(PV_FP16_FP32, KERNEL_MMA)))
    return variants


def transient_bytes(fn, q, k, v):
    """Peak device memory of one call beyond inputs and output, as a fraction of bytes(q, k, v)."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn()
    torch.cuda.synchronize()
    out_bytes = sum(t.numel() * t.element_size() for t in (out if isinstance(out, (tuple, list)) else (out,)))
    extra = torch.cuda.max_memory_allocated() - base - out_bytes
    del out
    return extra / sum(x.numel() * x.element_size() for x in (q, k, v))


def environment(device):
    env = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version()}
    env["commit"] = "unknown"
    for where in (Path(__file__).resolve().parent, Path.cwd()):  # source tree, else the checkout we run in
        try:
            sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 cwd=where).stdout.strip()
        except OSError:
            sha = ""
        if sha:
            env["commit"] = sha
            break
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["sms"] = torch.cuda.get_device_properties(device).multi_processor_count
        env["cudnn"] = torch.backends.cudnn.version()
        try:
            q = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.sm,clocks.max.sm,clocks.mem",
                                "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
            env["nvidia-smi (driver, sm clock, max sm clock, mem clock)"] = q
        except OSError:
            pass
    else:
        env["gpu"] = f"none (CPU: {platform.processor() or platform.machine()})"
    return env


def run_grid(args, device):
    timer = Timer(device)
    rows = []
    dtype = torch.bfloat16
    variants = [v for v in sage_variants(device) if args.variants is None or v[0].replace(" ", "-") in args.variants]
    for d in args.head_dims:
        for causal in args.causal:
            for n in args.seqlens:
                b, h = args.batch, args.heads
                g = torch.Generator(device="cpu").manual_seed(n + d)
                q, k, v = (torch.randn(b, h, n, d, generator=g, dtype=torch.float32).to(device, dtype) for _ in range(3))
                row = {"D": d, "causal": causal, "N": n, "B": b, "H": h}
                if device.type == "cuda":
                    for backend in ("flash", "cudnn"):
                        try:
                            t = timer(sdpa_backend_fn(backend, q, k, v, causal))
                            row[f"sdpa {backend}"] = tops(b, h, n, d, causal, t)
                        except RuntimeError as err:
                            row[f"sdpa {backend}"] = None
                            print(f"  sdpa {backend} failed: {err}", file=sys.stderr)
                for name, make_full, make_kernel in variants:
                    try:
                        fn = make_full(q, k, v, causal)
                        row[f"{name} full"] = tops(b, h, n, d, causal, timer(fn))
                        row[f"{name} kernel"] = tops(b, h, n, d, causal, timer(make_kernel(q, k, v, causal)))
                        if device.type == "cuda" and name == "sageattn":
                            row["sageattn transient/qkv"] = transient_bytes(fn, q, k, v)
                    except RuntimeError as err:
                        row[f"{name} full"] = row[f"{name} kernel"] = None
                        print(f"  {name} failed at D={d} N={n}: {str(err).splitlines()[0]}", file=sys.stderr)
                rows.append(row)
                print(json.dumps({k_: (round(v_, 1) if isinstance(v_, float) else v_) for k_, v_ in row.items()}),
                      flush=True)
                del q, k, v
    return rows


def accuracy(device, n=4096, d=128):
    """rel-L1 / cos vs fp32 attention on the same bf16 inputs (ANCHORS.md method)."""
    results = []
    g = torch.Generator().manual_seed(0)
    for family in ("normal", "k_bias"):
        q, k, v = (torch.randn(2, 8, n, d, generator=g) for _ in range(3))
        if family == "k_bias":
            k = k + 4.0 * torch.randn(1, 8, 1, d, generator=g)
            q = q * 2.0
        q, k, v = (x.to(device, torch.bfloat16) for x in (q, k, v))
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float()).double()
        fp16_on = lambda kernel: ops.sageattn(q, k, v, None, None, n, n, 0, 2, PV_FP16_FP32, False,  # noqa: E731
                                              1 / math.sqrt(d), True, False, False, kernel)[0]
        for name, fn in (("sageattn", lambda: sa.sageattn(q, k, v)),
                         ("fp8 mma", lambda: sa.sageattn_qk_int8_pv_fp8_cuda(q, k, v)),
                         ("fp16 sm90", lambda: fp16_on(KERNEL_SM90)),
                         ("fp16 mma", lambda: fp16_on(KERNEL_MMA)),
                         ("sdpa bf16", lambda: F.scaled_dot_product_attention(q, k, v))):
            try:
                o = fn().double()
            except RuntimeError as err:
                print(f"  accuracy {name}: {str(err).splitlines()[0]}", file=sys.stderr)
                continue
            l1 = ((o - ref).abs().sum() / ref.abs().sum()).item()
            cos = (o.flatten() @ ref.flatten() / (o.norm() * ref.norm())).item()
            results.append({"impl": name, "family": family, "rel_l1": l1, "cos": cos,
                            "finite": bool(torch.isfinite(o).all())})
            print(json.dumps(results[-1]), flush=True)
    return results


def markdown(env, rows, acc):
    cols = [c for c in rows[0] if c not in ("D", "causal", "N", "B", "H")] if rows else []
    lines = ["", f"Measured {env['date']} on {env.get('gpu')} (commit {env.get('commit')}), torch {env['torch']}, "
             f"CUDA {env['cuda']}, cuDNN {env.get('cudnn')}. {env.get('nvidia-smi (driver, sm clock, max sm clock, mem clock)', '')}",
             "", "TOPS (full = whole call including quantization; kernel = attention op on pre-quantized K/V); "
             "`transient/qkv` = peak extra device memory of one sageattn call / bytes of q, k, v.", "",
             "| D | causal | N | " + " | ".join(cols) + " |", "|" + "---|" * (3 + len(cols))]
    for r in rows:
        cells = [f"{r[c]:.2f}" if c.endswith("qkv") and r.get(c) is not None else
                 (f"{r[c]:.3g}" if isinstance(r.get(c), float) and r[c] < 10 else
                  f"{r[c]:.0f}" if isinstance(r.get(c), float) else "—") for c in cols]
        lines.append(f"| {r['D']} | {'yes' if r['causal'] else 'no'} | {r['N']} | " + " | ".join(cells) + " |")
    if acc:
        lines += ["", "Accuracy vs fp32 attention on the same bf16 inputs (B=2, H=8, N=4096, D=128):", "",
                  "| impl | family | rel L1 | cos | finite |", "|---|---|---|---|---|"]
        lines += [f"| {a['impl']} | {a['family']} | {a['rel_l1']:.4f} | {a['cos']:.6f} | {a['finite']} |" for a in acc]
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted({(r["D"], r["causal"]) for r in rows})
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    for ax, (d, causal) in zip(axes[0], keys):
        sub = [r for r in rows if r["D"] == d and r["causal"] == causal]
        for col in [c for c in sub[0] if c.endswith("full") or c.startswith("sdpa")]:
            pts = [(r["N"], r[col]) for r in sub if r.get(col)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=col)
        ax.set_xscale("log", base=2)
        ax.set_title(f"D={d}, {'causal' if causal else 'non-causal'}")
        ax.set_xlabel("N")
        ax.set_ylabel("TOPS")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seqlens", type=int, nargs="+")
    parser.add_argument("--head-dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--causal", type=int, nargs="+", default=[0, 1], help="0 and/or 1")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--variants", nargs="+", help="sageattention variants to time, '-' for spaces (default: "
                        "all this GPU runs): sageattn sm90-fp16 mma-fp8 mma-fp16")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--json", type=Path, help="write raw results here")
    parser.add_argument("--markdown", type=Path, help="append the tables to this file")
    parser.add_argument("--plot", type=Path, help="write a PNG plot here")
    parser.add_argument("--commit", help="commit measured, when the checkout cannot tell (a copied tree)")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    args.seqlens = args.seqlens or ([1024, 2048, 4096, 8192, 16384, 32768] if gpu else [128, 256])
    args.batch = args.batch or (4 if gpu else 1)
    args.heads = args.heads or (32 if gpu else 2)
    args.causal = [bool(c) for c in args.causal]
    env = environment(device)
    if args.commit:
        env["commit"] = args.commit
    print(json.dumps(env), flush=True)
    rows = run_grid(args, device)
    acc = [] if (args.no_accuracy or not gpu) else accuracy(device)
    if args.json:
        args.json.write_text(json.dumps({"env": env, "rows": rows, "accuracy": acc}, indent=1))
    text = markdown(env, rows, acc)
    print(text)
    if args.markdown:
        with args.markdown.open("a") as f:
            f.write(text)
    if args.plot and rows:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
