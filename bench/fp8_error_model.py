# Float64 model of the FP8 error budget of SageAttention-2 (INT8 Q/K, e4m3 P and V): which
# quantization step costs how much rel-L1 vs exact attention, at N=4096, D=128 (docs/NOTEBOOK_sm90.md).
# CPU only: python3 bench/fp8_error_model.py
import torch
torch.manual_seed(0)
def e4m3(x): return x.to(torch.float8_e4m3fn).to(torch.float64)
def int8_rows(x, g):  # symmetric int8 per group of g rows over the last dim
    s = x.shape
    xg = x.reshape(*s[:-2], s[-2] // g, g, s[-1])
    amax = xg.abs().amax(dim=(-1, -2), keepdim=True).clamp_min(1e-12)
    q = torch.round(xg / (amax / 127)).clamp(-127, 127) * (amax / 127)
    return q.reshape(s)
B, H, N, D = 1, 4, 4096, 128
def run(family):
    q = torch.randn(B, H, N, D, dtype=torch.float64)
    k = torch.randn(B, H, N, D, dtype=torch.float64)
    v = torch.randn(B, H, N, D, dtype=torch.float64)
    if family == "k_bias":
        k = k + 4 * torch.randn(1, H, 1, D, dtype=torch.float64); q = q * 2
    q, k, v = (t.to(torch.bfloat16).to(torch.float64) for t in (q, k, v))
    sc = D ** -0.5
    ref = torch.softmax(q @ k.transpose(-1, -2) * sc, -1) @ v
    km = k - k.mean(-2, keepdim=True)
    s = int8_rows(q, 8) @ int8_rows(km, 8).transpose(-1, -2) * sc  # ~per-thread granularity
    m = s.amax(-1, keepdim=True)
    p = 448 * torch.exp(s - m)
    vs = v.abs().amax(-2, keepdim=True) / 448
    v8 = e4m3(v / vs) * vs
    p8 = e4m3(p)
    out = {}
    rl1 = lambda o: ((o - ref).abs().sum() / ref.abs().sum()).item()
    cos = lambda o: torch.nn.functional.cosine_similarity(o.flatten(), ref.flatten(), dim=0).item()
    for name, num, den in [("P8,V8 l=sum(P)", p8 @ v8, p.sum(-1, keepdim=True)),
                           ("P8,V8 l=sum(P8)", p8 @ v8, p8.sum(-1, keepdim=True)),
                           ("P,V8", p @ v8, p.sum(-1, keepdim=True)),
                           ("P8,V l=sum(P)", p8 @ v, p.sum(-1, keepdim=True)),
                           ("P8,V l=sum(P8)", p8 @ v, p8.sum(-1, keepdim=True))]:
        o = num / den
        out[name] = (round(rl1(o), 4), round(cos(o), 6))
    return out
for fam in ("normal", "k_bias"):
    print(fam, run(fam))
