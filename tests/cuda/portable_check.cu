// Device harness of the portable kernels: quant_k / quant_v / attention_mma against the CPU
// reference (same quantized inputs, so kernel bugs show up alone) and against float64 attention
// on the raw inputs (total error). Poisons outputs, checks every element was written, repeats each
// launch and compares bitwise. Exit code 0 only if every case passes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sageattention/cuda_api.h"
#include "sageattention/float_convert.h"
#include "sageattention/quant_layout.h"
#include "sageattention/quant_math.h"
#include "sageattention/reference.h"

using namespace sageattention;

#define CHECK_CUDA(x)                                                                   \
  do {                                                                                  \
    cudaError_t e_ = (x);                                                               \
    if (e_ != cudaSuccess) {                                                            \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(2);                                                                     \
    }                                                                                   \
  } while (0)

template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { CHECK_CUDA(cudaMalloc(&ptr, std::max<size_t>(count, 1) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  void upload(const std::vector<T>& h) { CHECK_CUDA(cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    CHECK_CUDA(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void poison() { CHECK_CUDA(cudaMemset(ptr, 0xFF, n * sizeof(T))); }
};

struct Case {
  std::string name;
  int batch = 1, hq = 2, hkv = 2, d = 128;
  std::vector<int> lq, lk;  // per sequence; dense when all equal and !varlen
  bool varlen = false;
  DType dtype = DType::kBFloat16;
  QuantGranularity gran = QuantGranularity::kPerThread;
  PVMode mode = PVMode::kFp8Fp32Fp32;
  bool causal = false, smooth_k = true, smooth_v = false;
  int token_pad = 0;    // extra elements per token row (strided views)
  float k_bias = 0.0f;  // per-channel offset added to K (the "k_bias" input family)
};

static float bits_to_float(DType dt, uint16_t b) {
  return dt == DType::kBFloat16 ? bf16_bits_to_float(b) : half_bits_to_float(b);
}

struct Metrics {
  double rel_l1 = 0, max_abs = 0, cos = 0;
  int64_t bad = 0;  // NaN / unwritten
};

static Metrics compare(const std::vector<double>& out, const std::vector<double>& ref) {
  Metrics m;
  double num = 0, den = 0, dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) { ++m.bad; continue; }
    const double diff = std::fabs(out[i] - ref[i]);
    num += diff;
    den += std::fabs(ref[i]);
    m.max_abs = std::max(m.max_abs, diff);
    dot += out[i] * ref[i];
    na += out[i] * out[i];
    nb += ref[i] * ref[i];
  }
  m.rel_l1 = den > 0 ? num / den : num;
  m.cos = (na > 0 && nb > 0) ? dot / std::sqrt(na * nb) : 1.0;
  return m;
}

static bool run_case(const Case& c, std::mt19937& rng) {
  const int B = c.batch, d = c.d, dp = padded_head_dim(d);
  std::vector<int32_t> cu_q(B + 1, 0), cu_k(B + 1, 0);
  for (int b = 0; b < B; ++b) {
    cu_q[b + 1] = cu_q[b] + c.lq[b];
    cu_k[b + 1] = cu_k[b] + c.lk[b];
  }
  const int max_q = *std::max_element(c.lq.begin(), c.lq.end());
  const int max_k = *std::max_element(c.lk.begin(), c.lk.end());
  // Raw tensors [B, N, H, D] (dense) or [total, H, D] (varlen), token rows padded by token_pad.
  auto raw_tensor = [&](int heads, int n_per_seq, int64_t total) {
    StridedTensor t;
    t.head_stride = d;
    t.token_stride = int64_t(heads) * d + c.token_pad;
    t.batch_stride = c.varlen ? 0 : t.token_stride * n_per_seq;
    (void)total;
    return t;
  };
  const int64_t rows_q = c.varlen ? cu_q[B] : int64_t(B) * max_q;
  const int64_t rows_k = c.varlen ? cu_k[B] : int64_t(B) * max_k;
  StridedTensor tq = raw_tensor(c.hq, max_q, rows_q), tk = raw_tensor(c.hkv, max_k, rows_k), tv = tk;
  const size_t nq = rows_q * tq.token_stride, nk = rows_k * tk.token_stride;

  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> bias(d);
  for (auto& x : bias) x = c.k_bias * normal(rng);
  auto fill = [&](size_t n, int64_t row_len, const float* add) {
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t col = int64_t(i % row_len) % d;
      float x = normal(rng) + (add ? add[col] : 0.0f);
      h[i] = float_to_dtype_bits(c.dtype, x);
    }
    return h;
  };
  std::vector<uint16_t> hq = fill(nq, tq.token_stride, nullptr), hk = fill(nk, tk.token_stride, bias.data()),
                        hv = fill(nk, tv.token_stride, nullptr);
  DeviceBuffer<uint16_t> dq(nq), dk(nk), dv(nk);
  dq.upload(hq), dk.upload(hk), dv.upload(hv);
  DeviceBuffer<int32_t> dcu_q(B + 1), dcu_k(B + 1);
  dcu_q.upload(cu_q), dcu_k.upload(cu_k);

  Sequences sq{B, max_q, c.varlen ? dcu_q.ptr : nullptr, 0};
  Sequences sk{B, max_k, c.varlen ? dcu_k.ptr : nullptr, 0};
  sk.padded_tokens = c.varlen ? varlen_padded_total(cu_k[B], B) : dense_padded_tokens(max_k);
  const int64_t T = sk.padded_tokens, Bk = c.varlen ? 1 : B;
  const int64_t n_kscale = Bk * c.hkv * k_scale_count(c.gran, T);

  DeviceBuffer<int8_t> k8(Bk * c.hkv * T * dp);
  DeviceBuffer<float> k_scale(n_kscale), k_mean(int64_t(B) * c.hkv * dp);
  DeviceBuffer<uint8_t> v8(Bk * c.hkv * dp * T);
  DeviceBuffer<float> v_scale(int64_t(B) * c.hkv * dp), v_mean(int64_t(B) * c.hkv * dp);
  CHECK_CUDA(cudaMemset(k8.ptr, 0, k8.n));
  CHECK_CUDA(cudaMemset(v8.ptr, 0, v8.n));

  QuantKParams qk;
  qk.dtype = c.dtype, qk.k = tk, qk.k.ptr = dk.ptr, qk.seq = sk, qk.heads = c.hkv, qk.head_dim = d;
  qk.head_dim_padded = dp, qk.gran = c.gran, qk.smooth = c.smooth_k;
  qk.k8 = k8.ptr, qk.k_scale = k_scale.ptr, qk.k_mean = k_mean.ptr;
  QuantVParams qv;
  qv.dtype = c.dtype, qv.v = tv, qv.v.ptr = dv.ptr, qv.seq = sk, qv.heads = c.hkv, qv.head_dim = d;
  qv.head_dim_padded = dp, qv.smooth = c.smooth_v, qv.v8 = v8.ptr, qv.v_scale = v_scale.ptr, qv.v_mean = v_mean.ptr;
  qv.fp8_max = fp8_v_max(c.mode);
  const bool fp8 = is_fp8(c.mode);
  bool ok = true;
  auto expect = [&](bool cond, const char* what) {
    if (!cond) std::printf("  FAIL %s: %s\n", c.name.c_str(), what);
    ok = ok && cond;
  };
  expect(cuda::quant_k(qk, nullptr) == Status::kSuccess, "quant_k status");
  if (fp8) expect(cuda::quant_v(qv, nullptr) == Status::kSuccess, "quant_v status");
  CHECK_CUDA(cudaDeviceSynchronize());

  // ---- quantization vs reference (host copies of the inputs) ----
  std::vector<int8_t> g_k8 = k8.download();
  std::vector<float> g_ks = k_scale.download(), g_km = k_mean.download();
  std::vector<uint8_t> g_v8 = v8.download();
  std::vector<float> g_vs = v_scale.download(), g_vm = v_mean.download();
  {
    std::vector<int8_t> r_k8(g_k8.size(), 0);
    std::vector<float> r_ks(g_ks.size(), 0.0f), r_km(g_km.size());
    QuantKParams r = qk;
    r.k.ptr = hk.data(), r.seq.cu_seqlens = c.varlen ? cu_k.data() : nullptr;
    r.k8 = r_k8.data(), r.k_scale = r_ks.data(), r.k_mean = r_km.data();
    expect(reference::quant_k(r) == Status::kSuccess, "reference quant_k");
    int max_diff = 0;
    double max_rel = 0, max_mean = 0;
    // Compare only the tokens each sequence owns (varlen gaps are never written).
    for (int b = 0; b < B; ++b) {
      const int64_t start = c.varlen ? varlen_padded_start(cu_k[b], b) : 0, e = c.varlen ? 0 : b;
      const int64_t plen = round_up(c.lk[b], kTokenPad);
      for (int h = 0; h < c.hkv; ++h) {
        const int64_t base = (e * c.hkv + h) * T;
        for (int64_t t = start; t < start + plen; ++t)
          for (int ch = 0; ch < dp; ++ch) {
            const int64_t i = (base + t) * dp + ch;
            max_diff = std::max(max_diff, std::abs(int(g_k8[i]) - int(r_k8[i])));
          }
        const int64_t spb = k_scale_count(c.gran, T);
        for (int64_t gi = k_group(c.gran, start); gi < k_group(c.gran, start + plen - 1) + 1; ++gi) {
          const int64_t i = (e * c.hkv + h) * spb + gi;
          max_rel = std::max(max_rel, std::fabs(double(g_ks[i]) - r_ks[i]) / std::max(1e-30, double(std::fabs(r_ks[i]))));
        }
      }
    }
    for (size_t i = 0; i < g_km.size(); ++i) max_mean = std::max(max_mean, double(std::fabs(g_km[i] - r_km[i])));
    std::printf("  quant_k: max|k8 diff| %d, max scale rel diff %.2e, max mean diff %.2e\n", max_diff, max_rel, max_mean);
    expect(max_diff <= 1 && max_rel <= 1e-5, "quant_k agreement");
  }
  if (fp8) {
    std::vector<uint8_t> r_v8(g_v8.size(), 0);
    std::vector<float> r_vs(g_vs.size()), r_vm(g_vm.size());
    QuantVParams r = qv;
    r.v.ptr = hv.data(), r.seq.cu_seqlens = c.varlen ? cu_k.data() : nullptr;
    r.v8 = r_v8.data(), r.v_scale = r_vs.data(), r.v_mean = r_vm.data();
    expect(reference::quant_v(r) == Status::kSuccess, "reference quant_v");
    double max_val = 0, max_rel = 0;
    int64_t code_diffs = 0;
    for (int b = 0; b < B; ++b) {
      const int64_t start = c.varlen ? varlen_padded_start(cu_k[b], b) : 0, e = c.varlen ? 0 : b;
      const int64_t plen = round_up(c.lk[b], kTokenPad);
      for (int h = 0; h < c.hkv; ++h)
        for (int ch = 0; ch < dp; ++ch) {
          const int64_t si = (int64_t(b) * c.hkv + h) * dp + ch;
          max_rel = std::max(max_rel, std::fabs(double(g_vs[si]) - r_vs[si]) / std::max(1e-30, double(std::fabs(r_vs[si]))));
          for (int64_t t = start; t < start + plen; ++t) {
            const int64_t i = ((e * c.hkv + h) * dp + ch) * T + t;
            if (g_v8[i] != r_v8[i]) {
              ++code_diffs;
              max_val = std::max(max_val, std::fabs(double(e4m3_to_float(g_v8[i])) - e4m3_to_float(r_v8[i])));
            }
          }
        }
    }
    std::printf("  quant_v: %lld differing codes (max value diff %.3g), max scale rel diff %.2e\n",
                (long long)code_diffs, max_val, max_rel);
    expect(max_rel <= 1e-5 && (c.smooth_v || code_diffs == 0), "quant_v agreement");
  }

  // ---- attention ----
  MutableStridedTensor to;
  to.head_stride = d, to.token_stride = int64_t(c.hq) * d + c.token_pad;
  to.batch_stride = c.varlen ? 0 : to.token_stride * max_q;
  DeviceBuffer<uint16_t> dout(nq);
  const int64_t lse_n = int64_t(c.hq) * rows_q;
  DeviceBuffer<float> dlse(lse_n);
  AttentionParams ap;
  ap.dtype = c.dtype, ap.heads_q = c.hq, ap.heads_kv = c.hkv, ap.head_dim = d, ap.head_dim_padded = dp;
  ap.seq_q = sq, ap.seq_k = sk, ap.q = tq, ap.q.ptr = dq.ptr, ap.qk_gran = c.gran;
  ap.k8 = k8.ptr, ap.k_scale = k_scale.ptr, ap.k_mean = c.smooth_k ? k_mean.ptr : nullptr;
  ap.pv_mode = c.mode;
  if (fp8) {
    ap.v8 = v8.ptr, ap.v_scale = v_scale.ptr, ap.v_mean = c.smooth_v ? v_mean.ptr : nullptr;
  } else {
    ap.v = tv, ap.v.ptr = dv.ptr, ap.v_dtype = c.dtype;
  }
  ap.o = to, ap.o.ptr = dout.ptr;
  ap.lse = dlse.ptr;
  ap.lse_head_stride = c.varlen ? rows_q : max_q;
  ap.lse_batch_stride = c.varlen ? 0 : int64_t(c.hq) * max_q;
  ap.sm_scale = 1.0f / std::sqrt(float(d));
  ap.causal = c.causal;
  ap.softmax_block_keys = mma_softmax_block_keys(ap.head_dim_padded, ap.pv_mode);
  ap.row_sum_of_rounded_p = mma_row_sum_of_rounded_p(ap.head_dim_padded, ap.pv_mode);
  ap.rescale_threshold = mma_rescale_threshold(ap.head_dim_padded, ap.pv_mode);
  // The kernel's P·V operand type, for the reference: bf16 V as it is with bf16 P in the fp32-
  // accumulating mode, fp16 otherwise.
  ap.pv_operand_dtype =
      c.mode == PVMode::kFp16Fp32 && c.dtype == DType::kBFloat16 ? DType::kBFloat16 : DType::kFloat16;
  expect(cuda::attention_mma_supports(ap, 90), "attention_mma_supports");
  dout.poison(), dlse.poison();
  expect(cuda::attention_mma(ap, nullptr) == Status::kSuccess, "attention status");
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<uint16_t> g_o = dout.download();
  std::vector<float> g_lse = dlse.download();
  dout.poison(), dlse.poison();
  expect(cuda::attention_mma(ap, nullptr) == Status::kSuccess, "attention status (repeat)");
  CHECK_CUDA(cudaDeviceSynchronize());
  expect(dout.download() == g_o, "bitwise repeat (O)");
  {
    std::vector<float> again = dlse.download();
    expect(std::memcmp(again.data(), g_lse.data(), again.size() * 4) == 0, "bitwise repeat (LSE)");
  }

  // Reference attention on the kernel's own quantized K/V.
  std::vector<uint16_t> r_o(nq, 0);
  std::vector<float> r_lse(lse_n, 0.0f);
  AttentionParams rp = ap;
  rp.seq_q.cu_seqlens = c.varlen ? cu_q.data() : nullptr, rp.seq_k.cu_seqlens = c.varlen ? cu_k.data() : nullptr;
  rp.q.ptr = hq.data(), rp.k8 = g_k8.data(), rp.k_scale = g_ks.data(), rp.k_mean = c.smooth_k ? g_km.data() : nullptr;
  if (fp8) {
    rp.v8 = g_v8.data(), rp.v_scale = g_vs.data(), rp.v_mean = c.smooth_v ? g_vm.data() : nullptr;
  } else {
    rp.v.ptr = hv.data();
  }
  rp.o.ptr = r_o.data(), rp.lse = r_lse.data();
  expect(reference::attention(rp) == Status::kSuccess, "reference attention");

  reference::Float64AttentionParams fp;
  fp.dtype = c.dtype, fp.heads_q = c.hq, fp.heads_kv = c.hkv, fp.head_dim = d;
  fp.seq_q = rp.seq_q, fp.seq_k = rp.seq_k, fp.q = rp.q, fp.k = tk, fp.k.ptr = hk.data(), fp.v = tv, fp.v.ptr = hv.data();
  std::vector<double> f_o(rows_q * c.hq * d), f_lse(lse_n);
  fp.o = f_o.data(), fp.lse = f_lse.data(), fp.sm_scale = ap.sm_scale, fp.causal = c.causal;
  expect(reference::attention_float64(fp) == Status::kSuccess, "reference float64");

  // Gather the written elements (real rows, head_dim columns).
  std::vector<double> vo, vr, vf;
  int64_t unwritten = 0;
  double lse_diff = 0, lse_diff64 = 0;
  int64_t lse_bad = 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < c.lq[b]; ++t)
      for (int h = 0; h < c.hq; ++h) {
        const int64_t row = c.varlen ? cu_q[b] + t : int64_t(b) * max_q + t;
        for (int ch = 0; ch < d; ++ch) {
          const int64_t i = row * tq.token_stride + int64_t(h) * d + ch;
          const float x = bits_to_float(c.dtype, g_o[i]);
          if (!std::isfinite(x)) ++unwritten;
          vo.push_back(x);
          vr.push_back(bits_to_float(c.dtype, r_o[i]));
          vf.push_back(f_o[(row * c.hq + h) * d + ch]);
        }
        const int64_t li = c.varlen ? int64_t(h) * rows_q + row : (int64_t(b) * c.hq + h) * max_q + t;
        const int64_t fi = c.varlen ? int64_t(h) * rows_q + row : (int64_t(b) * c.hq + h) * max_q + t;
        const float gl = g_lse[li], rl = r_lse[li];
        const double fl = f_lse[fi];
        if (std::isinf(rl) || std::isinf(fl)) {
          if (!(std::isinf(gl) && gl < 0)) ++lse_bad;
        } else if (!std::isfinite(gl)) {
          ++lse_bad;
        } else {
          lse_diff = std::max(lse_diff, double(std::fabs(gl - rl)));
          lse_diff64 = std::max(lse_diff64, std::fabs(gl - fl));
        }
      }
  const Metrics mr = compare(vo, vr), mf = compare(vo, vf), rf = compare(vr, vf);
  std::printf("  attn vs reference: rel L1 %.2e max abs %.2e | vs float64: rel L1 %.4f cos %.6f (reference itself: "
              "%.4f) | LSE max diff %.2e (float64 %.2e) | unwritten/NaN %lld, LSE bad %lld\n",
              mr.rel_l1, mr.max_abs, mf.rel_l1, mf.cos, rf.rel_l1, lse_diff, lse_diff64, (long long)unwritten,
              (long long)lse_bad);
  expect(unwritten == 0 && lse_bad == 0, "every output written, LSE -inf exactly for empty rows");
  expect(mr.rel_l1 < (fp8 ? 2e-2 : 5e-3), "O close to the reference");
  expect(mf.rel_l1 < rf.rel_l1 * 1.3 + 1e-3, "O about as accurate as the reference vs float64");
  expect(lse_diff < 1e-2, "LSE close to the reference");
  return ok;
}

int main(int argc, char** argv) {
  std::mt19937 rng(argc > 1 ? std::atoi(argv[1]) : 1234);
  const int dims[] = {SAGE_HEAD_DIMS};
  const int d_main = std::find(std::begin(dims), std::end(dims), 128) != std::end(dims) ? 128 : dims[0];
  std::vector<Case> cases;
  const PVMode modes[] = {PVMode::kFp8Fp32Fp32, PVMode::kFp8Fp32, PVMode::kFp16Fp32, PVMode::kFp16Fp16Fp32,
                          PVMode::kFp8Fp16Fp32};
  for (PVMode m : modes)
    for (bool causal : {false, true}) {
      Case c;
      c.name = std::string("dense mode ") + std::to_string(int(m)) + (causal ? " causal" : "");
      c.batch = 2, c.hq = 4, c.hkv = 2, c.d = d_main, c.lq = {300, 300}, c.lk = {300, 300};
      c.mode = m, c.causal = causal, c.smooth_v = m == PVMode::kFp8Fp32Fp32;
      cases.push_back(c);
    }
  {
    Case c;
    c.name = "Nq<Nk causal, fp16, per_warp, strided";
    c.batch = 2, c.hq = 8, c.hkv = 1, c.d = d_main, c.lq = {200, 200}, c.lk = {333, 333};
    c.dtype = DType::kFloat16, c.gran = QuantGranularity::kPerWarp, c.causal = true, c.token_pad = 8;
    cases.push_back(c);
  }
  {
    Case c;
    c.name = "Nq>Nk causal (empty rows), per_block, k_bias";
    c.batch = 1, c.hq = 2, c.hkv = 2, c.d = d_main, c.lq = {333}, c.lk = {200};
    c.gran = QuantGranularity::kPerBlock, c.causal = true, c.k_bias = 4.0f, c.mode = PVMode::kFp16Fp32;
    cases.push_back(c);
  }
  for (int d : dims) {
    // Dense FP16 P·V with columns past head_dim, strided rows, GQA and a partial last key block: the
    // TMA loads (sm_90+) zero-fill past the tensor.
    Case c;
    c.d = d == 128 ? 96 : d == 64 ? 40 : d;
    c.name = "dense D=" + std::to_string(c.d) + " fp16 P·V, fp16, strided, causal Nq<Nk";
    c.batch = 2, c.hq = 4, c.hkv = 2, c.lq = {200, 200}, c.lk = {333, 333}, c.token_pad = 8;
    c.dtype = DType::kFloat16, c.mode = PVMode::kFp16Fp32, c.causal = true;
    cases.push_back(c);
  }
  for (int d : dims) {
    Case c;
    c.name = "varlen D=" + std::to_string(d == 128 ? 96 : d) + " causal";
    c.batch = 3, c.hq = 4, c.hkv = 2, c.d = d == 128 ? 96 : d, c.lq = {1, 130, 257}, c.lk = {17, 130, 300};
    c.varlen = true, c.causal = true, c.smooth_v = true;
    cases.push_back(c);
    c.name = "varlen D=" + std::to_string(c.d) + " fp16 P·V, per_block";
    c.mode = PVMode::kFp16Fp32, c.gran = QuantGranularity::kPerBlock, c.causal = false, c.smooth_v = false;
    cases.push_back(c);
  }
  // Accuracy point of the targets: N = 4096, D = 128 (skipped with SAGE_CHECK_QUICK=1, e.g. under
  // compute-sanitizer).
  const bool quick = std::getenv("SAGE_CHECK_QUICK") != nullptr;
  if (d_main == 128 && !quick) {
    for (PVMode m : {PVMode::kFp16Fp32, PVMode::kFp8Fp32Fp32, PVMode::kFp8Fp16Fp32}) {
      Case c;
      c.name = std::string("accuracy N=4096 D=128 ") +
               (m == PVMode::kFp8Fp16Fp32 ? "FP8 fp16-accumulated" : is_fp8(m) ? "FP8" : "FP16");
      c.batch = 1, c.hq = 2, c.hkv = 2, c.d = 128, c.lq = {4096}, c.lk = {4096}, c.mode = m;
      cases.push_back(c);
    }
  }
  int failed = 0;
  for (const Case& c : cases) {
    std::printf("[%s]\n", c.name.c_str());
    if (!run_case(c, rng)) ++failed;
  }
  std::printf("%d of %zu cases failed\n", failed, cases.size());
  return failed == 0 ? 0 : 1;
}
