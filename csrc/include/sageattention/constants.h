// Named numbers of the algorithm (DESIGN.md §3), shared by the kernels and the CPU reference.
#pragma once

namespace sageattention {

// Largest finite magnitude of FP8 e4m3 (e4m3fn: no infinities, 0x7F/0xFF are NaN).
inline constexpr float kFp8Max = 448.0f;
// V codes of the fp16-accumulating FP8 P·V mode span +-2.25 instead: a key block's sum of P·V is then
// at most 64 keys x 448 x 2.25 = 64512, inside fp16 (65504). 2.25 is an e4m3 value.
inline constexpr float kFp8VMaxFp16Accum = 2.25f;
// log2(448): P = exp2(S - m + kLog2Fp8Max) maps softmax probabilities [0, 1] onto [0, 448].
inline constexpr float kLog2Fp8Max = 8.8073549220576041f;
// Symmetric INT8 range: [-127, 127] (-128 unused so negation stays exact).
inline constexpr float kInt8Max = 127.0f;
inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;
// Largest finite fp16, used to saturate V on its way to fp16 in the FP16 P·V mode.
inline constexpr float kFp16Max = 65504.0f;

// Quantization group geometry (see quant_layout.h). Every kernel family tiles so that these groups
// coincide with what one thread (or warp, or CTA) holds in the MMA accumulator layout.
inline constexpr int kQBlockRows = 128;   // per-block Q group: 128 consecutive query rows
inline constexpr int kQWarpRows = 16;     // rows of one MMA row-slice (m16 / one warp of a wgmma m64)
inline constexpr int kKBlockTokens = 64;  // per-block K group: 64 consecutive keys
inline constexpr int kThreadGroupsPerQSlice = 8;  // per-thread Q: rows r and r+8 of a 16-row slice
inline constexpr int kThreadGroupsPerKBlock = 4;  // per-thread K: keys with the same (t % 8) / 2

// Quantized K and V buffers are padded per sequence to a multiple of this many tokens (zeros), so
// every kernel tile of 64 or 128 keys is in bounds and FP8 V never holds garbage (NaN * 0 = NaN).
inline constexpr int kTokenPad = 128;
// FP8 V is stored transposed with tokens permuted inside groups of this many (one k32 MMA step).
inline constexpr int kVPermGroup = 32;

inline constexpr int kMaxHeadDim = 256;

// Finite stand-in for -inf on masked scores (log2 units): exp2 of anything this far below the
// row max underflows to 0, and max/subtract never produce inf - inf = NaN.
inline constexpr float kMaskedScore = -1.0e30f;

}  // namespace sageattention
