// Online softmax in base 2 for the FP16 P·V modes, over one m64 x n128 score tile in wgmma
// accumulator layout: a thread holds 32 scores of each of its two rows (g and g + 8), the quad
// shares those rows. P = exp2(S - max) stays in [0, 1], as the reference defines the FP16 mode
// (the FP8 softmax of softmax.h scales P into [0, 448] instead), and is packed straight into the
// A registers of the 16-bit P·V wgmma.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "sageattention/constants.h"
#include "kernels/sm90/ptx.h"
#include "kernels/sm90/softmax.h"

namespace sageattention::sm90 {

template <int kN>  // scores per row pair per thread: kBlockN / 2
struct OnlineSoftmaxFp16PV {
  float row_max[2];  // running max of S (log2 units), kMaskedScore while nothing was visible
  float row_sum[2];  // this thread's partial sum of fp32 P (quad-reduced in the epilogue)

  __device__ __forceinline__ void init() {
    row_max[0] = row_max[1] = kMaskedScore;
    row_sum[0] = row_sum[1] = 0.0f;
  }

  // A row with no visible key yet keeps offset 0, so its masked scores give exactly P = 0.
  __device__ __forceinline__ static float offset(float m) { return m <= 0.5f * kMaskedScore ? 0.0f : m; }

  // Rescale factor of the old O and sum. Exactly 1 when the max did not move, so the caller can skip
  // the O rescale (an unchanged max is the common case once a row has seen a few tiles).
  __device__ __forceinline__ static float rescale(float old_max, float new_max) {
    return new_max == old_max ? 1.0f : exp2_approx(old_max - new_max);
  }

  // Scores in `acc` (int32), column-block scales scale[0] (keys 0..63) and scale[1] (64..127).
  // Unmasked tiles: the max is taken on the raw ints (a positive scale commutes with max), then one
  // FFMA + ex2 per score. Writes P (fp32) into p, returns the rescale factors of the old O.
  template <bool kMask, class MaskFn>
  __device__ __forceinline__ void step(const int32_t (&acc)[kN], float (&p)[kN], const float (&scale)[2],
                                       MaskFn&& visible, float (&alpha)[2]) {
    float new_max[2];
    if constexpr (!kMask) {
      // x = 1.5 * 2^23 + acc exactly (integer add, |acc| < 2^22); the magic cancels inside the FFMA,
      // whose bias carries it: exp2(x * scale - (1.5 * 2^23 * scale + offset)). The bias rounding
      // moves S by under one int8-product unit times the scale (~1e-4 in log2 units).
      constexpr float kMagic = 12582912.0f;
      // Independent partial max / sum chains keep the dependent-latency chains short.
      float raw_max[2][2][2];
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < 2; ++r) raw_max[h][r][0] = raw_max[h][r][1] = 0.0f;  // all x are > 2^22
#pragma unroll
      for (int i = 0; i < kN; ++i) {
        p[i] = __int_as_float(acc[i] + 0x4B400000);
        const int half = i / (kN / 2), r = (i / 2) % 2;
        raw_max[half][r][i % 2] = fmaxf(raw_max[half][r][i % 2], p[i]);
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float m0 = fmaxf(raw_max[0][r][0], raw_max[0][r][1]);
        const float m1 = fmaxf(raw_max[1][r][0], raw_max[1][r][1]);
        const float m = fmaxf((m0 - kMagic) * scale[0], (m1 - kMagic) * scale[1]);
        new_max[r] = fmaxf(row_max[r], quad_max(m));
        alpha[r] = rescale(row_max[r], new_max[r]);
        row_max[r] = new_max[r];
      }
      float bias[2][2];
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < 2; ++r) bias[h][r] = -fmaf(kMagic, scale[h], offset(new_max[r]));
      float sum[2][4] = {};
#pragma unroll
      for (int i = 0; i < kN; ++i) {
        const int half = i / (kN / 2), r = (i / 2) % 2;
        p[i] = exp2_approx(fmaf(p[i], scale[half], bias[half][r]));
        sum[r][(i / 4) % 4] += p[i];
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        row_sum[r] = fmaf(row_sum[r], alpha[r], (sum[r][0] + sum[r][1]) + (sum[r][2] + sum[r][3]));
      }
    } else {
      float m[2] = {kMaskedScore, kMaskedScore};
#pragma unroll
      for (int i = 0; i < kN; ++i) {
        const int half = i / (kN / 2), r = (i / 2) % 2;
        const float s = int_to_float_exact(acc[i]) * scale[half];
        p[i] = visible(i) ? s : kMaskedScore;
        m[r] = fmaxf(m[r], p[i]);
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        new_max[r] = fmaxf(row_max[r], quad_max(m[r]));
        alpha[r] = rescale(row_max[r], new_max[r]);
        row_max[r] = new_max[r];
      }
      const float off[2] = {offset(new_max[0]), offset(new_max[1])};
      float sum[2] = {0.0f, 0.0f};
#pragma unroll
      for (int i = 0; i < kN; ++i) {
        const int r = (i / 2) % 2;
        p[i] = exp2_approx(p[i] - off[r]);
        sum[r] += p[i];
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) row_sum[r] = fmaf(row_sum[r], alpha[r], sum[r]);
    }
  }
};

// Two fp32 -> one register of two 16-bit values (lo in the low half), round to nearest even.
template <typename PT>
__device__ __forceinline__ uint32_t pack_16bit_x2(float lo, float hi) {
  if constexpr (std::is_same_v<PT, __half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
}

// P (fp32, accumulator layout) -> A registers of the m64nDk16 P·V wgmmas: k-step ks covers keys
// 16 ks .. 16 ks + 15, which are accumulator registers 8 ks .. 8 ks + 7 in A-fragment order.
template <typename PT, int kN>
__device__ __forceinline__ void pack_p_16bit(const float (&p)[kN], uint32_t (&a)[kN / 8][4]) {
#pragma unroll
  for (int ks = 0; ks < kN / 8; ++ks) {
#pragma unroll
    for (int r = 0; r < 4; ++r) a[ks][r] = pack_16bit_x2<PT>(p[8 * ks + 2 * r], p[8 * ks + 2 * r + 1]);
  }
}

}  // namespace sageattention::sm90
