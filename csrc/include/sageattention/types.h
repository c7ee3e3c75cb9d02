// Enumerations of the public C++ API. Values are stable: the torch binding passes them as ints.
#pragma once

#include <cstdint>

namespace sageattention {

enum class DType : int32_t { kFloat16 = 0, kBFloat16 = 1 };

enum class QuantGranularity : int32_t {
  kPerBlock = 0,   // Q: 128 rows, K: 64 keys share a scale
  kPerWarp = 1,    // Q: 16 rows (one MMA row slice), K: 64 keys
  kPerThread = 2,  // Q: rows {r, r+8} of a 16-row slice, K: 16 keys with equal (t % 8) / 2 in a 64-key block
};

// How P·V is computed and accumulated (the public `pv_accum_dtype` strings map onto these).
enum class PVMode : int32_t {
  kFp16Fp32 = 0,      // P, V in fp16; MMA accumulates in fp32                 ("fp32", FP16 P·V)
  kFp16Fp16Fp32 = 1,  // P, V in fp16; each key block accumulated in fp16, then added in fp32 ("fp16+fp32")
  kFp8Fp32 = 2,       // P, V in e4m3; one fp32 MMA accumulator for the whole row ("fp32", FP8 P·V)
  kFp8Fp32Fp32 = 3,   // P, V in e4m3; fresh accumulator per key block, added in fp32 ("fp32+fp32")
  kFp8Fp16Fp32 = 4,   // P, V in e4m3, V codes within +-kFp8VMaxFp16Accum; each key block accumulated
                      // in fp16, then added in fp32 ("fp32+fp16"; mma.sync only, nvcc 12.8+)
};

constexpr bool is_fp8(PVMode mode) {
  return mode == PVMode::kFp8Fp32 || mode == PVMode::kFp8Fp32Fp32 || mode == PVMode::kFp8Fp16Fp32;
}

enum class Status : int32_t {
  kSuccess = 0,
  kInvalidArgument = 1,   // the params violate the documented contract
  kNotSupported = 2,      // valid, but no kernel here handles this combination
  kCudaError = 3,         // a CUDA runtime call or launch failed
};

const char* status_string(Status s);

}  // namespace sageattention
