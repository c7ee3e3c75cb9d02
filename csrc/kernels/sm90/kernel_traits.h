// Tile table of the Hopper kernel and the shared-memory plan that follows from it.
#pragma once

#include <cstdint>

namespace sageattention::sm90 {

// What the P·V wgmma multiplies: e4m3 P with the quantized, transposed V8 (FP8 modes), or P in V's
// 16-bit type with the caller's raw V (FP16 modes; no V pre-pass).
enum class PVOperand { kE4m3, kF16, kBf16 };

// Four e4m3 1.0 values (sign 0, exponent 7 = bias, mantissa 0) in one word.
inline constexpr uint32_t kE4m3OnesX4 = 0x38383838u;

template <int kHeadDim_, PVOperand kPV_ = PVOperand::kE4m3, int kConsumerWarpgroups_ = 2>
struct KernelTraits {
  // Q·K channels (the padded head dim of the call) and the output columns one work tile produces.
  // Head dim 256 splits the output: a work tile computes the whole Q·Kᵀ and softmax and multiplies
  // P by one half (128 columns) of V, so the P·V accumulators stay those of D=128 (two work tiles
  // per query block, one per half; NOTEBOOK_sm90 "Where the targets stand").
  static constexpr int kQKDim = kHeadDim_;
  static constexpr int kHeadDim = kHeadDim_ == 256 ? 128 : kHeadDim_;
  static constexpr int kDSplits = kQKDim / kHeadDim;
  static constexpr PVOperand kPV = kPV_;
  // Consumer warpgroups of 64 query rows each (the wgmma M), sharing every K/V tile. Two (each
  // needs up to ~230 registers at D=128), or three in the FP8 D=64 kernel for long sequences
  // (attention_sm90.cu): that loop is bound by the softmax's issue and latency, not the tensor
  // cores, and with two warps per scheduler a third of the issue slots stay empty (ncu, 16k).
  static constexpr int kConsumerWarpgroups = kConsumerWarpgroups_;
  static_assert(kConsumerWarpgroups == 2 || (kConsumerWarpgroups == 3 && kQKDim == 64),
                "three consumer warpgroups: D=64 only (160 registers each)");
  // Two consumer warpgroups take turns on the tensor cores (ping-pong, NamedBarrier::kMmaTurnWg0);
  // three issue freely (turns measured 3-4% slower there at 16k).
  static constexpr bool kMmaTurns = kConsumerWarpgroups == 2;
  static constexpr int kRowsPerWarpgroup = 64;
  static constexpr int kBlockM = kConsumerWarpgroups * kRowsPerWarpgroup;
  // 128 keys per tile: the S accumulator is 64 regs/thread, the largest that leaves room for the
  // O accumulator, the fresh P·V accumulator (fp32+fp32) and the next tile's S (overlap).
  // It is also one 128-byte row of FP8 V (V is [D, tokens]), the TMA 128B-swizzle width.
  static constexpr int kBlockN = 128;
  // K/V ring depth: 16 KB K + 16 KB (FP8) or 32 KB (16-bit) V per stage at D=128, half that at D=64.
  // Head dim 256 with 16-bit V: 32 KB K + 32 KB V per stage, so two stages fit beside the 32 KB Q8.
#ifdef SAGE_SM90_STAGES
  static constexpr int kStages = SAGE_SM90_STAGES;
#else
  static constexpr int kStages = kQKDim == 64 ? 4 : (kQKDim == 256 && kPV_ != PVOperand::kE4m3 ? 2 : 3);
#endif
  // Consumer warpgroups take turns on the softmax (see NamedBarrier::kSoftmaxTurnWg0). At D=128 a
  // warpgroup's exp stream runs faster with the schedulers to itself (+5% measured, v5); at D=64
  // the tensor work is too short to hide one softmax behind the other's (-8% measured), so both
  // warpgroups' softmaxes overlap there. Both P·V modes: in the FP16-P·V loop at D=128 the turns
  // gave +3% (16k) to +7.5% (1k-4k) non-causal, +1-3% causal (kernel-only, NOTEBOOK_sm90).
  static constexpr bool kSoftmaxTurns = kHeadDim >= 128;
  // Of every 8 exponentials of the FP8 softmax, this many run as a polynomial on the FMA pipe
  // (exp2_on_fma) instead of MUFU.EX2 (16/clk/SM: the tensor rate at D=128, half of it at D=64).
  // Measured (v7, kernel-only, per 8 = 0/1/2/3/4): D=64 1k 216/223/247/268/286, 16k 445/475/481/
  // 474/446 TOPS; D=128 only loses (16k 758/745/690/635/564: issue-bound, not MUFU-bound). With
  // three warpgroups (v11, per 8 = 2/3/4): D=64 16k 583/544/512, 4k 509/482/451.
#ifdef SAGE_SM90_EXP_ON_FMA
  static constexpr int kExpOnFmaPer8 = SAGE_SM90_EXP_ON_FMA;
#else
  static constexpr int kExpOnFmaPer8 = kHeadDim == 64 ? (kConsumerWarpgroups == 3 ? 2 : 3) : 0;
#endif
  // Two-level FP8 accumulation: P·V tiles summed in the 8-bit wgmma's accumulator before each
  // fp32 merge into O (1: every tile; 2: pairs of 128-key tiles, half the merge FFMAs). Measured
  // (v10): pairs +6.5% at D=128 16k, output vs float64 unchanged (rel-L1 0.0361 vs 0.0360), vs the
  // exact-fp32 reference 8e-4 -> 2e-3 rel-L1 on k_bias data (8 k32 groups per 8-bit accumulation).
#ifdef SAGE_SM90_FRESH_TILES
  static constexpr int kFreshTiles = SAGE_SM90_FRESH_TILES;
#else
  static constexpr int kFreshTiles = 2;
#endif
  // Two-level FP8 accumulation with three consumer warpgroups: the fp32 O lives in shared memory
  // between merges (it is touched only there, every kFreshTiles tiles), which leaves the 160
  // registers to S, P and the fresh product (in registers the loop spilled ~30 of them).
  // (Parking O with two warpgroups at D=128 removes the 32-44 spilled bytes but costs 10%: v11.)
  static constexpr bool kParkO = kConsumerWarpgroups == 3 && kPV_ == PVOperand::kE4m3;
  static constexpr int kThreads = 128 * (1 + kConsumerWarpgroups);
  // Register split (setmaxnreg): 24 x 128 + 240 x 256 = 64512 <= 65536 (two consumer
  // warpgroups); 24 x 128 + 160 x 384 = 64512 (three).
  static constexpr int kProducerRegs = 24;
  static constexpr int kConsumerRegs = kConsumerWarpgroups == 2 ? 240 : 160;
  // setmaxnreg only moves registers within the CTA's launch allocation, at most the register file
  // split evenly over kThreads in multiples of 8 (168 x 384 = 64512): asking for more makes the
  // consumers' setmaxnreg.inc wait forever (seen on the H200, session 5, NOTEBOOK_sm90 v14).
  static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * kConsumerWarpgroups <=
                    65536 / kThreads / 8 * 8 * kThreads,
                "register split exceeds the CTA's launch allocation");

  // Swizzle width of K-major int8 tiles (Q8, K): one row of head_dim bytes, at most 128 (the widest
  // TMA swizzle). Head dim 256 stores them as two slabs of 128 columns (kQKSlabs).
  static constexpr int kQKSwizzle = kQKDim < 128 ? kQKDim : 128;  // 64 or 128
  static constexpr int kQKSlabs = kQKDim / kQKSwizzle;
  static constexpr int kQ8SlabBytes = kRowsPerWarpgroup * kQKSwizzle;  // one consumer warpgroup's rows
  static constexpr int kKSlabBytes = kBlockN * kQKSwizzle;
  // Byte offset of Q·K k-step ks (32 channels) in a slabbed tile whose slabs are slab_bytes apart.
  static constexpr int qk_step_offset(int ks, int slab_bytes) {
    return ks / (kQKSwizzle / 32) * slab_bytes + ks % (kQKSwizzle / 32) * 32;
  }
  static constexpr int kVSwizzle = 128;         // kBlockN fp8 bytes per row of V^T

  static constexpr int kQ8Bytes = kBlockM * kQKDim;
  // Raw Q prefetched by TMA (dense inputs) up to head dim 128. At 256 the 64 KB tile would leave
  // room for two K/V stages only, so the consumers read Q from global memory as for varlen inputs
  // and the ring keeps three stages.
  static constexpr bool kQViaTma = kQKDim <= 128;
  static constexpr int kQRawBytes = kQViaTma ? kBlockM * kQKDim * 2 : 16;  // fp16/bf16 tile loaded by TMA
  static constexpr int kKTileBytes = kBlockN * kQKDim;
  static constexpr int kVElemBytes = kPV == PVOperand::kE4m3 ? 1 : 2;
  static constexpr int kVTileBytes = kHeadDim * kBlockN * kVElemBytes;  // what TMA lands per stage
  // FP8 modes: each V^T stage is followed by 8 rows of e4m3 ones, so the P·V wgmma (N = D + 8)
  // also returns the row sums of the e4m3 P it multiplied: the softmax needs no FADD per score.
  static constexpr int kPVSumColumns = kPV == PVOperand::kE4m3 ? 8 : 0;
  static constexpr int kVStageBytes = kVTileBytes + kPVSumColumns * kBlockN * kVElemBytes;
  // 16-bit V is MN-major ([tokens, D], D contiguous): TMA lands it in slabs of 64 columns, one
  // 128-byte swizzled row per token, the widest row the 128B swizzle allows.
  static constexpr int kVSlabColumns = 64;
  static constexpr int kVSlabBytes = kBlockN * 128;

  // FP8 D=128: the output tile of each consumer warpgroup is staged in shared memory (128B-swizzled
  // boxes of 64 rows x 64 columns) and written by TMA stores: 4-byte shared stores instead of 4-byte
  // global stores in the epilogue, and the store completes while the warpgroup starts its next tile.
  // Measured (v12, kernel-only): causal +4-6% at 1k-8k, non-causal 1k +1%, 16k unchanged; at D=64
  // -1 to -3% (a short epilogue, where the extra barrier costs more than the stores). The 16-bit-V
  // kernel at D=128 has no room for it (V stages twice as large). Varlen calls store directly.
  static constexpr bool kStageO = kQKDim == 128 && kPV == PVOperand::kE4m3;
  static constexpr int kOBoxColumns = 64;  // 128 bytes of fp16/bf16, the 128B swizzle width
  static constexpr int kOStageBytes = kRowsPerWarpgroup * kHeadDim * 2;

  static constexpr int kSAccRegs = kBlockN / 2;   // m64 x n128 fp32/s32 accumulator per thread
  static constexpr int kOAccRegs = kHeadDim / 2;  // m64 x nD
  static constexpr int kPVAccRegs = (kHeadDim + kPVSumColumns) / 2;  // m64 x n(D + sum columns)
};

// Shared memory: swizzled tiles must sit on 1024-byte boundaries (the 128B swizzle period).
template <class Traits>
struct alignas(1024) SharedStorage {
  alignas(1024) int8_t q8[Traits::kQ8Bytes];
  // Raw Q of the next work tile, prefetched by the producer while the current one runs.
  alignas(1024) uint8_t q_raw[Traits::kQRawBytes];
  alignas(1024) int8_t k[Traits::kStages][Traits::kKTileBytes];
  alignas(1024) uint8_t v[Traits::kStages][Traits::kVStageBytes];
  uint64_t k_full[Traits::kStages];
  uint64_t v_full[Traits::kStages];
  uint64_t kv_empty[Traits::kStages];
  uint64_t q_full;
  uint64_t q_empty;
  // V scale / mean of the current tile, staged per consumer warpgroup, double-buffered by tile parity.
  float v_scale[2][Traits::kConsumerWarpgroups][Traits::kHeadDim];
  float v_mean[2][Traits::kConsumerWarpgroups][Traits::kHeadDim];
  float block_amax[2 * Traits::kConsumerWarpgroups * 4];  // per-block Q groups: one slot per consumer warp
  // Parked O (Traits::kParkO): per consumer warpgroup, float4 k of thread t at [k][t].
  float4 o_park[Traits::kParkO ? Traits::kConsumerWarpgroups : 1][Traits::kParkO ? Traits::kOAccRegs / 4 : 1][128];
  // Staged output tiles (Traits::kStageO), per consumer warpgroup: kHeadDim / 64 boxes of 64 x 64.
  alignas(1024) uint8_t o_stage[Traits::kStageO ? Traits::kConsumerWarpgroups : 1]
                               [Traits::kStageO ? Traits::kOStageBytes : 16];
  // 1.0f, read after each softmax-turn barrier: the score scale is multiplied by it, so the exp2
  // stream depends on a load the compiler cannot hoist above the barrier.
  float softmax_turn_token;
};

}  // namespace sageattention::sm90
