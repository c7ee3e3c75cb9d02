// Tile configuration of the mma.sync attention kernels (portable path, sm80+).
#pragma once

#include <cstdint>

#include "sageattention/constants.h"
#include "sageattention/params.h"
#include "sageattention/types.h"

namespace sageattention::kernels {

// Shared-memory tiles hold rows of `row_bytes` bytes (64 or a multiple of 128) in one of two
// layouts; both keep the 8 row addresses of one ldmatrix (same chunk, 8 consecutive rows) in 8
// different 16-byte bank groups.
// - Padded (kPadded): rows at a pitch of row_bytes + 16, chunk c of row r at r·pitch + 16c, so
//   every fragment address of a warp is one per-lane register plus a compile-time offset.
// - Swizzled: rows packed, the chunk index XORed with the row. The key repeats every 8 rows, so
//   offset(row + 8i) = offset(row) + 8i·row_bytes, but each chunk column needs its own register.
template <bool kPadded>
__host__ __device__ constexpr int smem_pitch(int row_bytes) {
  return kPadded ? row_bytes + 16 : row_bytes;
}
template <bool kPadded>
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk, int row_bytes) {
  if constexpr (kPadded) {
    return row * smem_pitch<true>(row_bytes) + chunk * 16;
  } else {
    const uint32_t linear = row * row_bytes + chunk * 16;
    const uint32_t key = row_bytes >= 128 ? row % 8 : (row / 2) % 4;  // 64-byte rows: 2 per line
    return (linear & ~127u) | ((((linear / 16) % 8) ^ key) * 16);
  }
}

// How a thread sums P per row for the softmax denominator.
// - kChained: one running sum per row, the block's values added one after the other.
// - kTree: the block's values summed pairwise, then added: the same adds with a dependency chain of
//   log2 instead of the block's count (D=128 FP16 mode: +0.5-1.2%, NOTEBOOK_portable v18).
// - kTensorCore: one more m16n8k16 per k16 step of P·V, against a ones column, accumulated (and
//   rescaled) beside O: the adds leave the FP pipe, and the sum is of P as rounded for the product
//   (params.h, row_sum_of_rounded_p). D=64 FP16 mode: +1-2% (v18); at D=128 it lost 0.5-1%.
enum class RowSum { kChained, kTree, kTensorCore };

template <int kHeadDim, PVMode kMode, int kSlicesPerWarp = 1>
struct MmaAttentionConfig {
  static constexpr int kDp = kHeadDim;
  static constexpr PVMode kPVMode = kMode;
  static constexpr bool kFp8 = is_fp8(kMode);
  // 128 query rows = one per-block Q group, so every Q granularity is reduced inside one CTA.
  static constexpr int kBlockQ = kQBlockRows;
  // Each warp owns kSlices m16 row slices. A slice is exactly a per-warp Q group and a thread's
  // rows {g, g+8} of it a per-thread group, so a thread needs one Q scale per slice. The kernel
  // takes one or two slices (two share every K/V fragment a warp reads from shared memory). One
  // slice, i.e. 8 warps of 16 rows and 16 warps per SM at 128 registers, is faster on the H200
  // (NOTEBOOK_portable v10, kernel-only, two CTAs per SM both ways): D=128 fp16 P·V 1k 203 -> 240,
  // 4k 295 -> 309, 16k 340 -> 340; D=64 16k 268 -> 292; causal 1k +23-30%. More warps hide the
  // ldmatrix -> MMA -> exp chain better than fewer fragment reads save.
  // (Re-measured with v14's padded rows and epilogue: two slices at 255 registers lose at every
  // N, e.g. D=128 fp16 P·V 1k 284 vs 315, 16k 383 vs 406.) With the TMA loads (v20), which leave
  // shared-memory reads the limit, two slices at D=128 in the FP16 mode win from 4k keys non-causal
  // and 8k causal (+5-6% at 16k) and lose below (-8% at 1k causal): the launch picks by length
  // (attention_launch.cuh).
  static constexpr int kSlices = kSlicesPerWarp;
  static constexpr int kWarps = kBlockQ / (kQWarpRows * kSlices);
  static constexpr int kThreads = kWarps * 32;
  // Keys per step of the main loop, which is one online-softmax block. 64 is the K quantization
  // block and the unit in which P is rounded for FP8 P·V. D=64 in the fp32-accumulating FP16 mode
  // steps over 128 keys (two K quantization blocks): half the per-step row-max, rescale, hand-off
  // and load work per key, with S still fitting next to O in 128 registers.
  static constexpr int kBlockK = mma_softmax_block_keys(kDp, kMode);
  static constexpr int kKGroupsPerBlock = kBlockK / kKBlockTokens;  // K quantization blocks per step
  // Running-max slack of the online softmax (log2 units, 0: raise it whenever it grows). At D=64 a
  // slack of 8 skips most rescales: +1.4-3.3% (NOTEBOOK_portable v18); at D=128, with the row-limit
  // mask below, +1-2% at 1k (v19). (With per-score mask predicates D=128 lost 1-4% causal: the
  // masked body grew 486 -> 790 instructions.)
  static constexpr float kRescaleThreshold = mma_rescale_threshold(kDp, kMode);
  // Masked blocks test one int32 key limit per row (true) or a 64-bit predicate per score. The limits
  // measured +1-2% at D=128 1k in every mode, but -1% to -5% at D=64, where they add spills (v19).
  // The D=64 kernel with TMA loads (sm_90+, fewer registers live) is the other way round: with
  // per-score predicates ptxas packs the masks into bit fields (~700 LOP3 per masked block), the limits
  // gain 4-15% causal and lose nothing (v20).
  static constexpr bool mask_by_row_limit(bool tma_loads) { return kDp == 128 || (kDp == 64 && tma_loads); }
  // Where causal masking starts: at the warp's first row (true) or the tile's. With key blocks
  // shorter than the tile the later warps take the unmasked path for one more block at the
  // diagonal (v19, 1k causal): D=128 +1-3% in every mode (16k +1.3% FP16), D=64 FP8 and
  // fp16-accumulating modes +1-5%. With 128-key blocks (D=64 FP16) no warp gains a block, and the
  // start, no longer CTA-uniform, costs registers: -1% to -10%. D=256 is unmeasured. (Warps also
  // leaving the loop before the blocks none of their rows see lost 1-2% at 16k, v19.)
  static constexpr bool kMaskFromWarpRows = kBlockK < kBlockQ && kDp <= 128;
  // (A tree over 128 keys at D=64 spills ~150 bytes.)
  static constexpr RowSum kRowSum = mma_row_sum_of_rounded_p(kDp, kMode) ? RowSum::kTensorCore
                                    : kDp == 128 && kMode == PVMode::kFp16Fp32 ? RowSum::kTree
                                                                               : RowSum::kChained;
  // Three K/V stages: block j is computed while j+1 and j+2 load.
  // (At D=64, where shared memory would allow it, a fourth stage measured 1-2% slower, v16.)
  static constexpr int kStages = 3;
  // Two CTAs per SM where registers allow (Dp <= 128: 128 registers x 256 threads x 2; D=128
  // spills ~40 bytes per thread, still the faster shape): the second CTA runs out of phase
  // and fills the gaps of the ldmatrix -> MMA -> exp -> MMA chain.
  // (Three CTAs per SM at D=64, i.e. 80 registers, spill ~150 bytes and lose 10-20%, v16.)
  static constexpr int kMinBlocksPerSm = kDp <= 128 ? 2 : 1;

  // Padded rows in the fp32-accumulating FP16 mode: the fewer address registers free room for
  // fragments in flight and the k-outer P·V order (NOTEBOOK_portable v14). The other modes keep the
  // swizzle, which measured faster for them on the H200 (v14).
  static constexpr bool kPadded = kMode == PVMode::kFp16Fp32;
  static constexpr int kVRowBytes = kFp8 ? kBlockK : 2 * kDp;  // e4m3 [Dp][kBlockK] / f16 [kBlockK][Dp]
  static constexpr int kVRows = kFp8 ? kDp : kBlockK;
  static constexpr int kKPitch = smem_pitch<kPadded>(kDp);
  static constexpr int kVPitch = smem_pitch<kPadded>(kVRowBytes);
  static constexpr int kKTileBytes = kBlockK * kKPitch;  // int8 [kBlockK][Dp]
  static constexpr int kVTileBytes = kVRows * kVPitch;
  // INT8 Q lives in shared memory (read back with ldmatrix per block) rather than registers:
  // with two slices per warp the registers are needed for O and S.
  static constexpr int kQTileBytes = kBlockQ * kKPitch;  // int8 [128][Dp]
  static constexpr int kSmemBytes = kStages * (kKTileBytes + kVTileBytes) + kQTileBytes;

  static constexpr int kQKSteps = kDp / 32;     // k32 steps of Q·Kᵀ
  static constexpr int kKeyTiles = kBlockK / 8;  // n8 tiles of S
  static constexpr int kPVSteps = kBlockK / 16;  // k16 steps of 16-bit P·V
  static constexpr int kDimTiles = kDp / 8;      // n8 tiles of O
};

}  // namespace sageattention::kernels
