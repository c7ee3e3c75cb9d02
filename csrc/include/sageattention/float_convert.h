// Host conversions of fp32 results to the output dtypes (round to nearest even, like the kernels'
// cvt.rn.f16.f32 / cvt.rn.bf16.f32).
#pragma once

#include <cstdint>
#include <cstring>

#include "sageattention/quant_math.h"
#include "sageattention/types.h"

namespace sageattention {

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

inline uint16_t float_to_dtype_bits(DType dt, float f) {
  return dt == DType::kFloat16 ? float_to_half_bits(f) : float_to_bf16_bits(f);
}

}  // namespace sageattention
