// The scalar arithmetic of quantization, written once for kernels and reference. Each step is a
// single correctly rounded fp32 operation (no FMA contraction, no fast-math reciprocal), so a
// kernel that calls these gets the reference's bits for the same amax and mean.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "sageattention/config.h"
#include "sageattention/constants.h"

namespace sageattention {

SAGE_HD float fmul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SAGE_HD float fdiv_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
SAGE_HD float fsub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// INT8: scale = amax / 127, x8 = rint(x * (127 / amax)); amax == 0 gives scale 0 and x8 = 0.
SAGE_HD float int8_scale(float amax) { return fdiv_rn(amax, kInt8Max); }
SAGE_HD float int8_inv_scale(float amax) { return amax > 0.0f ? fdiv_rn(kInt8Max, amax) : 0.0f; }
SAGE_HD int8_t quantize_int8(float x, float inv_scale) {
  const float y = fmul_rn(x, inv_scale);
#if defined(__CUDA_ARCH__)
  int r = __float2int_rn(y);
#else
  int r = static_cast<int>(std::nearbyint(y));  // default rounding mode: nearest-even
#endif
  r = r > 127 ? 127 : (r < -127 ? -127 : r);
  return static_cast<int8_t>(r);
}

// FP8 V with codes in [-v_max, v_max] (QuantVParams::fp8_max): scale = amax / v_max,
// v8 = e4m3(v * (v_max / amax)).
SAGE_HD float fp8_scale(float amax, float v_max) { return fdiv_rn(amax, v_max); }
SAGE_HD float fp8_inv_scale(float amax, float v_max) { return amax > 0.0f ? fdiv_rn(v_max, amax) : 0.0f; }

// ---- Bit-exact software conversions (host side; kernels use the hardware cvt instructions, which
// round the same way: cvt.rn.satfinite.e4m3x2.f32 and cvt.rn.f16.f32). ----

// float -> e4m3fn, round to nearest even, saturating to +-448; NaN -> 0x7F.
inline uint8_t float_to_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  float a = std::fabs(f);
  if (a >= kFp8Max) return sign | 0x7E;
  if (a < 0.015625f) {  // below 2^-6: subnormal grid of 2^-9; code 8 is the smallest normal
    const int q = static_cast<int>(std::nearbyint(std::ldexp(a, 9)));
    return sign | static_cast<uint8_t>(q);
  }
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  e -= 1;             // a = 1.xxx * 2^e
  int q = static_cast<int>(std::nearbyint(std::ldexp(a, 3 - e)));  // in [8, 16]
  if (q == 16) { q = 8; e += 1; }
  const int code = ((e + 7) << 3) | (q - 8);
  return sign | static_cast<uint8_t>(code > 0x7E ? 0x7E : code);
}

inline float e4m3_to_float(uint8_t b) {
  const float sign = (b & 0x80) ? -1.0f : 1.0f;
  const int e = (b >> 3) & 0xF, m = b & 0x7;
  if (e == 0xF && m == 0x7) return std::nanf("");
  if (e == 0) return sign * std::ldexp(static_cast<float>(m), -9);
  return sign * std::ldexp(static_cast<float>(8 + m), e - 10);
}

// float -> IEEE binary16 bits, round to nearest even; overflow -> inf (callers saturate first).
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax >= 0x7F800000) return sign | (ax > 0x7F800000 ? 0x7E00 : 0x7C00);
  float a;
  std::memcpy(&a, &ax, 4);
  if (a >= 65520.0f) return sign | 0x7C00;               // rounds past the largest finite
  if (a < 6.103515625e-05f) {                             // subnormal: grid 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  }
  int e;
  std::frexp(a, &e);
  e -= 1;
  int q = static_cast<int>(std::nearbyint(std::ldexp(a, 10 - e)));  // [1024, 2048]
  if (q == 2048) { q = 1024; e += 1; }
  return sign | static_cast<uint16_t>(((e + 15) << 10) | (q - 1024));
}

inline float half_bits_to_float(uint16_t h) {
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return m ? std::nanf("") : sign * INFINITY;
  if (e == 0) return sign * std::ldexp(static_cast<float>(m), -24);
  return sign * std::ldexp(static_cast<float>(1024 + m), e - 25);
}

inline float bf16_bits_to_float(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// Fast value-rounding for the reference's inner loop (same results as the bit conversions above,
// checked exhaustively in tests/cpp): keep `keep_bits` mantissa bits with round-to-nearest-even
// in the normal range; below `min_normal`, round to the subnormal grid by the add-and-subtract
// trick (exact in fp32: the sum's ulp is the grid step).
inline float round_mantissa_rne(float a, int keep_bits, float min_normal, float subnormal_magic) {
  if (a < min_normal) return (a + subnormal_magic) - subnormal_magic;
  uint32_t x;
  std::memcpy(&x, &a, 4);
  const int drop = 23 - keep_bits;
  const uint32_t lsb = (x >> drop) & 1u;
  x += ((1u << (drop - 1)) - 1u) + lsb;
  x &= ~((1u << drop) - 1u);
  float r;
  std::memcpy(&r, &x, 4);
  return r;
}

// e4m3 value of x (round to nearest even, saturating to +-448; x must not be NaN).
inline float round_to_e4m3_value(float x) {
  const float a = std::fabs(x);
  // Grid below 2^-6 is 2^-9; 2^14 has an fp32 ulp of 2^-9.
  float r = a >= kFp8Max ? kFp8Max : round_mantissa_rne(a, 3, 0.015625f, 16384.0f);
  r = r > kFp8Max ? kFp8Max : r;
  return x < 0 ? -r : r;
}

// fp16 value of x (round to nearest even, saturating to +-65504; x must not be NaN).
inline float round_to_half_value_saturate(float x) {
  const float a = std::fabs(x);
  // Grid below 2^-14 is 2^-24; 0.5 has an fp32 ulp of 2^-24.
  float r = a >= kFp16Max ? kFp16Max : round_mantissa_rne(a, 10, 6.103515625e-05f, 0.5f);
  r = r > kFp16Max ? kFp16Max : r;
  return x < 0 ? -r : r;
}

// Value of x after rounding to fp16 with saturation to +-65504 (the FP16 P·V operand rounding).
inline float round_to_half_saturate(float x) {
  if (std::isnan(x)) return x;
  x = x > kFp16Max ? kFp16Max : (x < -kFp16Max ? -kFp16Max : x);
  return half_bits_to_float(float_to_half_bits(x));
}

}  // namespace sageattention
