// The C++ reference of the quantized algorithm against float64 attention, on the input families
// of DESIGN.md §5, plus the invariants of K smoothing.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "sageattention/float_convert.h"
#include "sageattention/quant_layout.h"
#include "sageattention/reference.h"

namespace sageattention {
namespace {

enum class Family { kNormal, kKBias, kOutliers };

// Kernel-specific softmax numerics the reference can emulate (AttentionParams).
struct Numerics {
  int block_keys = 64;
  bool row_sum_of_rounded_p = false;
  float rescale_threshold = 0.0f;
};

// Dense HND fp16 tensors [1, H, N, D] and everything the three ops need.
struct Problem {
  int heads, n, d, dp;
  std::vector<uint16_t> q, k, v;
  Sequences seq;

  Problem(Family family, int heads_, int n_, int d_, uint32_t seed) : heads(heads_), n(n_), d(d_) {
    dp = padded_head_dim(d);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    const size_t count = size_t(heads) * n * d;
    std::vector<float> channel_offset(size_t(heads) * d);
    for (auto& x : channel_offset) x = 4.0f * normal(rng);
    auto fill = [&](std::vector<uint16_t>& out, float scale, bool offset) {
      out.resize(count);
      for (size_t i = 0; i < count; ++i) {
        float x = scale * normal(rng);
        if (offset) x += channel_offset[(i / (size_t(n) * d)) * d + i % d];
        if (family == Family::kOutliers && uniform(rng) < 0.001f) x += 10.0f * normal(rng);
        out[i] = float_to_half_bits(x);
      }
    };
    const bool bias = family == Family::kKBias;
    fill(q, bias ? 2.0f : 1.0f, false);
    fill(k, 1.0f, bias);
    fill(v, 1.0f, false);
    seq.batch = 1;
    seq.seqlen = n;
    seq.padded_tokens = dense_padded_tokens(n);
  }

  StridedTensor view(const std::vector<uint16_t>& x) const {
    return {x.data(), int64_t(heads) * n * d, d, int64_t(n) * d};
  }

  // Runs quant_k, quant_v (FP8) and attention; returns o as float [H, N, D] and lse [H, N].
  // `expect`: the status attention must return (o is left empty unless it succeeds).
  void run(PVMode mode, bool causal, bool smooth_k, std::vector<float>& o, std::vector<float>& lse,
           Numerics numerics = {}, Status expect = Status::kSuccess) const {
    const int64_t T = seq.padded_tokens;
    std::vector<int8_t> k8(size_t(heads) * T * dp);
    std::vector<float> k_scale(size_t(heads) * k_scale_count(QuantGranularity::kPerThread, T));
    std::vector<float> k_mean(size_t(heads) * dp), v_scale(size_t(heads) * dp), v_mean(size_t(heads) * dp);
    std::vector<uint8_t> v8(size_t(heads) * dp * T);
    QuantKParams kp;
    kp.k = view(k);
    kp.seq = seq;
    kp.heads = heads;
    kp.head_dim = d;
    kp.head_dim_padded = dp;
    kp.smooth = smooth_k;
    kp.k8 = k8.data();
    kp.k_scale = k_scale.data();
    kp.k_mean = k_mean.data();
    ASSERT_EQ(reference::quant_k(kp), Status::kSuccess);
    QuantVParams vp;
    vp.v = view(v);
    vp.seq = seq;
    vp.heads = heads;
    vp.head_dim = d;
    vp.head_dim_padded = dp;
    vp.v8 = v8.data();
    vp.v_scale = v_scale.data();
    vp.v_mean = v_mean.data();
    vp.fp8_max = fp8_v_max(mode);
    ASSERT_EQ(reference::quant_v(vp), Status::kSuccess);

    std::vector<uint16_t> out(size_t(heads) * n * d);
    lse.assign(size_t(heads) * n, 0.0f);
    AttentionParams p;
    p.heads_q = p.heads_kv = heads;
    p.head_dim = d;
    p.head_dim_padded = dp;
    p.seq_q = p.seq_k = seq;
    p.q = view(q);
    p.k8 = k8.data();
    p.k_scale = k_scale.data();
    p.k_mean = smooth_k ? k_mean.data() : nullptr;
    p.pv_mode = mode;
    p.v8 = v8.data();
    p.v_scale = v_scale.data();
    p.v = view(v);
    p.o = {out.data(), int64_t(heads) * n * d, d, int64_t(n) * d};
    p.lse = lse.data();
    p.lse_head_stride = n;
    p.sm_scale = 1.0f / std::sqrt(float(d));
    p.causal = causal;
    p.softmax_block_keys = numerics.block_keys;
    p.row_sum_of_rounded_p = numerics.row_sum_of_rounded_p;
    p.rescale_threshold = numerics.rescale_threshold;
    ASSERT_EQ(reference::attention(p), expect);
    if (expect != Status::kSuccess) return;
    o.resize(out.size());
    for (size_t i = 0; i < out.size(); ++i) o[i] = half_bits_to_float(out[i]);
  }

  void run_float64(bool causal, std::vector<double>& o, std::vector<double>& lse) const {
    reference::Float64AttentionParams p;
    p.heads_q = p.heads_kv = heads;
    p.head_dim = d;
    p.seq_q = p.seq_k = seq;
    p.q = view(q);
    p.k = view(k);
    p.v = view(v);
    o.assign(size_t(heads) * n * d, 0.0);  // [N, H, D]
    lse.assign(size_t(heads) * n, 0.0);    // [H, N]
    p.o = o.data();
    p.lse = lse.data();
    p.sm_scale = 1.0 / std::sqrt(double(d));
    p.causal = causal;
    ASSERT_EQ(reference::attention_float64(p), Status::kSuccess);
  }
};

// rel-L1 of o [H, N, D] against ref [N, H, D].
double rel_l1(const Problem& pr, const std::vector<float>& o, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (int h = 0; h < pr.heads; ++h)
    for (int i = 0; i < pr.n; ++i)
      for (int c = 0; c < pr.d; ++c) {
        const double r = ref[(size_t(i) * pr.heads + h) * pr.d + c];
        num += std::fabs(o[(size_t(h) * pr.n + i) * pr.d + c] - r);
        den += std::fabs(r);
      }
  return num / den;
}

struct Case {
  Family family;
  PVMode mode;
  double max_rel_l1;
  double max_lse_err;  // outliers widen the INT8 score range, and with it the LSE error
};

class ReferenceVsFloat64 : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceVsFloat64, WithinBound) {
  const Case c = GetParam();
  const Problem pr(c.family, 2, 384, 128, std::random_device{}());
  for (bool causal : {false, true}) {
    std::vector<float> o, lse;
    std::vector<double> ref, ref_lse;
    pr.run(c.mode, causal, true, o, lse);
    pr.run_float64(causal, ref, ref_lse);
    EXPECT_LE(rel_l1(pr, o, ref), c.max_rel_l1) << "causal=" << causal;
    double max_lse_err = 0;
    for (size_t i = 0; i < lse.size(); ++i) max_lse_err = std::fmax(max_lse_err, std::fabs(lse[i] - ref_lse[i]));
    EXPECT_LE(max_lse_err, c.max_lse_err);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, ReferenceVsFloat64,
    ::testing::Values(Case{Family::kNormal, PVMode::kFp8Fp32Fp32, 0.045, 0.05},
                      Case{Family::kNormal, PVMode::kFp16Fp32, 0.014, 0.05},
                      Case{Family::kKBias, PVMode::kFp8Fp32Fp32, 0.045, 0.1},
                      Case{Family::kKBias, PVMode::kFp16Fp32, 0.024, 0.1},
                      Case{Family::kNormal, PVMode::kFp8Fp16Fp32, 0.045, 0.05},
                      Case{Family::kKBias, PVMode::kFp8Fp16Fp32, 0.045, 0.1},
                      Case{Family::kOutliers, PVMode::kFp8Fp32Fp32, 0.06, 0.35},
                      Case{Family::kOutliers, PVMode::kFp16Fp32, 0.04, 0.35}));

// Smoothing subtracts a per-channel constant from K: exact softmax is unchanged, and the LSE shifts
// by sm_scale·q·mean, which the reference adds back.
TEST(Smoothing, ExactInvarianceAndLseCorrection) {
  Problem pr(Family::kKBias, 1, 200, 64, 7);
  Problem shifted = pr;
  // Shift K by its own rounded mean (in fp16 the subtraction is exact enough to compare in float64).
  std::vector<double> mean(pr.d, 0.0);
  for (int t = 0; t < pr.n; ++t)
    for (int c = 0; c < pr.d; ++c) mean[c] += half_bits_to_float(pr.k[size_t(t) * pr.d + c]) / pr.n;
  for (int t = 0; t < pr.n; ++t)
    for (int c = 0; c < pr.d; ++c)
      shifted.k[size_t(t) * pr.d + c] = float_to_half_bits(half_bits_to_float(pr.k[size_t(t) * pr.d + c]) - float(mean[c]));
  std::vector<double> o1, l1, o2, l2;
  pr.run_float64(false, o1, l1);
  shifted.run_float64(false, o2, l2);
  double max_o = 0;
  for (size_t i = 0; i < o1.size(); ++i) max_o = std::fmax(max_o, std::fabs(o1[i] - o2[i]));
  EXPECT_LT(max_o, 2e-2);  // only the fp16 rounding of the shifted K differs
  std::vector<float> o, lse_smooth, lse_plain;
  pr.run(PVMode::kFp16Fp32, false, true, o, lse_smooth);
  pr.run(PVMode::kFp16Fp32, false, false, o, lse_plain);
  // With smoothing the INT8 range covers only the spread of K, so the LSE (corrected) is closer.
  double err_smooth = 0, err_plain = 0;
  for (size_t i = 0; i < l1.size(); ++i) {
    err_smooth = std::fmax(err_smooth, std::fabs(lse_smooth[i] - l1[i]));
    err_plain = std::fmax(err_plain, std::fabs(lse_plain[i] - l1[i]));
  }
  EXPECT_LT(err_smooth, 0.05);
  EXPECT_LT(err_smooth, err_plain);
}

// The mma.sync kernel's D=64 FP16 numerics (128-key softmax step, denominator of P as rounded for
// P·V, running max raised only past a slack of 8) against the default ones and float64. The
// "rising" family makes the row max grow block after block by less than the slack (keys of later
// blocks score higher), so P reaches well above 1 under the slack.
TEST(Reference, KernelNumericsVariantsStayAccurate) {
  for (bool rising : {false, true}) {
    Problem pr(Family::kKBias, 2, 700, 64, 11);
    if (rising) {
      // q·k grows with the key index: K gets + t/700 * 4 along q's direction (per head).
      for (int h = 0; h < pr.heads; ++h)
        for (int t = 0; t < pr.n; ++t)
          for (int c = 0; c < pr.d; ++c) {
            const size_t i = (size_t(h) * pr.n + t) * pr.d + c;
            const float qc = half_bits_to_float(pr.q[(size_t(h) * pr.n) * pr.d + c]);
            pr.k[i] = float_to_half_bits(half_bits_to_float(pr.k[i]) + 4.0f * t / pr.n * qc / 8.0f);
          }
    }
    for (bool causal : {false, true}) {
      std::vector<float> o_default, lse_default, o_kernel, lse_kernel;
      std::vector<double> ref, ref_lse;
      pr.run(PVMode::kFp16Fp32, causal, true, o_default, lse_default);
      pr.run(PVMode::kFp16Fp32, causal, true, o_kernel, lse_kernel, {128, true, 8.0f});
      pr.run_float64(causal, ref, ref_lse);
      const double err_default = rel_l1(pr, o_default, ref), err_kernel = rel_l1(pr, o_kernel, ref);
      EXPECT_LE(err_kernel, err_default * 1.02 + 1e-4) << "rising=" << rising << " causal=" << causal;
      double diff = 0, den = 0, lse_diff = 0;
      for (size_t i = 0; i < o_kernel.size(); ++i) {
        diff += std::fabs(double(o_kernel[i]) - o_default[i]);
        den += std::fabs(double(o_default[i]));
      }
      for (size_t i = 0; i < lse_kernel.size(); ++i)
        lse_diff = std::fmax(lse_diff, std::fabs(double(lse_kernel[i]) - lse_default[i]));
      EXPECT_LE(diff / den, 2e-3) << "rising=" << rising << " causal=" << causal;
      EXPECT_LE(lse_diff, 1e-3) << "rising=" << rising << " causal=" << causal;
    }
  }
}

TEST(Reference, RejectsInvalidParams) {
  AttentionParams p;
  p.heads_q = 3;
  p.heads_kv = 2;
  p.head_dim = 64;
  p.head_dim_padded = 64;
  EXPECT_EQ(reference::attention(p), Status::kInvalidArgument);
  p.heads_kv = 1;
  p.head_dim_padded = 128;
  EXPECT_EQ(reference::attention(p), Status::kInvalidArgument);
  // A running-max slack past 15 could push P beyond fp16; a valid call otherwise.
  const Problem pr(Family::kNormal, 1, 70, 64, 3);
  std::vector<float> o, lse;
  pr.run(PVMode::kFp16Fp32, false, true, o, lse, {64, false, 15.0f});
  pr.run(PVMode::kFp16Fp32, false, true, o, lse, {64, false, 16.0f}, Status::kInvalidArgument);
  pr.run(PVMode::kFp16Fp32, false, true, o, lse, {64, false, -1.0f}, Status::kInvalidArgument);
}

}  // namespace
}  // namespace sageattention
