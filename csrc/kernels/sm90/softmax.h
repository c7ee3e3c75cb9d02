// Online softmax in base 2 over one m64 x n128 score tile held in wgmma accumulator layout, and the
// packing of P into the A registers of the P·V wgmma. A thread holds 32 scores of each of its two
// rows (g and g + 8); the quad shares those rows.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "sageattention/constants.h"
#include "kernels/sm90/ptx.h"

namespace sageattention::sm90 {

// int32 -> fp32 without the I2F unit (which shares the MUFU rate with ex2): |x| < 2^22 holds for
// int8 dot products up to D = 256, and 1.5 * 2^23 + x is then exact in fp32.
__device__ __forceinline__ float int_to_float_exact(int32_t x) {
  return __int_as_float(x + 0x4B400000) - 12582912.0f;
}

// exp2 on the FMA pipe: 2^y = 2^round(y) * 2^f, f in [-0.5, 0.5], 2^f by a cubic (relative error
// 7.5e-5, far below e4m3's 2^-4 rounding of P), 2^round(y) added into the exponent field. y is
// clamped at -126 so the exponent add cannot wrap (P that small is 0 in e4m3 and in the row sum).
__device__ __forceinline__ float exp2_on_fma(float y) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: y + kRound holds round(y) in its low bits
  y = fmaxf(y, -126.0f);
  const float t = y + kRound;
  const float f = y - (t - kRound);
  const float p = fmaf(fmaf(fmaf(0.05517100170f, f, 0.24260950088f), f, 0.69326096773f), f, 0.99992817640f);
  return __int_as_float(__float_as_int(p) + (__float_as_int(t) << 23));
}

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// kN: scores per row pair per thread (kBlockN / 2). kFp8P: P feeds the e4m3 P·V and is scaled into
// [0, 448]; otherwise (16-bit P·V, as the reference defines the FP16 mode) P = exp2(S - max) in [0, 1].
// kExpOnFmaPer8: of every 8 exponentials of an unmasked tile, this many use exp2_on_fma.
// kRowSumByMma: the caller takes the row sums from the P·V product (ones columns after V), so
// step() leaves row_sum alone and the caller keeps it as the whole row's sum.
template <int kN, bool kFp8P = true, int kExpOnFmaPer8 = 0, bool kRowSumByMma = false>
struct OnlineSoftmax {
  static constexpr float kPOffsetLog2 = kFp8P ? kLog2Fp8Max : 0.0f;  // P = 2^kPOffsetLog2 exp2(S - max)

  float row_max[2];  // running max of S (log2 units), kMaskedScore while nothing was visible
  // kRowSumByMma: the row's sum of the e4m3 P. Otherwise this thread's partial sum of fp32 P,
  // quad-reduced by row_total().
  float row_sum[2];
  __device__ __forceinline__ float row_total(int r) const {
    return kRowSumByMma ? row_sum[r] : quad_sum(row_sum[r]);
  }

  __device__ __forceinline__ void init() {
    row_max[0] = row_max[1] = kMaskedScore;
    row_sum[0] = row_sum[1] = 0.0f;
  }

  // Exponent offset so that P = exp2(S - offset) = 2^kPOffsetLog2 exp2(S - max); a row with no
  // visible key yet keeps offset 0, so its masked scores give exactly P = 0.
  __device__ __forceinline__ static float offset(float m) { return m <= 0.5f * kMaskedScore ? 0.0f : m - kPOffsetLog2; }

  // Rescale factor of the old O and sum. Exactly 1 when the max did not move, so callers can skip
  // the O rescale (an unchanged max is the common case once a row has seen a few tiles).
  __device__ __forceinline__ static float rescale(float old_max, float new_max) {
    return new_max == old_max ? 1.0f : exp2_approx(old_max - new_max);
  }

  // Scores in `acc` (int32), column-block scales scale[0] (keys 0..63) and scale[1] (64..127).
  // Unmasked tiles: one FFMA + ex2 per score; the max is taken on raw ints, since a positive scale
  // commutes with max. Writes P (fp32) into p, returns the rescale factors of the old O.
  template <bool kMask, class MaskFn>
  __device__ __forceinline__ void step(const int32_t (&acc)[kN], float (&p)[kN], const float (&scale)[2],
                                       MaskFn&& visible, float (&alpha)[2]) {
    float new_max[2];
    if constexpr (!kMask) {
      // x = 1.5 * 2^23 + acc exactly (integer add); the magic cancels inside the FFMA below, whose
      // bias carries it: exp2(x * scale - (1.5 * 2^23 * scale + offset)). The bias rounding moves
      // S by under one int8-product unit times the scale, far below the FP8 rounding of P.
      constexpr float kMagic = 12582912.0f;
      // The row max is taken on the raw int32 scores, so the max chains start as soon as S lands
      // and the conversions below stay off the critical path (max -> shuffles -> exp bias).
      // Independent partial max / sum chains (by column parity, by 8-column group) keep the
      // dependent-latency chains short with only two warps per scheduler.
      int32_t raw_max[2][2][2];
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < 2; ++r) raw_max[h][r][0] = raw_max[h][r][1] = INT32_MIN;
#pragma unroll
      for (int i = 0; i < kN; ++i) {
        const int half = i / (kN / 2), r = (i / 2) % 2;
        raw_max[half][r][i % 2] = max(raw_max[half][r][i % 2], acc[i]);
      }
#pragma unroll
      for (int i = 0; i < kN; ++i) p[i] = __int_as_float(acc[i] + 0x4B400000);
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float m0 = int_to_float_exact(max(raw_max[0][r][0], raw_max[0][r][1]));
        const float m1 = int_to_float_exact(max(raw_max[1][r][0], raw_max[1][r][1]));
        const float m = fmaxf(m0 * scale[0], m1 * scale[1]);
        new_max[r] = fmaxf(row_max[r], quad_max(m));
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
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
        const float y = fmaf(p[i], scale[half], bias[half][r]);
        // Spread over i so that both pipes have work all through the tile.
        p[i] = (i * kExpOnFmaPer8) % 8 < kExpOnFmaPer8 ? exp2_on_fma(y) : exp2_approx(y);
        if constexpr (!kRowSumByMma) sum[r][(i / 4) % 4] += p[i];
      }
      if constexpr (!kRowSumByMma) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          row_sum[r] = fmaf(row_sum[r], alpha[r], (sum[r][0] + sum[r][1]) + (sum[r][2] + sum[r][3]));
        }
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
        if constexpr (!kRowSumByMma) sum[r] += p[i];
      }
      if constexpr (!kRowSumByMma) {
#pragma unroll
        for (int r = 0; r < 2; ++r) row_sum[r] = fmaf(row_sum[r], alpha[r], sum[r]);
      }
    }
  }
};

// P (fp32, accumulator layout) -> e4m3 A-operand registers of the m64nDk32 P·V wgmma. For k-step
// ks the thread's slots 4c..4c+3 hold keys {2c, 2c+1, 8+2c, 9+2c} (+16 for a2/a3) of that 32-key
// group, which is why V's tokens are stored permuted (quant_layout.h v_perm_token).
template <int kN>
__device__ __forceinline__ void pack_p_fp8(const float (&p)[kN], uint32_t (&a)[kN / 16][4]) {
#pragma unroll
  for (int ks = 0; ks < kN / 16; ++ks) {
    const int b = 16 * ks;
    a[ks][0] = pack_e4m3x4(p[b + 0], p[b + 1], p[b + 4], p[b + 5]);
    a[ks][1] = pack_e4m3x4(p[b + 2], p[b + 3], p[b + 6], p[b + 7]);
    a[ks][2] = pack_e4m3x4(p[b + 8], p[b + 9], p[b + 12], p[b + 13]);
    a[ks][3] = pack_e4m3x4(p[b + 10], p[b + 11], p[b + 14], p[b + 15]);
  }
}

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
