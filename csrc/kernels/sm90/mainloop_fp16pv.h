// Consumer loop of the FP16 P·V mode ("fp32" accumulation): INT8 Q·Kᵀ on wgmma s32.s8.s8 as in the
// FP8 mode, then P·V on wgmma m64nDk16 with P from registers in V's 16-bit type (fp16, or bf16 for
// bf16 V) and the raw V tile read MN-major from shared memory, one fp32 accumulator per row.
// The producer (mainloop.h), Q quantization, scheduler and epilogue are shared with the FP8 mode.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/sm90/kernel_traits.h"
#include "kernels/sm90/pipeline.h"
#include "kernels/sm90/ptx.h"
#include "kernels/sm90/softmax.h"
#include "kernels/sm90/wgmma_ops.h"
#include "kernels/sm90/wgmma_ops_16bit.h"

namespace sageattention::sm90 {

// Descriptor of the MN-major V tile: 64-column slabs of 128-byte swizzled token rows. In the
// canonical MN-major 128B-swizzle layout ((8,8,m),(8,k)) the 8-token core groups are 8 rows =
// 1024 B apart (stride offset) and the 64-column slabs `slab_bytes` apart (leading offset).
__device__ __forceinline__ uint64_t make_smem_desc_v16(uint32_t smem_byte_addr, uint32_t slab_bytes) {
  constexpr uint64_t kLayout128B = 1;
  constexpr uint64_t kCoreGroupBytes = 8 * 128;
  return (static_cast<uint64_t>(smem_byte_addr >> 4) & 0x3FFF) |
         ((static_cast<uint64_t>(slab_bytes >> 4) & 0x3FFF) << 16) | ((kCoreGroupBytes >> 4) << 32) |
         (kLayout128B << 62);
}

template <class Tr, bool kCausal>
struct ConsumerMainloopFp16PV {
  static_assert(Tr::kPV == PVOperand::kF16 || Tr::kPV == PVOperand::kBf16, "16-bit P·V traits expected");
  using PType = std::conditional_t<Tr::kPV == PVOperand::kF16, __half, __nv_bfloat16>;
  using Softmax = OnlineSoftmax<Tr::kSAccRegs, false>;
  static constexpr int kN = Tr::kSAccRegs;   // 64
  static constexpr int kO = Tr::kOAccRegs;   // 32 or 64
  static constexpr int kPVSteps = Tr::kBlockN / 16;
  static constexpr int kQKSteps = Tr::kQKDim / 32;
  static constexpr uint32_t kPVStepBytes = 16 * 128;  // 16 token rows of every slab

  // Head dim 256: Q8 and K are two slabs of 128 channels (Tr::qk_step_offset).
  __device__ __forceinline__ static void issue_qk(int32_t (&acc)[kN], uint32_t q8_addr, uint32_t k_addr) {
#pragma unroll
    for (int ks = 0; ks < kQKSteps; ++ks) {
      wgmma_s8_ss_n128(acc, make_smem_desc(q8_addr + Tr::qk_step_offset(ks, Tr::kQ8SlabBytes), Tr::kQKSwizzle),
                       make_smem_desc(k_addr + Tr::qk_step_offset(ks, Tr::kKSlabBytes), Tr::kQKSwizzle), ks > 0);
    }
  }
  __device__ __forceinline__ static void issue_pv(float (&o)[kO], const uint32_t (&a)[kPVSteps][4], uint32_t v_addr) {
#pragma unroll
    for (int ks = 0; ks < kPVSteps; ++ks) {
      const uint64_t desc = make_smem_desc_v16(v_addr + kPVStepBytes * ks, Tr::kVSlabBytes);
      if constexpr (kO == 64) {
        wgmma_16bit_rs_n128<PType>(o, a[ks], desc);
      } else {
        wgmma_16bit_rs_n64<PType>(o, a[ks], desc);
      }
    }
  }
  // O *= alpha per row, skipped when no row of the warp changed its max (alpha exactly 1 there).
  // The vote keeps the branch warp-uniform; nothing is in flight on the tensor cores here.
  __device__ __forceinline__ static void rescale_o(float (&o)[kO], const float (&alpha)[2]) {
    if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
      for (int i = 0; i < kO; ++i) o[i] *= alpha[(i / 2) % 2];
    }
  }

  // Runs the key loop for one work tile; o/softmax hold the result for the epilogue. Same software
  // pipeline and ping-pong as the FP8 loop: QK(j) and P·V(j-1) are in flight around softmax(j).
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
    const MmaTurns<Tr::kMmaTurns> mma_turns{cw};
    // Softmax turns (Tr::kSoftmaxTurns, pipeline.h): the score scale is multiplied by the token.
    const SoftmaxTurns<Tr::kSoftmaxTurns> softmax_turns{&smem.softmax_turn_token, cw};
    float turn_token = 1.0f;

    int32_t acc[kN];
    float pf[kN];
    uint32_t pa[kPVSteps][4];
    float alpha[2];

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

    // Prologue: S(0), softmax(0). K scales of tile j + 1 are loaded during tile j.
    PipelineState<Tr::kStages> pv_read = read;  // slot of the tile whose P·V is pending
    float2 ks = k_scale_of(0);
    float2 ks_next = k_scale_of(n_tiles > 1 ? 1 : 0);
    mbar_wait(&smem.k_full[read.index], read.phase);
    mma_turns.wait();
    wgmma_fence();
    issue_qk(acc, q8_addr, smem_addr(smem.k[read.index]));
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
    pack_p_16bit<PType>(pf, pa);
    softmax_turns.pass(pa);
    read.advance();

    // Masked tiles are always the last ones, so the loop is split in an unmasked and a masked run:
    // a data-dependent branch between wgmma issue and wait would make ptxas serialise them (C7520).
    auto iteration = [&](int j, auto mask_tag) {
      ks = ks_next;
      ks_next = k_scale_of(j + 1 < n_tiles ? j + 1 : j);
      mbar_wait(&smem.k_full[read.index], read.phase);
      mbar_wait(&smem.v_full[pv_read.index], pv_read.phase);
      rescale_o(o, alpha);  // to the max of tile j - 1, before its P·V accumulates
      reg_fence(pa);
      reg_fence(o);
      mma_turns.wait();
      wgmma_fence();
      issue_qk(acc, q8_addr, smem_addr(smem.k[read.index]));
      wgmma_commit();
      issue_pv(o, pa, smem_addr(smem.v[pv_read.index]));
      wgmma_commit();
      mma_turns.pass();
      wgmma_wait<1>();  // S(j) ready; P·V(j-1) may still run
      reg_fence(acc);
      turn_token = softmax_turns.wait();
      softmax_tile(j, ks, mask_tag);
      wgmma_wait<0>();  // P·V(j-1) done: its slot and the P registers are free
      reg_fence(o);
      if (lane == 0) mbar_arrive(&smem.kv_empty[pv_read.index]);
      pv_read.advance();
      pack_p_16bit<PType>(pf, pa);
      softmax_turns.pass(pa);
      read.advance();
    };
    int first_masked = 1;
    while (first_masked < n_tiles && !tile_needs_mask(first_masked)) ++first_masked;
    for (int j = 1; j < first_masked; ++j) iteration(j, std::false_type{});
    for (int j = first_masked; j < n_tiles; ++j) iteration(j, std::true_type{});

    // Tail: P·V of the last tile.
    mbar_wait(&smem.v_full[pv_read.index], pv_read.phase);
    rescale_o(o, alpha);
    reg_fence(pa);
    reg_fence(o);
    mma_turns.wait();
    wgmma_fence();
    issue_pv(o, pa, smem_addr(smem.v[pv_read.index]));
    wgmma_commit();
    mma_turns.pass();
    wgmma_wait<0>();
    reg_fence(o);
    if (lane == 0) mbar_arrive(&smem.kv_empty[pv_read.index]);
  }
};

}  // namespace sageattention::sm90
