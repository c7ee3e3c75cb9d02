# Float64 model of the FP8 error budget of SageAttention-2 (INT8 Q/K, e4m3 P and V): which
# quantization step costs how much rel-L1 / cos vs exact attention, at N=4096, D=128, over a few
# seeds (docs/NOTEBOOK_sm90.md, docs/NOTEBOOK_portable.md v22). CPU only, ~2 minutes:
#   python3 bench/fp8_error_model.py
import torch

B, H, N, D = 1, 4, 4096, 128
SEEDS = (0, 1, 2)


def e4m3(x):
    return x.to(torch.float8_e4m3fn).to(torch.float64)


def two_e4m3(x):  # x ~ hi + lo/16 in two e4m3 terms: the cost of one more P·V GEMM
    hi = e4m3(x)
    return hi + e4m3((x - hi) * 16) / 16


def int8_rows(x, g):  # symmetric int8 per group of g consecutive rows over the last dim
    s = x.shape
    xg = x.reshape(*s[:-2], s[-2] // g, g, s[-1])
    amax = xg.abs().amax(dim=(-1, -2), keepdim=True).clamp_min(1e-12)
    q = torch.round(xg / (amax / 127)).clamp(-127, 127) * (amax / 127)
    return q.reshape(s)


# Q·K variants: the kernels' per-thread groups (2 Q rows, 16 K tokens per scale), per-token scales
# (the finest INT8 can do; a per-key scale costs the kernels one multiply per score), exact.
QK = {
    "int8 per-thread": lambda q, k: int8_rows(q, 2) @ int8_rows(k, 16).transpose(-1, -2),
    "int8 per-token": lambda q, k: int8_rows(q, 1) @ int8_rows(k, 1).transpose(-1, -2),
    "exact": lambda q, k: q @ k.transpose(-1, -2),
}
ROUND = {"e4m3": e4m3, "2 x e4m3": two_e4m3, "exact": lambda x: x}
PV = [("e4m3", "e4m3"), ("2 x e4m3", "e4m3"), ("e4m3", "2 x e4m3"), ("e4m3", "exact"), ("exact", "exact")]


def inputs(family, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, N, D, dtype=torch.float64, generator=g) for _ in range(3))
    if family == "k_bias":
        k = k + 4 * torch.randn(1, H, 1, D, dtype=torch.float64, generator=g)
        q = q * 2
    return [t.to(torch.bfloat16).to(torch.float64) for t in (q, k, v)]


def errors(family, seed):
    q, k, v = inputs(family, seed)
    sc = D ** -0.5
    ref = torch.softmax(q @ k.transpose(-1, -2) * sc, -1) @ v
    km = k - k.mean(-2, keepdim=True)
    vs = v.abs().amax(-2, keepdim=True) / 448  # per-channel V scale, as the kernels
    out = {}
    for qk_name, qk in QK.items():
        s = qk(q, km) * sc
        p = 448 * torch.exp(s - s.amax(-1, keepdim=True))  # the kernels scale P so a row max is 448
        den = p.sum(-1, keepdim=True)
        for p_name, v_name in PV:
            o = (ROUND[p_name](p) @ (ROUND[v_name](v / vs) * vs)) / den
            rl1 = ((o - ref).abs().sum() / ref.abs().sum()).item()
            cos = torch.nn.functional.cosine_similarity(o.flatten(), ref.flatten(), dim=0).item()
            out[(qk_name, p_name, v_name)] = (rl1, cos)
    return out


for family in ("normal", "k_bias"):
    runs = [errors(family, s) for s in SEEDS]
    print(f"\n{family}, seeds {SEEDS}: rel-L1 and cos, min..max over seeds")
    print("| Q·K | P | V | rel-L1 | cos |\n|---|---|---|---|---|")
    for key in runs[0]:
        l1 = [r[key][0] for r in runs]
        cs = [r[key][1] for r in runs]
        print(f"| {' | '.join(key)} | {min(l1):.4f}..{max(l1):.4f} | {min(cs):.6f}..{max(cs):.6f} |")
