// Main loop of the mma.sync attention (portable path). One CTA = 128 query rows of one
// (sequence, query head), split over warps as attention_config.cuh says; keys in blocks of 64 or
// 128 (one online-softmax step, attention_config.cuh) through a 3-stage ring, filled by TMA (sm_90+,
// dense FP16 mode, KVTmaLoader) or per-thread cp.async (KVLoader). S = INT8
// Q·Kᵀ (m16n8k32.s8), online softmax in base 2, P·V in FP8 (m16n8k32.e4m3, sm89+; emulated
// through f16 on sm_90) or FP16 (m16n8k16). Q prologue: attention_q_tile.cuh; epilogue:
// attention_epilogue.cuh; launch: attention_launch.cuh.
#pragma once

#include <cuda.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kernels/common/causal_order.h"
#include "kernels/common/dependent_launch.h"
#include "kernels/common/ptx.cuh"
#include "kernels/common/sequence.cuh"
#include "kernels/sm80/attention_config.cuh"
#include "kernels/sm80/attention_epilogue.cuh"
#include "kernels/sm80/attention_q_tile.cuh"
#include "sageattention/params.h"
#include "sageattention/quant_layout.h"

namespace sageattention::kernels {

// sm_90+: dependent launch (griddepcontrol) and TMA copies.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
inline constexpr bool kDependentLaunch = true;
inline constexpr bool kArchHasTma = true;
#else
inline constexpr bool kDependentLaunch = false;
inline constexpr bool kArchHasTma = false;
#endif

// Where the K/V of one (sequence, kv head) live and how many key blocks a tile visits.
struct KeyRange {
  SequenceSlot seq;     // K side (pad_start, quant_batch) and the raw V rows for the FP16 modes
  int64_t head_index;   // quant_batch * heads_kv + kv head
  int blocks;           // key blocks to visit
  int first_masked;     // blocks >= this need the mask for some row from key_range's first_row on
};

template <int kBlockK>
__device__ __forceinline__ KeyRange key_range(const AttentionParams& p, int b, int tile, int q_len, int kv_head,
                                              int first_row) {
  KeyRange r;
  r.seq = locate_sequence(p.seq_k, b, p.v.batch_stride, p.v.token_stride);
  r.head_index = int64_t{r.seq.quant_batch} * p.heads_kv + kv_head;
  const int lk = r.seq.len;
  int blocks = static_cast<int>(ceil_div(lk, kBlockK));
  int first_masked = lk / kBlockK;  // a partial last block needs the length mask
  if (p.causal) {
    const int64_t offset = int64_t{lk} - q_len;  // bottom-right alignment
    const int64_t last_row = min(int64_t{tile} * kQBlockRows + kQBlockRows - 1, int64_t{q_len} - 1);
    const int64_t last_key = last_row + offset;
    blocks = last_key < 0 ? 0 : static_cast<int>(min(int64_t{blocks}, last_key / kBlockK + 1));
    // Block j is fully visible to first_row (and so to the rows after it) when
    // kBlockK (j + 1) - 1 <= first_row + offset.
    const int64_t first_key_limit = int64_t{first_row} + offset;
    const int64_t unmasked = first_key_limit < kBlockK - 1 ? 0 : (first_key_limit + 1) / kBlockK;
    first_masked = static_cast<int>(min(int64_t{first_masked}, unmasked));
  }
  r.blocks = blocks;
  r.first_masked = first_masked;
  return r;
}

// Per-thread cp.async plan of one K/V block, computed once per CTA: every chunk a thread copies
// sits at a fixed offset from the block's start (rows advance in steps of 8, so the swizzle key
// is the same for all of them), and the main loop only advances base pointers. (A split into
// CTA-uniform block bases plus per-thread offsets halved the per-block instructions but measured
// 1-3% slower in the fp16+fp32acc mode: NOTEBOOK_portable v14.)
template <class Cfg>
struct KVLoader {
  static constexpr int kDp = Cfg::kDp;
  static constexpr int kKPerThread = Cfg::kBlockK * kDp / 16 / Cfg::kThreads;
  static constexpr int kVPerThread = Cfg::kVRows * Cfg::kVRowBytes / 16 / Cfg::kThreads;
  // Rows between a thread's chunks, and the shared-memory bytes they span.
  static constexpr int kKRowsPerStep = Cfg::kThreads / (kDp / 16);
  static constexpr int kVRowsPerStep = Cfg::kThreads / (Cfg::kVRowBytes / 16);
  static constexpr int kKStep = kKRowsPerStep * Cfg::kKPitch;
  static constexpr int kVStep = kVRowsPerStep * Cfg::kVPitch;
  static_assert(kKPerThread >= 1 && kVPerThread >= 1, "every thread copies whole chunks");

  const int8_t* k_src;     // chunk 0 of this thread in block 0
  const uint8_t* v8_src;   // FP8: chunk 0 of this thread in block 0
  const char* v_src;       // FP16: row 0 of this thread's chunk column in block 0 (raw V)
  int64_t v_row_stride;    // FP8: bytes between channel rows; FP16: bytes between tokens
  uint32_t k_smem, v_smem;  // swizzled offsets of chunk 0 inside a stage
  int v_row;               // FP16: key row (within the block) of chunk 0
  bool v_live_col;         // FP16: this thread's chunk column is inside head_dim

  __device__ __forceinline__ KVLoader(const AttentionParams& p, const KeyRange& kr, int kv_head) {
    const int t = threadIdx.x;
    const int k_row = t / (kDp / 16), k_chunk = t % (kDp / 16);
    k_smem = tile_offset<Cfg::kPadded>(k_row, k_chunk, kDp);
    k_src = p.k8 + (kr.head_index * p.seq_k.padded_tokens + kr.seq.pad_start) * kDp + k_row * kDp + k_chunk * 16;
    if constexpr (Cfg::kFp8) {
      const int row = t / 4, chunk = t % 4;  // channel row, 16-slot chunk
      v_smem = tile_offset<Cfg::kPadded>(row, chunk, Cfg::kVRowBytes);
      v_row_stride = p.seq_k.padded_tokens;
      v8_src = p.v8 + (kr.head_index * kDp + row) * p.seq_k.padded_tokens + kr.seq.pad_start + chunk * 16;
    } else {
      const int row = t / (kDp / 8), chunk = t % (kDp / 8);
      v_smem = tile_offset<Cfg::kPadded>(row, chunk, Cfg::kVRowBytes);
      v_row = row;
      v_live_col = chunk * 8 < p.head_dim;
      v_row_stride = 2 * p.v.token_stride;
      v_src = static_cast<const char*>(p.v.ptr) +
              2 * (kr.seq.raw_offset + int64_t{kv_head} * p.v.head_stride + chunk * 8);
    }
  }

  __device__ __forceinline__ void load(int block, uint32_t k_stage, uint32_t v_stage, int len) const {
    const int8_t* ks = k_src + int64_t{block} * Cfg::kBlockK * kDp;
#pragma unroll
    for (int i = 0; i < kKPerThread; ++i) cp_async_16(k_stage + k_smem + i * kKStep, ks + i * kKRowsPerStep * kDp, 16);
    if constexpr (Cfg::kFp8) {
      const uint8_t* vs = v8_src + int64_t{block} * Cfg::kBlockK;
#pragma unroll
      for (int i = 0; i < kVPerThread; ++i)
        cp_async_16(v_stage + v_smem + i * kVStep, vs + i * kVRowsPerStep * v_row_stride, 16);
    } else {
      // Keys past the length and channels past D are zero-filled (0 * NaN would poison O).
      const int key0 = block * Cfg::kBlockK + v_row;
#pragma unroll
      for (int i = 0; i < kVPerThread; ++i) {
        const int key = key0 + i * kVRowsPerStep;
        const bool live = v_live_col && key < len;
        cp_async_16(v_stage + v_smem + i * kVStep, live ? v_src + int64_t{key} * v_row_stride : v_src, live ? 16 : 0);
      }
    }
  }
};

// Tensor maps of the TMA loads (attention_launch.cuh encodes them): K codes [Bk·heads_kv, padded
// tokens, Dp] and raw V [batch, tokens, heads_kv, head_dim], each box one key block in the padded
// shared-memory rows (kPadded).
struct KVTensorMaps {
  CUtensorMap k;
  CUtensorMap v;
};

// sm_90+ TMA loads of a key block (the fp32-accumulating FP16 mode at Dp <= 128, dense inputs): one
// thread issues two boxes whose bytes complete the stage's full barrier, in place of every thread's
// 16-byte cp.async with per-chunk addresses. A box row spans the whole padded shared row; the columns
// past head_dim (and past Dp) and the keys past the tensor lie outside it and arrive as zeros, which
// V needs (0 · NaN would poison O). Varlen inputs keep KVLoader: the rows after a sequence's last key
// belong to the next sequence, not outside the tensor.
template <class Cfg>
struct KVTmaLoader {
  static_assert(Cfg::kPadded && Cfg::kKPitch <= 256 && Cfg::kVPitch / 2 <= 256 && Cfg::kBlockK <= 256,
                "a box row is one padded shared row (at most 256 elements)");
  static_assert(Cfg::kKTileBytes % 128 == 0 && Cfg::kVTileBytes % 128 == 0, "TMA destinations are 128-byte aligned");
  const KVTensorMaps* maps;
  int k_token0;  // key 0 on K's padded token axis
  int k_slice;   // (quant batch, kv head) slice of K
  int kv_head, batch;

  __device__ __forceinline__ KVTmaLoader(const KVTensorMaps& m, const KeyRange& kr, int kv_head_, int b)
      : maps(&m),
        k_token0(static_cast<int>(kr.seq.pad_start)),
        k_slice(static_cast<int>(kr.head_index)),
        kv_head(kv_head_),
        batch(b) {}

  // One thread. `bar`: the stage's full barrier (one arrival per phase).
  __device__ __forceinline__ void load(int block, uint32_t k_stage, uint32_t v_stage, uint32_t bar) const {
    mbarrier_arrive_expect_tx(bar, Cfg::kKTileBytes + Cfg::kVTileBytes);
    tma_load_3d(k_stage, &maps->k, bar, 0, k_token0 + block * Cfg::kBlockK, k_slice);
    tma_load_4d(v_stage, &maps->v, bar, 0, block * Cfg::kBlockK, kv_head, batch);
  }
};

// bf16 V -> fp16 in shared memory, saturating to +-65504 (the fp16-accumulating mode, whose MMA has
// no bf16 form). Each thread converts the chunks it copied itself (loader.v_smem + i * kVStep), so
// its own cp.async wait is enough before the conversion and the block's one barrier publishes the
// result: no second barrier per block.
template <class Cfg>
__device__ __forceinline__ void convert_own_v_bf16_to_f16(uint8_t* v_tile, uint32_t v_smem) {
  constexpr int kPerThread = KVLoader<Cfg>::kVPerThread;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    uint4* ptr = reinterpret_cast<uint4*>(v_tile + v_smem + k * KVLoader<Cfg>::kVStep);
    uint4 w = *ptr;
    uint32_t* words = reinterpret_cast<uint32_t*>(&w);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float lo = fminf(fmaxf(__uint_as_float(words[j] << 16), -kFp16Max), kFp16Max);
      const float hi = fminf(fmaxf(__uint_as_float(words[j] & 0xFFFF0000u), -kFp16Max), kFp16Max);
      words[j] = pack_half2(lo, hi);
    }
    *ptr = w;
  }
}

// Running state of one warp's rows (this thread: rows g and g+8 of each slice).
template <class Cfg>
struct RowState {
  float o[Cfg::kSlices][Cfg::kDimTiles][4];
  float row_max[Cfg::kSlices][2];  // log2 units; kMaskedScore until a visible key is seen
  float row_sum[Cfg::kSlices][2];  // this thread's partial sum of P per row (quad lanes add up)
  // RowSum::kTensorCore: the row sums as an m16n8 accumulator (every column holds its row's sum).
  float row_sum_acc[Cfg::kSlices][4];
};

template <class Cfg>
using ScoreTile = int[Cfg::kKeyTiles][4];

// S = Q8 · K8ᵀ of one 16-row slice against one 64-key block (int32, m16n8k32.s8). q_rows: the
// slice's INT8 Q rows in shared memory (swizzled like K). Slices run one after the other so that
// only one slice's S is live in registers (K fragments are re-read, V fragments are shared).
template <class Cfg>
__device__ __forceinline__ void qk_scores(uint32_t q_rows, uint32_t k_tile, ScoreTile<Cfg>& acc) {
  constexpr int kDp = Cfg::kDp;
  const int lane = threadIdx.x % 32, m = lane / 8;
#pragma unroll
  for (int j = 0; j < Cfg::kKeyTiles; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;
  // K matrices: (keys 8j.., ch 32s..+15), (8j.., 32s+16..), (8j+8.., 32s..), (8j+8.., 32s+16..).
  const int key = 8 * (m / 2) + lane % 8;
  // Q matrices (A operand): (rows 0-7, ch 32s..), (rows 8-15, 32s..), (0-7, 32s+16..), (8-15, 32s+16..).
  const int q_row = 8 * (m % 2) + lane % 8;
#pragma unroll
  for (int s = 0; s < Cfg::kQKSteps; ++s) {
    uint32_t qa[4];
    ldmatrix_x4(qa, q_rows + tile_offset<Cfg::kPadded>(q_row, 2 * s + m / 2, kDp));
    const uint32_t addr = k_tile + tile_offset<Cfg::kPadded>(key, 2 * s + m % 2, kDp);
#pragma unroll
    for (int j = 0; j < Cfg::kKeyTiles; j += 2) {
      uint32_t kb[4];
      ldmatrix_x4(kb, addr + j * 8 * Cfg::kKPitch);
      mma_s8_m16n8k32(acc[j], qa, kb[0], kb[1]);
      mma_s8_m16n8k32(acc[j + 1], qa, kb[2], kb[3]);
    }
  }
}

template <class Cfg>
using PFragments = uint32_t[Cfg::kPVSteps][4];

// Sets the scores this thread's rows must not see (keys past the length, or right of the causal
// diagonal) to INT_MIN, below every real score: |Q8·K8| <= 127²·256. kRowLimit: one key limit per
// row, else a predicate per score (MmaAttentionConfig::mask_by_row_limit).
template <class Cfg, bool kRowLimit>
__device__ __forceinline__ void mask_scores(const AttentionParams& p, ScoreTile<Cfg>& acc, int sl, int block,
                                            int row0, int lk, int64_t causal_offset) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  if constexpr (kRowLimit) {
    // Row r sees the block's keys 0 .. last[r]: one 64-bit bound per row, an int32 compare per score.
    int last[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t block_start = int64_t{block} * Cfg::kBlockK;
      int64_t bound = lk - 1 - block_start;
      if (p.causal) bound = min(bound, row0 + 16 * sl + g + 8 * r + causal_offset - block_start);
      last[r] = static_cast<int>(max(int64_t{-1}, min(bound, int64_t{Cfg::kBlockK})));
    }
#pragma unroll
    for (int j = 0; j < Cfg::kKeyTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (8 * j + 2 * c + (e % 2) > last[e / 2]) acc[j][e] = INT_MIN;
    }
  } else {
#pragma unroll
    for (int j = 0; j < Cfg::kKeyTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = block * Cfg::kBlockK + 8 * j + 2 * c + (e % 2);
        const int64_t row = row0 + 16 * sl + g + 8 * (e / 2);
        if (!(key < lk && (!p.causal || key <= row + causal_offset))) acc[j][e] = INT_MIN;
      }
    }
  }
}

// Online softmax of slice `sl` for one key block; P goes out as MMA A fragments (16-bit modes:
// bf16 when kBf16, else fp16). score_scale[h]: q_scale·k_scale of the block's K quantization block
// h. kMasked: the block holds keys past the length or right of the causal diagonal for some row;
// kRowLimit: the form of its mask.
template <class Cfg, bool kBf16, bool kMasked, bool kRowLimit>
__device__ __forceinline__ void online_softmax(const AttentionParams& p, RowState<Cfg>& st, int sl,
                                               ScoreTile<Cfg>& acc, const float (&score_scale)[Cfg::kKGroupsPerBlock],
                                               PFragments<Cfg>& pa, int block, int row0, int lk,
                                               int64_t causal_offset) {
  constexpr float kPOffset = Cfg::kFp8 ? kLog2Fp8Max : 0.0f;  // FP8: P spans [0, 448]
  {
    // All of a thread's scores of one K quantization block share one scale q_scale·k_scale >= 0,
    // so the row max is taken on the int32 dot products and scaled once per K block.
    constexpr int kTilesPerGroup = Cfg::kKeyTiles / Cfg::kKGroupsPerBlock;
    if constexpr (kMasked) mask_scores<Cfg, kRowLimit>(p, acc, sl, block, row0, lk, causal_offset);
    int imax[Cfg::kKGroupsPerBlock][2];
#pragma unroll
    for (int h = 0; h < Cfg::kKGroupsPerBlock; ++h) imax[h][0] = imax[h][1] = INT_MIN;
#pragma unroll
    for (int j = 0; j < Cfg::kKeyTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) imax[j / kTilesPerGroup][e / 2] = max(imax[j / kTilesPerGroup][e / 2], acc[j][e]);
    }
    float block_max[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float bmax = imax[0][r] == INT_MIN ? kMaskedScore : static_cast<float>(imax[0][r]) * score_scale[0];
#pragma unroll
      for (int h = 1; h < Cfg::kKGroupsPerBlock; ++h)
        if (imax[h][r] != INT_MIN) bmax = fmaxf(bmax, static_cast<float>(imax[h][r]) * score_scale[h]);
      bmax = fmaxf(bmax, __shfl_xor_sync(0xffffffffu, bmax, 1));
      block_max[r] = fmaxf(bmax, __shfl_xor_sync(0xffffffffu, bmax, 2));
    }
    // O (and the tensor-core row sums) times each row's alpha.
    const auto rescale = [&](const float (&alpha)[2]) {
#pragma unroll
      for (int n = 0; n < Cfg::kDimTiles; ++n) {
        st.o[sl][n][0] *= alpha[0];
        st.o[sl][n][1] *= alpha[0];
        st.o[sl][n][2] *= alpha[1];
        st.o[sl][n][3] *= alpha[1];
      }
      if constexpr (Cfg::kRowSum == RowSum::kTensorCore) {
#pragma unroll
        for (int e = 0; e < 4; ++e) st.row_sum_acc[sl][e] *= alpha[e / 2];
      }
    };
    // A row with no visible key yet keeps kMaskedScore as its max; shifting by 0 keeps its P at 0.
    const auto usable = [](float max) { return max == kMaskedScore ? 0.0f : max; };
    float shift[2];
    if constexpr (Cfg::kRescaleThreshold > 0.0f) {
      // The running max moves only when a block's max exceeds it by more than the threshold, so P
      // stays below 2^threshold (AttentionParams::rescale_threshold): most blocks skip the rescale
      // and its exponentials.
      const bool raise[2] = {!(block_max[0] <= st.row_max[sl][0] + Cfg::kRescaleThreshold),
                             !(block_max[1] <= st.row_max[sl][1] + Cfg::kRescaleThreshold)};
      if (__any_sync(0xffffffffu, raise[0] || raise[1])) {
        float alpha[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          alpha[r] = raise[r] ? fast_exp2(st.row_max[sl][r] - usable(block_max[r])) : 1.0f;
          if (raise[r]) st.row_max[sl][r] = block_max[r];
          if constexpr (Cfg::kRowSum != RowSum::kTensorCore) st.row_sum[sl][r] *= alpha[r];
        }
        rescale(alpha);
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) shift[r] = usable(st.row_max[sl][r]) - kPOffset;
    } else {
      float alpha[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float new_max = fmaxf(st.row_max[sl][r], block_max[r]);
        alpha[r] = fast_exp2(st.row_max[sl][r] - usable(new_max));
        st.row_max[sl][r] = new_max;
        if constexpr (Cfg::kRowSum != RowSum::kTensorCore) st.row_sum[sl][r] *= alpha[r];
        shift[r] = usable(new_max) - kPOffset;
      }
      // O only needs rescaling when some row of the warp saw a new max (alpha == 1 is exact, so
      // skipping is bit-identical).
      if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale(alpha);
    }
    float pr[Cfg::kKeyTiles][4];
#pragma unroll
    for (int j = 0; j < Cfg::kKeyTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        // P = exp2(S - m): one FFMA on the int32 dot product, then ex2.
        float x = fast_exp2(__fmaf_rn(static_cast<float>(acc[j][e]), score_scale[j / kTilesPerGroup], -shift[e / 2]));
        if constexpr (kMasked) x = acc[j][e] == INT_MIN ? 0.0f : x;
        pr[j][e] = x;
        if constexpr (Cfg::kRowSum == RowSum::kChained) st.row_sum[sl][e / 2] += x;
      }
    }
    if constexpr (Cfg::kRowSum == RowSum::kTree) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float t[Cfg::kKeyTiles];
#pragma unroll
        for (int j = 0; j < Cfg::kKeyTiles; ++j) t[j] = pr[j][2 * r] + pr[j][2 * r + 1];
#pragma unroll
        for (int w = Cfg::kKeyTiles / 2; w >= 1; w /= 2)
#pragma unroll
          for (int j = 0; j < w; ++j) t[j] += t[j + w];
        st.row_sum[sl][r] += t[0];
      }
    }
    if constexpr (Cfg::kFp8) {
      // With V's token permutation, accumulator registers are already in A-operand order
      // (pa[k] for k32 steps k = 0, 1).
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        pa[k][0] = pack_e4m3x4(pr[4 * k][0], pr[4 * k][1], pr[4 * k + 1][0], pr[4 * k + 1][1]);
        pa[k][1] = pack_e4m3x4(pr[4 * k][2], pr[4 * k][3], pr[4 * k + 1][2], pr[4 * k + 1][3]);
        pa[k][2] = pack_e4m3x4(pr[4 * k + 2][0], pr[4 * k + 2][1], pr[4 * k + 3][0], pr[4 * k + 3][1]);
        pa[k][3] = pack_e4m3x4(pr[4 * k + 2][2], pr[4 * k + 2][3], pr[4 * k + 3][2], pr[4 * k + 3][3]);
      }
    } else {
#pragma unroll
      for (int k = 0; k < Cfg::kPVSteps; ++k) {  // k16 steps
        auto pack = [](float x0, float x1) { return kBf16 ? pack_bf162(x0, x1) : pack_half2(x0, x1); };
        pa[k][0] = pack(pr[2 * k][0], pr[2 * k][1]);
        pa[k][1] = pack(pr[2 * k][2], pr[2 * k][3]);
        pa[k][2] = pack(pr[2 * k + 1][0], pr[2 * k + 1][1]);
        pa[k][3] = pack(pr[2 * k + 1][2], pr[2 * k + 1][3]);
      }
    }
  }
}

// o (an m16n8 fp32 accumulator) += an fp16 one of the same layout (half2 registers: rows g, g+8).
__device__ __forceinline__ void add_f16_accumulator(float (&o)[4], const uint32_t (&h)[2]) {
  const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&h[0]));
  const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&h[1]));
  o[0] += lo.x;
  o[1] += lo.y;
  o[2] += hi.x;
  o[3] += hi.y;
}

// O += P · V for one key block; each V fragment feeds every slice. kBf16: P and V in bf16.
template <class Cfg, bool kBf16>
__device__ __forceinline__ void accumulate_pv(RowState<Cfg>& st, const PFragments<Cfg> (&pa)[Cfg::kSlices],
                                              uint32_t v_tile) {
  const int lane = threadIdx.x % 32;
  if constexpr (Cfg::kFp8) {
    // Matrices: channels 8n.. x slots 0-15, 16-31, 32-47, 48-63.
    const uint32_t addr = v_tile + tile_offset<Cfg::kPadded>(lane % 8, lane / 8, Cfg::kVRowBytes);
#pragma unroll
    for (int n = 0; n < Cfg::kDimTiles; ++n) {
      uint32_t vb[4];
      ldmatrix_x4(vb, addr + n * 8 * Cfg::kVPitch);
#pragma unroll
      for (int sl = 0; sl < Cfg::kSlices; ++sl) {
        const uint32_t(&a0)[4] = pa[sl][0];
        const uint32_t(&a1)[4] = pa[sl][1];
        if constexpr (Cfg::kPVMode == PVMode::kFp8Fp32Fp32) {
          // Fresh accumulator per key block, added in fp32: the e4m3 MMA does not accumulate in
          // full fp32, so long rows would lose bits.
          float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          mma_e4m3_m16n8k32(t, a0, vb[0], vb[1]);
          mma_e4m3_m16n8k32(t, a1, vb[2], vb[3]);
#pragma unroll
          for (int e = 0; e < 4; ++e) st.o[sl][n][e] += t[e];
        } else if constexpr (Cfg::kPVMode == PVMode::kFp8Fp16Fp32) {
          // The same with an fp16 block accumulator (the fast e4m3 MMA on sm89 / sm120): V codes
          // within +-2.25 keep a block's sum below 64 x 448 x 2.25 = 64512 (kFp8VMaxFp16Accum).
          uint32_t t[2] = {0u, 0u};
          mma_e4m3_m16n8k32_f16acc(t, a0, vb[0], vb[1]);
          mma_e4m3_m16n8k32_f16acc(t, a1, vb[2], vb[3]);
          add_f16_accumulator(st.o[sl][n], t);
        } else {
          mma_e4m3_m16n8k32(st.o[sl][n], a0, vb[0], vb[1]);
          mma_e4m3_m16n8k32(st.o[sl][n], a1, vb[2], vb[3]);
        }
      }
    }
  } else {
    // Matrices (transposed): keys 16k.. / 16k+8.. x channels 8n.., then 8n+8...
    const int m = lane / 8;
    const int vkey = 8 * (m % 2) + lane % 8;
    if constexpr (Cfg::kPVMode == PVMode::kFp16Fp32) {
      // k outer: consecutive MMAs accumulate into different O tiles, so none waits for the last.
      const uint32_t addr = v_tile + tile_offset<Cfg::kPadded>(vkey, m / 2, Cfg::kVRowBytes);
#pragma unroll
      for (int k = 0; k < Cfg::kPVSteps; ++k) {
#pragma unroll
        for (int n = 0; n < Cfg::kDimTiles; n += 2) {
          uint32_t vb[4];
          ldmatrix_x4_trans(vb, addr + tile_offset<Cfg::kPadded>(16 * k, n, Cfg::kVRowBytes));
#pragma unroll
          for (int sl = 0; sl < Cfg::kSlices; ++sl) {
            mma_16bit_m16n8k16<kBf16>(st.o[sl][n], pa[sl][k], vb[0], vb[1]);
            mma_16bit_m16n8k16<kBf16>(st.o[sl][n + 1], pa[sl][k], vb[2], vb[3]);
          }
        }
        if constexpr (Cfg::kRowSum == RowSum::kTensorCore) {
          constexpr uint32_t kOnes = kBf16 ? 0x3F803F80u : 0x3C003C00u;  // 1.0 pairs, bf16 / fp16
#pragma unroll
          for (int sl = 0; sl < Cfg::kSlices; ++sl) mma_16bit_m16n8k16<kBf16>(st.row_sum_acc[sl], pa[sl][k], kOnes, kOnes);
        }
      }
    } else {
      // fp16-accumulating mode: n outer, each O tile pair's fp16 partial over the block's 64 keys
      // is added to the fp32 O once.
#pragma unroll
      for (int n = 0; n < Cfg::kDimTiles; n += 2) {
        const uint32_t addr = v_tile + tile_offset<Cfg::kPadded>(vkey, n + m / 2, Cfg::kVRowBytes);
        uint32_t th[Cfg::kSlices][2][2] = {};
#pragma unroll
        for (int k = 0; k < Cfg::kPVSteps; ++k) {
          uint32_t vb[4];
          ldmatrix_x4_trans(vb, addr + k * 16 * Cfg::kVPitch);
#pragma unroll
          for (int sl = 0; sl < Cfg::kSlices; ++sl) {
            mma_f16_m16n8k16_f16acc(th[sl][0], pa[sl][k], vb[0], vb[1]);
            mma_f16_m16n8k16_f16acc(th[sl][1], pa[sl][k], vb[2], vb[3]);
          }
        }
#pragma unroll
        for (int sl = 0; sl < Cfg::kSlices; ++sl) {
#pragma unroll
          for (int i = 0; i < 2; ++i) add_f16_accumulator(st.o[sl][n + i], th[sl][i]);
        }
      }
    }
  }
}

// kBf16: the fp32-accumulating FP16 mode with bf16 V multiplies V as it is with P rounded to bf16
// (as the Hopper kernel does; the CPU reference emulates it through pv_operand_dtype). The
// fp16-accumulating mode converts bf16 V to fp16 in shared memory every block.
template <class Cfg, bool kBf16, bool kTma>
__device__ __forceinline__ void attention_mma_tile(const AttentionParams& p, const KVTensorMaps& maps,
                                                   int causal_group) {
  constexpr int kDp = Cfg::kDp, kStages = Cfg::kStages, kSlices = Cfg::kSlices;
  extern __shared__ __align__(128) uint8_t smem[];
  const uint32_t k_tiles = smem_addr(smem);
  const uint32_t v_tiles = k_tiles + kStages * Cfg::kKTileBytes;
  uint8_t* v_tiles_ptr = smem + kStages * Cfg::kKTileBytes;
  __shared__ float amax_smem[Cfg::kWarps];

  // Grid (query tiles, heads, sequences). Causal tiles differ in length: the CTA index is mapped to
  // them longest first, in groups of heads (causal_order.h).
  int tile = blockIdx.x, head = blockIdx.y, b = blockIdx.z;
  if (p.causal) {
    const int index = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const CausalTile c = causal_tile(index, gridDim.x, gridDim.y * gridDim.z, causal_group);
    tile = c.m_block, head = c.pair % p.heads_q, b = c.pair / p.heads_q;
  }
  const SequenceSlot q_seq = locate_sequence(p.seq_q, b, p.q.batch_stride, p.q.token_stride);
  if (tile * Cfg::kBlockQ >= q_seq.len) return;
  const int kv_head = head / (p.heads_q / p.heads_kv);
  const int warp = threadIdx.x / 32, c = threadIdx.x % 4;
  const int row0 = tile * Cfg::kBlockQ + warp * kQWarpRows * kSlices;  // first row of this warp

  const KeyRange kr =
      key_range<Cfg::kBlockK>(p, b, tile, q_seq.len, kv_head, Cfg::kMaskFromWarpRows ? row0 : tile * Cfg::kBlockQ);
  using Loader = std::conditional_t<kTma, KVTmaLoader<Cfg>, KVLoader<Cfg>>;
  const Loader loader = [&] {
    if constexpr (kTma) {
      return Loader(maps, kr, kv_head, b);
    } else {
      return Loader(p, kr, kv_head);
    }
  }();
  const int lk = kr.seq.len, blocks = kr.blocks;
  auto k_stage = [&](int block) { return k_tiles + (block % kStages) * Cfg::kKTileBytes; };
  auto v_stage = [&](int block) { return v_tiles + (block % kStages) * Cfg::kVTileBytes; };

  // Stage hand-off. Blocks j+1 .. j+kAhead load while block j is computed. The fp16-accumulating mode
  // converts bf16 V in place (each thread its own chunks, read by every warp), so it keeps a CTA
  // barrier per block. The other modes hand stages over with mbarriers: stage_full[s] completes
  // when every thread's copies of the block have landed, stage_empty[s] when every warp is done
  // reading it. No barrier then aligns the warps each block: one warp's MMAs overlap another's
  // softmax (a per-block __syncthreads cost 4-11% at 16k, NOTEBOOK_portable v16).
  constexpr bool kStageBarriers = Cfg::kPVMode != PVMode::kFp16Fp16Fp32;
  // Who arrives on stage_empty: every thread, so that each releases its own reads of the stage before
  // the next copies into it (compute-sanitizer racecheck follows that, and not the warp barrier below,
  // as ordering: lane-0 arrivals showed 80 hazards on stage reuse, every-thread arrivals none, at
  // equal speed; NOTEBOOK_portable v20). The TMA kernels, whose copies racecheck does not see, keep one
  // arrival per warp after __syncwarp (ordered by the warp barrier, the same under the PTX memory
  // model), which measured 1-2% faster at D=64.
  constexpr bool kWarpArrives = kTma;
  static_assert(!kTma || kStageBarriers, "TMA loads complete the stage barriers");
  constexpr int kAhead = kStages - 1;  // blocks in flight ahead of the one computed
  __shared__ __align__(8) uint64_t stage_full[kStages], stage_empty[kStages];
  const uint32_t full_bar = smem_addr(stage_full), empty_bar = smem_addr(stage_empty);
  if constexpr (kStageBarriers) {
    if (threadIdx.x == 0) {
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        mbarrier_init(full_bar + 8 * s, kTma ? 1 : Cfg::kThreads);
        mbarrier_init(empty_bar + 8 * s, kWarpArrives ? Cfg::kWarps : Cfg::kThreads);
      }
      if constexpr (kTma) fence_mbarrier_init();
    }
    __syncthreads();
  }
  // This thread's copies of `block` (into its stage), signalled as the mode requires.
  // TMA: thread 0 alone loads.
  const bool loads = !kTma || threadIdx.x == 0;
  auto load_block = [&](int block) {
    if constexpr (kTma) {
      loader.load(block, k_stage(block), v_stage(block), full_bar + 8 * (block % kStages));
    } else {
      loader.load(block, k_stage(block), v_stage(block), lk);
      if constexpr (kStageBarriers) cp_async_mbarrier_arrive(full_bar + 8 * (block % kStages));
    }
  };
  auto load_first_blocks = [&] {
#pragma unroll
    for (int block = 0; block < kAhead; ++block) {
      if (block < blocks && loads) load_block(block);
      if constexpr (!kStageBarriers) cp_async_commit();  // one commit group per block (possibly empty)
    }
  };
  // sm_90+ launches this kernel dependent on the K/V pre-pass (dependent_launch.h): Q, an input no
  // pre-pass writes, is requested first, possibly while the pre-pass still runs; K/V codes, scales
  // and means are read only after griddep_wait(), and the first K/V blocks are in flight while Q
  // is quantized. Elsewhere they are requested first.
  if constexpr (!kDependentLaunch) load_first_blocks();
  auto after_q_loads = [&] {
    if constexpr (kDependentLaunch) {
      griddep_wait();
      load_first_blocks();
    }
  };

  // This warp's Q rows, quantized once into shared memory (only this warp reads them).
  const uint32_t q_rows = k_tiles + kStages * (Cfg::kKTileBytes + Cfg::kVTileBytes) +
                         warp * kQWarpRows * kSlices * Cfg::kKPitch;
  QFragments<kSlices> qf;
  {
    uint32_t qa[kSlices][Cfg::kQKSteps][4];
    qf = load_quantize_q<kDp, kSlices, Cfg::kWarps>(p, q_seq, head, row0, b * p.heads_kv + kv_head, qa, amax_smem,
                                                        after_q_loads);
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int sl = 0; sl < kSlices; ++sl)
#pragma unroll
      for (int s = 0; s < Cfg::kQKSteps; ++s)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int row = 16 * sl + lane / 4 + 8 * (i % 2);
          const uint32_t at = q_rows + tile_offset<Cfg::kPadded>(row, 2 * s + i / 2, kDp) + 4 * (lane % 4);
          asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(at), "r"(qa[sl][s][i]));
        }
    __syncwarp();
  }
  RowState<Cfg> st;
#pragma unroll
  for (int sl = 0; sl < kSlices; ++sl) {
#pragma unroll
    for (int n = 0; n < Cfg::kDimTiles; ++n) st.o[sl][n][0] = st.o[sl][n][1] = st.o[sl][n][2] = st.o[sl][n][3] = 0.0f;
    st.row_max[sl][0] = st.row_max[sl][1] = kMaskedScore;
    st.row_sum[sl][0] = st.row_sum[sl][1] = 0.0f;
    if constexpr (Cfg::kRowSum == RowSum::kTensorCore) {
#pragma unroll
      for (int e = 0; e < 4; ++e) st.row_sum_acc[sl][e] = 0.0f;
    }
  }

  const int groups = k_groups_per_block(p.qk_gran);
  const float* k_scales = p.k_scale + kr.head_index * k_scale_count(p.qk_gran, p.seq_k.padded_tokens) +
                          (kr.seq.pad_start / kKBlockTokens) * groups + (groups > 1 ? c : 0);
  const int64_t causal_offset = int64_t{lk} - q_seq.len;
  // Only the fp16-accumulating mode converts (the fp32-accumulating one has a kernel per V type).
  const bool convert_v = !kStageBarriers && !Cfg::kFp8 && !kBf16 && p.v_dtype == DType::kBFloat16;

  constexpr int kKGroups = Cfg::kKGroupsPerBlock;
  for (int block = 0; block < blocks; ++block) {
    float k_scale[kKGroups];
#pragma unroll
    for (int h = 0; h < kKGroups; ++h) k_scale[h] = k_scales[(int64_t{block} * kKGroups + h) * groups];
    const int stage = block % kStages;
    const uint32_t phase = (block / kStages) & 1;
    if constexpr (kStageBarriers) {
      mbarrier_wait(full_bar + 8 * stage, phase);
    } else {
      // Block j has landed (later ones may still be in flight) and this thread's share of its V is
      // converted; after the barrier every warp is past block j-1, so its stage can take j+kAhead.
      cp_async_wait<kAhead - 1>();
      if (convert_v) convert_own_v_bf16_to_f16<Cfg>(v_tiles_ptr + stage * Cfg::kVTileBytes, loader.v_smem);
      __syncthreads();
      if (block + kAhead < blocks) load_block(block + kAhead);
      cp_async_commit();
    }

    PFragments<Cfg> pa[kSlices];
    const bool masked = block >= kr.first_masked;
#pragma unroll
    for (int sl = 0; sl < kSlices; ++sl) {
      ScoreTile<Cfg> acc;
      qk_scores<Cfg>(q_rows + sl * kQWarpRows * Cfg::kKPitch, k_stage(block), acc);
      float score_scale[kKGroups];
#pragma unroll
      for (int h = 0; h < kKGroups; ++h) score_scale[h] = qf.scale_log2[sl] * k_scale[h];
      constexpr bool kRowLimit = Cfg::mask_by_row_limit(kTma);
      if (!masked) {
        online_softmax<Cfg, kBf16, false, kRowLimit>(p, st, sl, acc, score_scale, pa[sl], block, row0, lk,
                                                     causal_offset);
      } else {
        online_softmax<Cfg, kBf16, true, kRowLimit>(p, st, sl, acc, score_scale, pa[sl], block, row0, lk,
                                                    causal_offset);
      }
    }
    accumulate_pv<Cfg, kBf16>(st, pa, v_stage(block));
    if constexpr (kStageBarriers) {
      if constexpr (kWarpArrives) {
        __syncwarp();
        if (threadIdx.x % 32 == 0) mbarrier_arrive(empty_bar + 8 * stage);
      } else {
        mbarrier_arrive(empty_bar + 8 * stage);
      }
      // Block j+kAhead goes to the stage of block j-1 once every warp has left it. Issued at the end of
      // block j rather than its top, so a warp up to a block ahead of the slowest does not wait
      // (after Q·K or after the softmax it measured 2-4% slower at D=128, v16); one block of lead
      // still covers the load latency.
      if (block + kAhead < blocks && loads) {
        if (block >= 1) mbarrier_wait(empty_bar + 8 * ((block + kAhead) % kStages), ((block - 1) / kStages) & 1);
        load_block(block + kAhead);
      }
    }
  }
  if constexpr (!kStageBarriers) cp_async_wait<0>();
  if constexpr (Cfg::kRowSum == RowSum::kTensorCore) {
    // The epilogue adds the quad lanes' partial sums: lane 0 of a quad brings the whole row's.
#pragma unroll
    for (int sl = 0; sl < kSlices; ++sl) {
      st.row_sum[sl][0] = c == 0 ? st.row_sum_acc[sl][0] : 0.0f;
      st.row_sum[sl][1] = c == 0 ? st.row_sum_acc[sl][2] : 0.0f;
    }
  }

  write_output<Cfg>(p, q_seq, b, head, kv_head, row0, st, qf, q_rows);
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 890
inline constexpr bool kArchHasFp8Mma = false;
#else
inline constexpr bool kArchHasFp8Mma = true;
#endif

// One kernel per V type of the fp32-accumulating FP16 mode (kBf16: bf16 V multiplied as bf16), so
// that each holds one tile's code: the CTA prologue runs from a colder instruction cache otherwise.
// kTma: the TMA loads (sm_90+; the launch picks them only where the loaded code has them).
template <class Cfg, bool kBf16, bool kTma>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::kMinBlocksPerSm)
    attention_mma_kernel(const __grid_constant__ AttentionParams p, const __grid_constant__ KVTensorMaps maps,
                         int causal_group) {
  if constexpr (Cfg::kFp8 && !kArchHasFp8Mma) {
    __trap();  // never dispatched: attention_mma_supports() needs sm89+ for FP8 P·V
  } else if constexpr (kTma && !kArchHasTma) {
    __trap();  // never dispatched: launch_attention_mma_kernel checks the loaded code's arch
  } else {
    attention_mma_tile<Cfg, kBf16, kTma>(p, maps, causal_group);
  }
}

}  // namespace sageattention::kernels
