// Harness of the Hopper kernel: correctness against the CPU reference (same quantized K/V, exact
// algorithm with 128-key softmax steps) and float64 attention, plus kernel-only timing.
//   sm90_attention check            built-in list of correctness cases
//   sm90_attention bench [iters]    B=4 H=32 grid, kernel-only TOPS
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sageattention/cuda_api.h"
#include "sageattention/quant_layout.h"
#include "sageattention/quant_math.h"
#include "sageattention/reference.h"

using namespace sageattention;

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(2);                                                                             \
    }                                                                                           \
  } while (0)

namespace {

template <typename T>
struct DevBuf {
  T* p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t count) : n(count) { CK(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T))); }
  ~DevBuf() { cudaFree(p); }
  void upload(const std::vector<T>& h) { CK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

uint16_t to_bits(DType dt, float x) {
  if (dt == DType::kFloat16) return float_to_half_bits(x);
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFF + ((u >> 16) & 1);  // RNE to bf16
  return static_cast<uint16_t>(u >> 16);
}
float from_bits(DType dt, uint16_t b) { return dt == DType::kFloat16 ? half_bits_to_float(b) : bf16_bits_to_float(b); }

struct Case {
  const char* name;
  int d, lq, lk, batch, hq, hkv;
  bool causal;
  DType dtype;
  PVMode mode;
  QuantGranularity gran;
  bool nhd;            // [B, N, H, D] (else [B, H, N, D])
  bool varlen;         // sequences of lengths lens_q / lens_k
  std::vector<int> lens_q, lens_k;
  bool lse = true;
  float k_bias = 0.0f; // per-channel offset added to K (smoothing test)
};

struct Errors {
  double rel_l1, cos, max_abs, lse_max;
};

Errors compare(const std::vector<float>& a, const std::vector<double>& ref) {
  double num = 0, den = 0, dot = 0, na = 0, nr = 0, mx = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = a[i] - ref[i];
    num += std::fabs(d);
    den += std::fabs(ref[i]);
    dot += a[i] * ref[i];
    na += double(a[i]) * a[i];
    nr += ref[i] * ref[i];
    mx = std::max(mx, std::fabs(d));
  }
  return {den > 0 ? num / den : num, (na > 0 && nr > 0) ? dot / std::sqrt(na * nr) : 1.0, mx, 0};
}

bool run_case(const Case& c, std::mt19937& rng) {
  const int dp = padded_head_dim(c.d);
  const int B = c.batch;
  std::vector<int32_t> cu_q(B + 1, 0), cu_k(B + 1, 0);
  int max_q = c.lq, max_k = c.lk;
  if (c.varlen) {
    max_q = max_k = 0;
    for (int b = 0; b < B; ++b) {
      cu_q[b + 1] = cu_q[b] + c.lens_q[b];
      cu_k[b + 1] = cu_k[b] + c.lens_k[b];
      max_q = std::max(max_q, c.lens_q[b]);
      max_k = std::max(max_k, c.lens_k[b]);
    }
  }
  const int64_t rows_q = c.varlen ? cu_q[B] : int64_t(B) * c.lq;
  const int64_t rows_k = c.varlen ? cu_k[B] : int64_t(B) * c.lk;
  // Raw tensors: varlen [total, H, D]; dense NHD [B, N, H, D] or HND [B, H, N, D].
  auto strides = [&](int n, int h) {
    StridedTensor s;
    if (c.varlen || c.nhd) {
      s.token_stride = int64_t(h) * c.d;
      s.head_stride = c.d;
      s.batch_stride = int64_t(n) * h * c.d;
    } else {
      s.head_stride = int64_t(n) * c.d;
      s.token_stride = c.d;
      s.batch_stride = int64_t(h) * n * c.d;
    }
    return s;
  };
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> hq(rows_q * c.hq * c.d), hk(rows_k * c.hkv * c.d), hv(rows_k * c.hkv * c.d);
  for (auto& x : hq) x = to_bits(c.dtype, nd(rng) * (c.k_bias != 0 ? 2.0f : 1.0f));
  for (size_t i = 0; i < hk.size(); ++i) hk[i] = to_bits(c.dtype, nd(rng) + c.k_bias * float(int(i % c.d) % 7 - 3));
  for (auto& x : hv) x = to_bits(c.dtype, nd(rng));

  Sequences sq, sk;
  sq.batch = sk.batch = B;
  sq.seqlen = max_q;
  sk.seqlen = max_k;
  if (c.varlen) {
    sq.cu_seqlens = cu_q.data();
    sk.cu_seqlens = cu_k.data();
  }
  const int64_t T = c.varlen ? varlen_padded_total(cu_k[B], B) : dense_padded_tokens(c.lk);
  sk.padded_tokens = T;
  const int64_t bk = c.varlen ? 1 : B;

  // Host quantization with the reference (the layout contract).
  std::vector<int8_t> k8(bk * c.hkv * T * dp);
  std::vector<float> k_scale(bk * c.hkv * k_scale_count(c.gran, T)), k_mean(int64_t(B) * c.hkv * dp);
  std::vector<uint8_t> v8(bk * c.hkv * dp * T);
  std::vector<float> v_scale(int64_t(B) * c.hkv * dp), v_mean(int64_t(B) * c.hkv * dp);
  QuantKParams qk;
  qk.dtype = c.dtype;
  qk.k = strides(c.lk, c.hkv);
  qk.k.ptr = hk.data();
  qk.seq = sk;
  qk.heads = c.hkv;
  qk.head_dim = c.d;
  qk.head_dim_padded = dp;
  qk.gran = c.gran;
  qk.smooth = true;
  qk.k8 = k8.data();
  qk.k_scale = k_scale.data();
  qk.k_mean = k_mean.data();
  if (reference::quant_k(qk) != Status::kSuccess) { std::printf("quant_k failed\n"); return false; }
  QuantVParams qv;
  qv.dtype = c.dtype;
  qv.v = strides(c.lk, c.hkv);
  qv.v.ptr = hv.data();
  qv.seq = sk;
  qv.heads = c.hkv;
  qv.head_dim = c.d;
  qv.head_dim_padded = dp;
  qv.smooth = false;
  qv.v8 = v8.data();
  qv.v_scale = v_scale.data();
  qv.v_mean = v_mean.data();
  if (reference::quant_v(qv) != Status::kSuccess) { std::printf("quant_v failed\n"); return false; }

  // Device copies.
  DevBuf<uint16_t> dq(hq.size()), dout(rows_q * c.hq * c.d);
  DevBuf<int8_t> dk8(k8.size());
  DevBuf<uint8_t> dv8(v8.size());
  DevBuf<float> dks(k_scale.size()), dkm(k_mean.size()), dvs(v_scale.size()), dlse(int64_t(c.hq) * rows_q);
  DevBuf<int32_t> dcq(B + 1), dck(B + 1);
  dq.upload(hq);
  dk8.upload(k8);
  dv8.upload(v8);
  dks.upload(k_scale);
  dkm.upload(k_mean);
  dvs.upload(v_scale);
  dcq.upload(cu_q);
  dck.upload(cu_k);

  AttentionParams p;
  p.dtype = c.dtype;
  p.heads_q = c.hq;
  p.heads_kv = c.hkv;
  p.head_dim = c.d;
  p.head_dim_padded = dp;
  p.seq_q = sq;
  p.seq_k = sk;
  p.q = strides(c.lq, c.hq);
  p.qk_gran = c.gran;
  p.k_scale = dks.p;
  p.k_mean = dkm.p;
  p.pv_mode = c.mode;
  p.v_scale = dvs.p;
  p.v_mean = nullptr;
  StridedTensor os = strides(c.lq, c.hq);
  p.o.batch_stride = os.batch_stride;
  p.o.token_stride = os.token_stride;
  p.o.head_stride = os.head_stride;
  p.sm_scale = 1.0f / std::sqrt(float(c.d));
  p.causal = c.causal;
  p.softmax_block_keys = 128;
  p.row_sum_of_rounded_p = c.mode == PVMode::kFp8Fp32Fp32;  // two-level: sums from the P·V wgmma
  if (c.varlen) {
    p.lse_head_stride = rows_q;
  } else {
    p.lse_batch_stride = int64_t(c.hq) * c.lq;
    p.lse_head_stride = c.lq;
  }

  AttentionParams pd = p;  // device
  pd.seq_q.cu_seqlens = c.varlen ? dcq.p : nullptr;
  pd.seq_k.cu_seqlens = c.varlen ? dck.p : nullptr;
  pd.q.ptr = dq.p;
  pd.k8 = dk8.p;
  pd.v8 = dv8.p;
  pd.o.ptr = dout.p;
  pd.lse = c.lse ? dlse.p : nullptr;
  if (!cuda::attention_sm90_supports(pd, 90)) { std::printf("%-28s NOT SUPPORTED\n", c.name); return false; }
  CK(cudaMemset(dout.p, 0xFF, dout.n * 2));  // NaN poison
  CK(cudaMemset(dlse.p, 0xFF, dlse.n * 4));
  Status st = cuda::attention_sm90(pd, nullptr);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  if (st != Status::kSuccess) { std::printf("%-28s status %d\n", c.name, int(st)); return false; }
  std::vector<uint16_t> out = dout.download();
  std::vector<float> lse = dlse.download();
  // Second run: must be bitwise identical (races).
  CK(cudaMemset(dout.p, 0xFF, dout.n * 2));
  cuda::attention_sm90(pd, nullptr);
  CK(cudaDeviceSynchronize());
  const bool same = dout.download() == out;

  // Reference (exact algorithm) and float64.
  std::vector<uint16_t> ref_out(out.size());
  std::vector<float> ref_lse(lse.size());
  AttentionParams ph = p;
  ph.q.ptr = hq.data();
  ph.k8 = k8.data();
  ph.k_scale = k_scale.data();
  ph.k_mean = k_mean.data();
  ph.v8 = v8.data();
  ph.v_scale = v_scale.data();
  ph.o.ptr = ref_out.data();
  ph.lse = c.lse ? ref_lse.data() : nullptr;
  if (reference::attention(ph) != Status::kSuccess) { std::printf("reference failed\n"); return false; }
  reference::Float64AttentionParams pf;
  pf.dtype = c.dtype;
  pf.heads_q = c.hq;
  pf.heads_kv = c.hkv;
  pf.head_dim = c.d;
  pf.seq_q = sq;
  pf.seq_k = sk;
  pf.q = ph.q;
  pf.k = strides(c.lk, c.hkv);
  pf.k.ptr = hk.data();
  pf.v = strides(c.lk, c.hkv);
  pf.v.ptr = hv.data();
  std::vector<double> o64(rows_q * c.hq * c.d), lse64(int64_t(c.hq) * rows_q);
  pf.o = o64.data();
  pf.lse = lse64.data();
  pf.sm_scale = p.sm_scale;
  pf.causal = c.causal;
  if (reference::attention_float64(pf) != Status::kSuccess) { std::printf("float64 failed\n"); return false; }

  // Gather in the float64 order [rows (b, t), h, d]; count unwritten (NaN) outputs.
  std::vector<float> got, refq;
  std::vector<double> ref64, refq64;
  int64_t nan_count = 0;
  double lse_err_ref = 0, lse_err64 = 0, lse_err_ref_sum = 0;
  int64_t lse_rows = 0;
  for (int b = 0; b < B; ++b) {
    const int len = c.varlen ? cu_q[b + 1] - cu_q[b] : c.lq;
    for (int t = 0; t < len; ++t) {
      const int64_t row = (c.varlen ? cu_q[b] : int64_t(b) * c.lq) + t;
      for (int h = 0; h < c.hq; ++h) {
        const int64_t off = (c.varlen ? 0 : b * os.batch_stride) + (c.varlen ? row : t) * os.token_stride +
                            h * os.head_stride;
        for (int d = 0; d < c.d; ++d) {
          const float x = from_bits(c.dtype, out[off + d]);
          if (std::isnan(x)) ++nan_count;
          got.push_back(x);
          const float r = from_bits(c.dtype, ref_out[off + d]);
          refq.push_back(r);
          refq64.push_back(r);
          ref64.push_back(o64[(row * c.hq + h) * c.d + d]);
        }
        if (c.lse) {
          const int64_t li = c.varlen ? h * p.lse_head_stride + row : b * p.lse_batch_stride + h * p.lse_head_stride + t;
          const double l64 = c.varlen ? lse64[int64_t(h) * rows_q + row] : lse64[(int64_t(b) * c.hq + h) * c.lq + t];
          auto diff = [](double a, double b) {
            if (std::isinf(a) && std::isinf(b) && (a < 0) == (b < 0)) return 0.0;
            return std::fabs(a - b);
          };
          lse_err_ref = std::max(lse_err_ref, diff(lse[li], ref_lse[li]));
          lse_err_ref_sum += diff(lse[li], ref_lse[li]);
          ++lse_rows;
          lse_err64 = std::max(lse_err64, diff(lse[li], l64));
        }
      }
    }
  }
  Errors e_ref = compare(got, refq64), e64 = compare(got, ref64), r64 = compare(refq, ref64);
  // Kernel vs the exact-fp32 reference: the FP8 P·V wgmma adds each k32 group's products with ~13
  // significant bits relative to the group's largest term, over up to 8 groups (two 128-key tiles)
  // before each fp32 merge. O (with cancellation in P·V) differs by up to ~2e-3 rel-L1; the row
  // sums, which also come from that wgmma, by up to ~1% in rows where many small P share groups with
  // large ones (LSE), far less on average. A wrong tile, mask or scale is orders of magnitude above.
  const double lse_err_ref_mean = lse_rows > 0 ? lse_err_ref_sum / double(lse_rows) : 0.0;
  const bool ok = nan_count == 0 && same && e_ref.rel_l1 < 4e-3 && e64.rel_l1 < 0.06 && lse_err_ref < 1.5e-2 &&
                  lse_err_ref_mean < 3e-3 && lse_err64 < 0.05;
  std::printf("%-28s %s  vs-ref relL1 %.2e maxabs %.2e | vs-f64 relL1 %.4f cos %.6f (ref itself %.4f) | lse err ref %.1e (mean %.1e) f64 %.1e | nan %lld %s\n",
              c.name, ok ? "OK  " : "FAIL", e_ref.rel_l1, e_ref.max_abs, e64.rel_l1, e64.cos, r64.rel_l1, lse_err_ref,
              lse_err_ref_mean, lse_err64, (long long)nan_count, same ? "deterministic" : "NONDETERMINISTIC");
  return ok;
}

// ---- timing on device-generated data (no host quantization of large tensors) ----
__global__ void fill_random(uint32_t* p, int64_t n_words, uint32_t seed, int kind) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_words; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t x = uint32_t(i) * 2654435761u ^ seed;
    x ^= x >> 13; x *= 0x5bd1e995u; x ^= x >> 15;
    uint32_t w = x;
    if (kind == 0) {  // two bf16 in about [-2, 2]: sign, exponent 126..128, random mantissa
      auto mk = [](uint32_t r) { return ((r & 1u) << 15) | ((126u + (r >> 1) % 3u) << 7) | ((r >> 3) & 0x7Fu); };
      w = mk(x & 0xFFFF) | (mk(x >> 16) << 16);
    } else if (kind == 1) {  // int8 in [-127, 127]
      w = 0;
      for (int b = 0; b < 4; ++b) w |= (uint32_t((int((x >> (8 * b)) & 0xFF) % 255) - 127) & 0xFF) << (8 * b);
    } else if (kind == 2) {  // e4m3 bytes without NaN codes (clear bit 6 of the exponent)
      w = x & 0xBFBFBFBFu;
    } else {  // fp32 scales ~ 0.01
      w = __float_as_uint(0.005f + 0.01f * float(x & 0xFFFF) / 65536.0f);
    }
    p[i] = w;
  }
}

void bench(int iters, bool short_list, int only_d = 0, int only_n = 0, int only_causal = -1) {
  struct Shape { int d, n; bool causal; };
  std::vector<Shape> shapes;
  if (only_d != 0) shapes.push_back({only_d, only_n, only_causal == 1});
  else
  for (int d : {128, 64})
    for (bool causal : {false, true})
      for (int n : {1024, 2048, 4096, 8192, 16384})
        if (!short_list || ((n == 1024 || n == 16384) && (d == 128 || !causal))) shapes.push_back({d, n, causal});
  if (only_causal == 1 && only_d == 0) {  // bench-causal: D=128 causal at every N
    shapes.clear();
    for (int n : {1024, 2048, 4096, 8192, 16384}) shapes.push_back({128, n, true});
  }
  if (only_causal == 2) {  // bench-d64: D=64 at 1k / 2k / 4k / 16k, both masks (both modes)
    shapes.clear();
    for (bool causal : {false, true})
      for (int n : {1024, 2048, 4096, 16384}) shapes.push_back({64, n, causal});
  }
  if (only_causal == 4) {  // bench-d256: head dim 256 (two work tiles per query block), both masks
    shapes.clear();
    for (bool causal : {false, true})
      for (int n : {1024, 4096, 16384}) shapes.push_back({256, n, causal});
  }
  const bool fp16_pv = only_causal == 3;
  if (fp16_pv) {  // bench-fp16: FP16-P·V mode (bf16 V), D=64 and 128 at 1k / 4k / 16k, both masks
    shapes.clear();
    for (int d : {64, 128})
      for (bool causal : {false, true})
        for (int n : {1024, 4096, 16384}) shapes.push_back({d, n, causal});
  }
  const int B = 4, H = 32;
  std::printf("%-5s %-7s %-6s %-12s %-10s %-8s\n", "D", "causal", "N", "mode", "ms", "TOPS");
  for (const Shape& s : shapes) {
    const int64_t T = dense_padded_tokens(s.n);
    const int dp = s.d;
    DevBuf<uint16_t> q(int64_t(B) * H * s.n * s.d), o(int64_t(B) * H * s.n * s.d);
    DevBuf<int8_t> k8(int64_t(B) * H * T * dp);
    DevBuf<uint8_t> v8(int64_t(B) * H * dp * T);
    DevBuf<uint16_t> v16(fp16_pv ? q.n : 1);
    DevBuf<float> ks(int64_t(B) * H * T / 64 * 4), vs(int64_t(B) * H * dp), lse(int64_t(B) * H * s.n);
    fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(q.p), q.n / 2, 1, 0);
    fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(k8.p), k8.n / 4, 2, 1);
    fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(v8.p), v8.n / 4, 3, 2);
    fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(ks.p), ks.n, 4, 3);
    fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(vs.p), vs.n, 5, 3);
    if (fp16_pv) fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(v16.p), v16.n / 2, 6, 0);
    CK(cudaDeviceSynchronize());
    for (PVMode mode : {PVMode::kFp8Fp32Fp32, PVMode::kFp8Fp32, PVMode::kFp16Fp32}) {
      if ((short_list || fp16_pv) && mode == PVMode::kFp8Fp32) continue;
      if (fp16_pv != (mode == PVMode::kFp16Fp32)) continue;
      AttentionParams p;
      p.dtype = DType::kBFloat16;
      p.heads_q = p.heads_kv = H;
      p.head_dim = p.head_dim_padded = s.d;
      p.seq_q.batch = p.seq_k.batch = B;
      p.seq_q.seqlen = p.seq_k.seqlen = s.n;
      p.seq_k.padded_tokens = T;
      p.q.ptr = q.p;
      p.q.head_stride = int64_t(s.n) * s.d;
      p.q.token_stride = s.d;
      p.q.batch_stride = int64_t(H) * s.n * s.d;
      p.k8 = k8.p;
      p.k_scale = ks.p;
      p.v8 = v8.p;
      p.v_scale = vs.p;
      p.pv_mode = mode;
      if (fp16_pv) {  // raw bf16 V in Q's layout
        p.v.ptr = v16.p;
        p.v.head_stride = p.q.head_stride;
        p.v.token_stride = p.q.token_stride;
        p.v.batch_stride = p.q.batch_stride;
        p.v_dtype = DType::kBFloat16;
        p.pv_operand_dtype = DType::kBFloat16;
        p.v_tokens = s.n;
        p.v8 = nullptr;
        p.v_scale = nullptr;
      }
      p.o.ptr = o.p;
      p.o.head_stride = p.q.head_stride;
      p.o.token_stride = p.q.token_stride;
      p.o.batch_stride = p.q.batch_stride;
      p.sm_scale = 1.0f / std::sqrt(float(s.d));
      p.causal = s.causal;
      p.softmax_block_keys = 128;
      cudaEvent_t e0, e1;
      CK(cudaEventCreate(&e0));
      CK(cudaEventCreate(&e1));
      for (int i = 0; i < (iters > 1 ? 3 : 0); ++i) cuda::attention_sm90(p, nullptr);
      CK(cudaDeviceSynchronize());
      std::vector<float> ms;
      for (int i = 0; i < iters; ++i) {
        CK(cudaEventRecord(e0));
        Status st = cuda::attention_sm90(p, nullptr);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        if (st != Status::kSuccess) { std::printf("status %d\n", int(st)); std::exit(1); }
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        ms.push_back(t);
      }
      CK(cudaGetLastError());
      std::sort(ms.begin(), ms.end());
      const double t = ms[ms.size() / 2];
      const double ops = 4.0 * B * H * double(s.n) * s.n * s.d / (s.causal ? 2 : 1);
      std::printf("%-5d %-7d %-6d %-12s %-10.3f %-8.1f\n", s.d, int(s.causal), s.n,
                  mode == PVMode::kFp8Fp32Fp32 ? "fp32+fp32" : (mode == PVMode::kFp8Fp32 ? "fp32" : "fp16pv"), t, ops / t / 1e9);
      std::fflush(stdout);
      cudaEventDestroy(e0);
      cudaEventDestroy(e1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "check";
  if (cmd == "profile") {  // one shape, one timed launch: sm90_attention profile D N causal
    bench(1, true, std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
    return 0;
  }
  if (cmd == "bench" || cmd == "bench-short" || cmd == "bench-causal" || cmd == "bench-d64" || cmd == "bench-fp16" ||
      cmd == "bench-d256") {
    bench(argc > 2 ? std::atoi(argv[2]) : 20, cmd == "bench-short" || cmd == "bench-causal", 0, 0,
          cmd == "bench-causal" ? 1 : (cmd == "bench-d64" ? 2 : (cmd == "bench-fp16" ? 3 : (cmd == "bench-d256" ? 4 : -1))));
    return 0;
  }
  std::mt19937 rng(1234);
  const auto bf = DType::kBFloat16, fp = DType::kFloat16;
  const auto m2 = PVMode::kFp8Fp32Fp32, m1 = PVMode::kFp8Fp32;
  const auto pt = QuantGranularity::kPerThread, pw = QuantGranularity::kPerWarp, pb = QuantGranularity::kPerBlock;
  std::vector<Case> cases = {
      {"d128 n1024 bf16 hnd", 128, 1024, 1024, 1, 2, 2, false, bf, m2, pt, false, false, {}, {}},
      {"d128 n1024 causal", 128, 1024, 1024, 1, 2, 2, true, bf, m2, pt, false, false, {}, {}},
      {"d64 n1000 fp16 nhd", 64, 1000, 1000, 2, 2, 1, false, fp, m2, pt, true, false, {}, {}},
      {"d64 n777 causal fp32acc", 64, 777, 777, 1, 4, 2, true, bf, m1, pt, false, false, {}, {}},
      {"d128 q300 k1100 causal", 128, 300, 1100, 2, 2, 2, true, bf, m2, pt, true, false, {}, {}},
      {"d128 q1100 k300 causal", 128, 1100, 300, 1, 2, 2, true, fp, m2, pt, false, false, {}, {}},
      {"d128 n17 gqa4 perwarp", 128, 17, 17, 2, 8, 2, false, bf, m2, pw, false, false, {}, {}},
      {"d128 n500 perblock", 128, 500, 513, 1, 2, 2, false, bf, m2, pb, false, false, {}, {}},
      {"d96 n333 (padded 128)", 96, 333, 333, 1, 2, 2, true, fp, m2, pt, true, false, {}, {}},
      {"d128 varlen causal", 128, 0, 0, 3, 4, 2, true, bf, m2, pt, true, true, {1000, 1, 300}, {1000, 17, 450}},
      {"d64 varlen", 64, 0, 0, 3, 2, 2, false, fp, m1, pt, true, true, {129, 256, 3}, {77, 1, 1025}},
      {"d128 n1 ", 128, 1, 1, 1, 1, 1, false, bf, m2, pt, false, false, {}, {}},
      {"d64 n300 causal nolse fp16", 64, 300, 300, 3, 6, 3, true, fp, m1, pw, true, false, {}, {}, false},
      {"d128 n2048 k_bias", 128, 2048, 2048, 1, 2, 2, false, bf, m2, pt, false, false, {}, {}, true, 4.0f},
      // D=64 from 2048 query rows: three consumer warpgroups (192-row tiles).
      {"d64 n2100 k_bias causal", 64, 2100, 2100, 1, 2, 2, true, bf, m2, pt, false, false, {}, {}, true, 4.0f},
      {"d64 q2200 k1500 gqa4 perwarp", 64, 2200, 1500, 2, 8, 2, false, fp, m2, pw, true, false, {}, {}},
      {"d64 varlen long fp32acc", 64, 0, 0, 3, 2, 2, true, bf, m1, pt, true, true, {2500, 1, 300}, {2400, 17, 450}},
      {"d128 n4096 (accuracy)", 128, 4096, 4096, 1, 2, 2, false, bf, m2, pt, false, false, {}, {}},
      // Head dim 256: two work tiles per query block (one per half of the output columns).
      {"d256 n1000 bf16 hnd", 256, 1000, 1000, 2, 2, 2, false, bf, m2, pt, false, false, {}, {}},
      {"d192 q300 k1100 causal fp16 nhd gqa2", 192, 300, 1100, 2, 4, 2, true, fp, m2, pt, true, false, {}, {}},
      {"d256 n777 causal fp32acc perwarp", 256, 777, 777, 1, 2, 1, true, bf, m1, pw, false, false, {}, {}},
      {"d256 n1024 perblock k_bias", 256, 1024, 1024, 1, 2, 2, false, bf, m2, pb, false, false, {}, {}, true, 4.0f},
      {"d256 varlen causal", 256, 0, 0, 3, 2, 2, true, bf, m2, pt, true, true, {700, 1, 300}, {700, 17, 450}},
  };
  int fails = 0;
  const bool small_only = cmd == "check-small";  // for compute-sanitizer: skip the long cases
  for (const Case& c : cases) {
    if (small_only && std::max(c.lq, c.lk) > 1100) continue;
    fails += run_case(c, rng) ? 0 : 1;
  }
  std::printf("%d of %zu cases failed\n", fails, cases.size());
  return fails == 0 ? 0 : 1;
}
