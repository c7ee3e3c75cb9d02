// Producer (TMA of K/V tiles through the ring) and consumer (QK wgmma, softmax, P·V wgmma) loops.
#pragma once

#include <cstdint>
#include <type_traits>

#include "sageattention/constants.h"
#include "kernels/sm90/kernel_params.h"
#include "kernels/sm90/kernel_traits.h"
#include "kernels/sm90/pipeline.h"
#include "kernels/sm90/ptx.h"
#include "kernels/sm90/scheduler.h"
#include "kernels/sm90/softmax.h"
#include "kernels/sm90/wgmma_ops.h"

namespace sageattention::sm90 {

// ---------------------------------------------------------------------------------------------
// Producer: one thread streams the K and V tiles of each work tile into the ring.
// ---------------------------------------------------------------------------------------------
template <class Tr, bool kCausal>
__device__ __forceinline__ void producer_loop(const KernelParams& p, const void* tma_q, const void* tma_k,
                                              const void* tma_v, SharedStorage<Tr>& smem) {
  PipelineState<Tr::kStages> write;
  PipelineState<1> q_write;
  for (int tile = blockIdx.x; tile < p.num_tiles; tile += gridDim.x) {
    const int col0 = tile % Tr::kDSplits * Tr::kHeadDim;  // V columns of this tile (kernel.h)
    const TileCoord tc = TileScheduler<kCausal>::coord(p, tile / Tr::kDSplits);
    const SeqInfo seq(p, tc.batch, tc.head);
    const int m0 = tc.m_block * Tr::kBlockM;
    if (m0 >= seq.lq) continue;
    const int n_tiles = seq.template num_kv_tiles<kCausal, Tr::kBlockM, Tr::kBlockN>(m0);
    // Raw Q rows [m0, m0 + 128) of this (sequence, head); rows past the tensor are zero-filled,
    // rows of the next varlen sequence are ignored by the consumers.
    if (Tr::kQViaTma && p.q_via_tma) {
      mbar_wait(&smem.q_empty, q_write.phase ^ 1u);
      mbar_arrive_expect_tx(&smem.q_full, Tr::kQRawBytes);
      tma_load_4d(smem.q_raw, tma_q, &smem.q_full, 0, m0, tc.head, tc.batch);
      q_write.advance();
    }
    for (int j = 0; j < n_tiles; ++j) {
      // Wait until both consumer warpgroups finished reading this slot (first lap passes at once).
      mbar_wait(&smem.kv_empty[write.index], write.phase ^ 1u);
      const int token = static_cast<int>(seq.k_tok0) + j * Tr::kBlockN;
      mbar_arrive_expect_tx(&smem.k_full[write.index], Tr::kKTileBytes);
#pragma unroll
      for (int slab = 0; slab < Tr::kQKSlabs; ++slab) {
        tma_load_3d(smem.k[write.index] + slab * Tr::kKSlabBytes, tma_k, &smem.k_full[write.index],
                    slab * Tr::kQKSwizzle, token, seq.kv_slice);
      }
      mbar_arrive_expect_tx(&smem.v_full[write.index], Tr::kVTileBytes);
      if constexpr (Tr::kPV == PVOperand::kE4m3) {
        tma_load_3d(smem.v[write.index], tma_v, &smem.v_full[write.index], token, col0, seq.kv_slice);
      } else {
        // Raw V [batch, tokens, heads, D], one box per 64-column slab of this tile's columns; keys
        // past the sequence (zero-filled past the tensor) meet P = 0.
        const int v_row = static_cast<int>(seq.k_row0) + j * Tr::kBlockN;
#pragma unroll
        for (int slab = 0; slab < Tr::kHeadDim / Tr::kVSlabColumns; ++slab) {
          tma_load_4d(smem.v[write.index] + slab * Tr::kVSlabBytes, tma_v, &smem.v_full[write.index],
                      col0 + slab * Tr::kVSlabColumns, v_row, seq.kv_head, seq.kv_batch);
        }
      }
      write.advance();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Consumer: one warpgroup, 64 query rows, all key tiles of a work tile.
// Software pipeline (intra-warpgroup overlap): the QK wgmma of tile j and the P·V wgmma of tile
// j-1 are in flight while this warpgroup runs the softmax of tile j.
// ---------------------------------------------------------------------------------------------
template <class Tr, bool kCausal, bool kTwoLevel>
struct ConsumerMainloop {
  // Two-level: the row sums come from each fresh P·V product (the ones columns after V^T) and are
  // merged in fp32 like O. Single-level keeps fp32 sums in the softmax: summed inside the 8-bit
  // wgmma's accumulator over a whole sequence they drift low (measured: 19% rel-L1 at 10k keys).
  using Softmax = OnlineSoftmax<Tr::kSAccRegs, true, Tr::kExpOnFmaPer8, /*kRowSumByMma=*/kTwoLevel>;
  static constexpr int kN = Tr::kSAccRegs;    // 64
  static constexpr int kO = Tr::kOAccRegs;    // 32 or 64: O columns
  static constexpr int kPV = Tr::kPVAccRegs;  // kO + 4: a fresh product's O columns and two row sums
  static constexpr int kPVSteps = Tr::kBlockN / 32;
  static constexpr int kQKSteps = Tr::kQKDim / 32;
  // Two-level mode with O parked in shared memory between merges (kernel_traits.h).
  static constexpr bool kParkO = kTwoLevel && Tr::kParkO;

  // Descriptors: built once per work tile for stage 0; a stage and a 32-byte k-step are constant
  // offsets (smem_desc_advance), which keeps address arithmetic out of the issue path.
  __device__ __forceinline__ static void issue_qk(int32_t (&acc)[kN], uint64_t q_desc, uint64_t k_desc) {
#pragma unroll
    for (int ks = 0; ks < kQKSteps; ++ks) {
      wgmma_s8_ss_n128(acc, smem_desc_advance(q_desc, Tr::qk_step_offset(ks, Tr::kQ8SlabBytes)),
                       smem_desc_advance(k_desc, Tr::qk_step_offset(ks, Tr::kKSlabBytes)), ks > 0);
    }
  }
  // P·V into o: kPV registers (with the ones columns: row sums) or kO (O columns only).
  template <int kRegs>
  __device__ __forceinline__ static void issue_pv(float (&o)[kRegs], const uint32_t (&a)[kPVSteps][4],
                                                  uint64_t v_desc, bool accumulate_first) {
#pragma unroll
    for (int ks = 0; ks < kPVSteps; ++ks) {
      const uint64_t desc = smem_desc_advance(v_desc, 32 * ks);
      const int acc = (ks > 0 || accumulate_first) ? 1 : 0;
      if constexpr (kRegs == 68) {
        wgmma_e4m3_rs_n136(o, a[ks], desc, acc);
      } else if constexpr (kRegs == 36) {
        wgmma_e4m3_rs_n72(o, a[ks], desc, acc);
      } else if constexpr (kRegs == 64) {
        wgmma_e4m3_rs_n128(o, a[ks], desc, acc);
      } else {
        static_assert(kRegs == 32, "head_dim 64 or 128");
        wgmma_e4m3_rs_n64(o, a[ks], desc, acc);
      }
    }
  }
  // Row r's sum of the e4m3 P of a P·V product: accumulator registers kO + 2r, kO + 2r + 1 hold
  // two of the (equal) ones columns of that row.
  __device__ __forceinline__ static float pv_row_sum(const float (&acc)[kPV], int r) { return acc[kO + 2 * r]; }

  // Single-level accumulation: O *= exp2(m_old - m_new) before the next P·V accumulates into it.
  // Skipped when no row of the warp raised its max (alpha == 1), the common case once a row has
  // seen a few key tiles. No wgmma is in flight here, so the branch does not serialise them.
  __device__ __forceinline__ static void rescale_o(float (&o)[kO], const float (&alpha)[2]) {
    if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
      for (int i = 0; i < kO; ++i) o[i] *= alpha[(i / 2) % 2];
    }
  }
  // Two-level accumulation, a tile that continues o_fresh: what o_fresh holds is brought to the new
  // max before the next P·V adds to it (skipped when no row of the warp moved its max).
  __device__ __forceinline__ static void rescale_fresh(float (&fresh)[kPV], const float (&alpha)[2]) {
    if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
      for (int i = 0; i < kPV; ++i) fresh[i] *= alpha[(i / 2) % 2];
    }
  }
  // Two-level accumulation: O = O * alpha + fresh, and the row sums alike. Parked O: read from and
  // written back to this thread's slots (park: the warpgroup's [kO / 4][128] float4), or into the
  // registers `o` for the last merge (to_registers).
  __device__ __forceinline__ static void merge_fresh(float (&o)[kO], const float (&fresh)[kPV],
                                                     const float (&alpha)[2], Softmax& softmax,
                                                     float4* park = nullptr, bool to_registers = false) {
    if constexpr (kParkO) {
      const int tid = threadIdx.x % 128;
#pragma unroll
      for (int k = 0; k < kO / 4; ++k) {
        float4 v = park[k * 128 + tid];
        v.x = fmaf(v.x, alpha[0], fresh[4 * k + 0]);
        v.y = fmaf(v.y, alpha[0], fresh[4 * k + 1]);
        v.z = fmaf(v.z, alpha[1], fresh[4 * k + 2]);
        v.w = fmaf(v.w, alpha[1], fresh[4 * k + 3]);
        if (to_registers) {
          o[4 * k + 0] = v.x, o[4 * k + 1] = v.y, o[4 * k + 2] = v.z, o[4 * k + 3] = v.w;
        } else {
          park[k * 128 + tid] = v;
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < kO; ++i) o[i] = fmaf(o[i], alpha[(i / 2) % 2], fresh[i]);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) softmax.row_sum[r] = fmaf(softmax.row_sum[r], alpha[r], pv_row_sum(fresh, r));
  }

  // Runs the key loop for one work tile. o/softmax hold the result for the epilogue.
  template <class KScaleFn, class MaskFn>
  __device__ __forceinline__ static void run(SharedStorage<Tr>& smem, PipelineState<Tr::kStages>& read, int n_tiles,
                                             uint32_t q8_addr, float q_scale, KScaleFn&& k_scale_of,
                                             MaskFn&& tile_needs_mask, const int key_col_base, const int row0,
                                             int lq, int lk, int cw, float (&o)[kO], Softmax& softmax) {
#pragma unroll
    for (int i = 0; i < kO; ++i) o[i] = 0.0f;
    softmax.init();
    if (n_tiles == 0) return;
    const int lane = threadIdx.x % 32;
    float4* park = nullptr;
    if constexpr (kParkO) {
      park = &smem.o_park[cw][0][0];
#pragma unroll
      for (int k = 0; k < kO / 4; ++k) park[k * 128 + threadIdx.x % 128] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    const MmaTurns<Tr::kMmaTurns> mma_turns{cw};
    // Softmax turns (Tr::kSoftmaxTurns, pipeline.h): the score scale is multiplied by the token.
    const SoftmaxTurns<Tr::kSoftmaxTurns> softmax_turns{&smem.softmax_turn_token, cw};
    float turn_token = 1.0f;

    const uint64_t q_desc = make_smem_desc(q8_addr, Tr::kQKSwizzle);
    const uint64_t k_desc0 = make_smem_desc(smem_addr(smem.k[0]), Tr::kQKSwizzle);
    const uint64_t v_desc0 = make_smem_desc(smem_addr(smem.v[0]), Tr::kVSwizzle);
    auto k_desc = [&](int stage) { return smem_desc_advance(k_desc0, stage * Tr::kKTileBytes); };
    auto v_desc = [&](int stage) { return smem_desc_advance(v_desc0, stage * Tr::kVStageBytes); };

    int32_t acc[kN];
    float pf[kN];
    uint32_t pa[kPVSteps][4];
    float alpha[2];

    // K scales are loaded before the tile's barrier wait so their latency hides behind it.
    auto softmax_tile = [&](int j, float2 ks, auto mask_tag) {
      constexpr bool kMask = decltype(mask_tag)::value;
      const float scale[2] = {q_scale * ks.x * turn_token, q_scale * ks.y * turn_token};
      // Last visible key of each of the thread's two rows, relative to this thread's first column
      // of the tile: register i holds column 8 (i / 4) + (i % 2) past it.
      int limit[2] = {0, 0};
      if constexpr (kMask) {
        const int key0 = j * Tr::kBlockN + key_col_base;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          int last = lk - 1;
          if (kCausal) last = min(last, row0 + 8 * r + lk - lq);
          limit[r] = last - key0;
        }
      }
      auto visible = [&](int i) { return 8 * (i / 4) + (i % 2) <= limit[(i / 2) % 2]; };
      softmax.template step<kMask>(acc, pf, scale, visible, alpha);
    };

    // Prologue: S(0), softmax(0). Nothing is in flight, so the mask branch costs nothing here.
    PipelineState<Tr::kStages> pv_read = read;  // slot of the tile whose P·V is pending
    // K scales of tile j + 1 are loaded during tile j (their global latency stays off the path).
    float2 ks = k_scale_of(0);
    float2 ks_next = k_scale_of(n_tiles > 1 ? 1 : 0);
    mbar_wait(&smem.k_full[read.index], read.phase);
    mma_turns.wait();
    wgmma_fence();
    issue_qk(acc, q_desc, k_desc(read.index));
    wgmma_commit();
    mma_turns.pass();
    wgmma_wait<0>();
    reg_fence(acc);
    turn_token = softmax_turns.wait();
    if (tile_needs_mask(0)) {
      softmax_tile(0, ks, std::true_type{});
    } else {
      softmax_tile(0, ks, std::false_type{});
    }
    pack_p_fp8(pf, pa);
    softmax_turns.pass(pa);
    read.advance();

    float o_fresh[kTwoLevel ? kPV : 1];
    // Two-level: o_fresh collects Tr::kFreshTiles P·V tiles (8-bit wgmma accumulation) before it is
    // added to the fp32 O; pair_scale holds the alpha of the first tile of a pair until the merge.
    [[maybe_unused]] float pair_scale[2] = {1.0f, 1.0f};
    auto closes_fresh = [&](int t) { return Tr::kFreshTiles == 1 || (t & 1) != 0; };
    // One key tile with QK(j) and P·V(j-1) in flight around softmax(j). Masked tiles are always the
    // last ones (sequence end, causal diagonal), so the loop is split in an unmasked and a masked
    // run: a data-dependent branch inside the body would make ptxas serialise the wgmmas (C7520).
    auto iteration = [&](int j, auto mask_tag) {
      ks = ks_next;
      ks_next = k_scale_of(j + 1 < n_tiles ? j + 1 : j);
      mbar_wait(&smem.k_full[read.index], read.phase);
      mbar_wait(&smem.v_full[pv_read.index], pv_read.phase);
      // P·V(j-1) opens an o_fresh (or is its only tile) unless it closes a pair.
      [[maybe_unused]] const bool second_of_pair = Tr::kFreshTiles == 2 && ((j - 1) & 1) != 0;
      if constexpr (!kTwoLevel) {
        rescale_o(o, alpha);
      } else if constexpr (Tr::kFreshTiles == 2) {
        if (second_of_pair) rescale_fresh(o_fresh, alpha);
      }
      reg_fence(pa);
      if constexpr (!kParkO) reg_fence(o);
      if constexpr (kTwoLevel) reg_fence(o_fresh);
      mma_turns.wait();
      wgmma_fence();
      issue_qk(acc, q_desc, k_desc(read.index));
      wgmma_commit();
      if constexpr (kTwoLevel) {
        issue_pv(o_fresh, pa, v_desc(pv_read.index), second_of_pair);
      } else {
        issue_pv(o, pa, v_desc(pv_read.index), true);
      }
      wgmma_commit();
      mma_turns.pass();
      [[maybe_unused]] const float alpha_prev[2] = {alpha[0], alpha[1]};
      wgmma_wait<1>();  // S(j) ready; P·V(j-1) may still run
      reg_fence(acc);
      turn_token = softmax_turns.wait();
      softmax_tile(j, ks, mask_tag);
      wgmma_wait<0>();  // P·V(j-1) done (long since, as a rule): its slot and the P registers are free
      pack_p_fp8(pf, pa);
      softmax_turns.pass(pa);
      if constexpr (kTwoLevel) {
        reg_fence(o_fresh);
        if (closes_fresh(j - 1)) {
          const float scale[2] = {pair_scale[0] * alpha_prev[0], pair_scale[1] * alpha_prev[1]};
          merge_fresh(o, o_fresh, scale, softmax, park);
        } else {
          pair_scale[0] = alpha_prev[0], pair_scale[1] = alpha_prev[1];
        }
      } else {
        reg_fence(o);
      }
      if (lane == 0) mbar_arrive(&smem.kv_empty[pv_read.index]);
      pv_read.advance();
      read.advance();
    };
    int first_masked = 1;
    while (first_masked < n_tiles && !tile_needs_mask(first_masked)) ++first_masked;
    for (int j = 1; j < first_masked; ++j) iteration(j, std::false_type{});
    for (int j = first_masked; j < n_tiles; ++j) iteration(j, std::true_type{});

    // Tail: P·V of the last tile, then the last merge.
    mbar_wait(&smem.v_full[pv_read.index], pv_read.phase);
    [[maybe_unused]] const bool tail_second = Tr::kFreshTiles == 2 && ((n_tiles - 1) & 1) != 0;
    if constexpr (!kTwoLevel) {
      rescale_o(o, alpha);
    } else if constexpr (Tr::kFreshTiles == 2) {
      if (tail_second) rescale_fresh(o_fresh, alpha);
    }
    reg_fence(pa);
    if constexpr (!kParkO) reg_fence(o);
    if constexpr (kTwoLevel) reg_fence(o_fresh);
    mma_turns.wait();
    wgmma_fence();
    if constexpr (kTwoLevel) {
      issue_pv(o_fresh, pa, v_desc(pv_read.index), tail_second);
    } else {
      issue_pv(o, pa, v_desc(pv_read.index), true);
    }
    wgmma_commit();
    mma_turns.pass();
    wgmma_wait<0>();
    if constexpr (kTwoLevel) {
      reg_fence(o_fresh);
      const float scale[2] = {tail_second ? pair_scale[0] * alpha[0] : alpha[0],
                              tail_second ? pair_scale[1] * alpha[1] : alpha[1]};
      merge_fresh(o, o_fresh, scale, softmax, park, /*to_registers=*/true);
    } else {
      reg_fence(o);
    }
    if (lane == 0) mbar_arrive(&smem.kv_empty[pv_read.index]);
  }
};

}  // namespace sageattention::sm90
