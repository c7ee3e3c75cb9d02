// The Hopper attention kernel: warp-specialised (1 producer warpgroup, 2 or 3 consumer
// warpgroups), persistent over work tiles of Tr::kBlockM query rows x one (sequence, head).
// Tr::kPV picks the P·V path.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <type_traits>

#include "sageattention/constants.h"
#include "kernels/common/dependent_launch.h"
#include "kernels/sm90/epilogue.h"
#include "kernels/sm90/kernel_params.h"
#include "kernels/sm90/kernel_traits.h"
#include "kernels/sm90/mainloop.h"
#include "kernels/sm90/mainloop_fp16pv.h"
#include "kernels/sm90/pipeline.h"
#include "kernels/sm90/ptx.h"
#include "kernels/sm90/q_quant.h"
#include "kernels/sm90/scheduler.h"

namespace sageattention::sm90 {

template <class Tr, typename T, bool kCausal, bool kTwoLevel>
__global__ void __launch_bounds__(Tr::kThreads, 1)
    attention_kernel(const __grid_constant__ KernelParams p, const __grid_constant__ CUtensorMap tma_q,
                     const __grid_constant__ CUtensorMap tma_k, const __grid_constant__ CUtensorMap tma_v,
                     const __grid_constant__ CUtensorMap tma_o) {
  extern __shared__ uint8_t smem_raw[];
  auto& smem = *reinterpret_cast<SharedStorage<Tr>*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~static_cast<uintptr_t>(1023));
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < Tr::kStages; ++s) {
      mbar_init(&smem.k_full[s], 1);
      mbar_init(&smem.v_full[s], 1);
      mbar_init(&smem.kv_empty[s], Tr::kConsumerWarpgroups * 4);  // one arrive per consumer warp
    }
    mbar_init(&smem.q_full, 1);
    mbar_init(&smem.q_empty, Tr::kConsumerWarpgroups * 4);
    smem.softmax_turn_token = 1.0f;
    fence_barrier_init();
    tma_prefetch_descriptor(&tma_q);
    tma_prefetch_descriptor(&tma_k);
    tma_prefetch_descriptor(&tma_v);
    if (Tr::kStageO && p.o_via_tma) tma_prefetch_descriptor(&tma_o);
  }
  if constexpr (Tr::kPVSumColumns > 0) {
    // The rows of ones after each V^T stage (kernel_traits.h); TMA never writes them.
    constexpr int kWords = (Tr::kVStageBytes - Tr::kVTileBytes) / 4;
    for (int i = threadIdx.x; i < Tr::kStages * kWords; i += Tr::kThreads) {
      reinterpret_cast<uint32_t*>(smem.v[i / kWords] + Tr::kVTileBytes)[i % kWords] = kE4m3OnesX4;
    }
    fence_view_async_shared();  // generic-proxy stores, read by the async proxy (wgmma)
  }
  __syncthreads();
  // Launched dependent (kernels/common/dependent_launch.h): the setup above may overlap the tail of
  // the pre-pass; nothing in global memory is touched before the previous kernels are complete.
  kernels::griddep_wait();

  if (wg == 0) {
    setmaxnreg_dec<Tr::kProducerRegs>();
    if (threadIdx.x == 0) producer_loop<Tr, kCausal>(p, &tma_q, &tma_k, &tma_v, smem);
    return;
  }
  setmaxnreg_inc<Tr::kConsumerRegs>();

  // FP8 modes: the e4m3 P·V loop (mainloop.h); FP16 modes: the 16-bit P·V loop (kTwoLevel unused).
  constexpr bool kFp8PV = Tr::kPV == PVOperand::kE4m3;
  using Mainloop = std::conditional_t<kFp8PV, ConsumerMainloop<Tr, kCausal, kTwoLevel>,
                                      ConsumerMainloopFp16PV<Tr, kCausal>>;
  using Softmax = typename Mainloop::Softmax;
  const int cw = wg - 1;  // consumer warpgroup index
  const int tid = threadIdx.x % 128;
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const uint32_t q8_addr = smem_addr(smem.q8 + cw * Tr::kRowsPerWarpgroup * Tr::kQKDim);
  PipelineState<Tr::kStages> read;
  PipelineState<1> q_read;
  int tile_iter = 0;
  const bool o_staged = Tr::kStageO && p.o_via_tma;
  uint8_t* o_stage = smem.o_stage[Tr::kStageO ? cw : 0];
  // Warpgroup 0 takes the first tensor-core turn.
  if (Tr::kMmaTurns && cw == 1) {
    named_barrier_arrive(static_cast<int>(NamedBarrier::kMmaTurnWg0), 256);
    if constexpr (Tr::kSoftmaxTurns) named_barrier_arrive(static_cast<int>(NamedBarrier::kSoftmaxTurnWg0), 256);
  }

  for (int tile = blockIdx.x; tile < p.num_tiles; tile += gridDim.x) {
    // Head dim 256: the two halves of the output columns of a query block are consecutive tiles.
    const int half = tile % Tr::kDSplits;
    const int col0 = half * Tr::kHeadDim;
    const TileCoord tc = TileScheduler<kCausal>::coord(p, tile / Tr::kDSplits);
    const SeqInfo seq(p, tc.batch, tc.head);
    const int m0 = tc.m_block * Tr::kBlockM;
    if (m0 >= seq.lq) continue;
    const int n_tiles = seq.template num_kv_tiles<kCausal, Tr::kBlockM, Tr::kBlockN>(m0);
    const int row_base = m0 + cw * Tr::kRowsPerWarpgroup;

    const int64_t qk_vec_base = (static_cast<int64_t>(tc.batch) * p.heads_kv + seq.kv_head) * Tr::kQKDim;
    const int64_t vec_base = qk_vec_base + col0;  // this tile's V columns
    // V scale/mean of this tile, copied to shared memory asynchronously (no registers held across
    // the main loop); the epilogue waits for them. Double-buffered by tile parity: a fast thread may
    // stage the next tile's vectors while another still reads this tile's in its epilogue.
    float* vs_stage = smem.v_scale[tile_iter & 1][cw];
    float* vm_stage = smem.v_mean[tile_iter & 1][cw];
    if (tid < Tr::kHeadDim) {
      if (p.v_scale != nullptr) {
        cp_async_f32(vs_stage + tid, p.v_scale + vec_base + tid);
      } else {
        vs_stage[tid] = 1.0f;  // FP16 P·V: V is not scaled
      }
      if (p.v_mean != nullptr) cp_async_f32(vm_stage + tid, p.v_mean + vec_base + tid);
    }
    const float* k_mean = (p.k_mean != nullptr && p.lse != nullptr && half == 0) ? p.k_mean + qk_vec_base : nullptr;
    const T* q_rows;
    int64_t q_row_stride;
    if (Tr::kQViaTma && p.q_via_tma) {
      mbar_wait(&smem.q_full, q_read.phase);
      q_read.advance();
      q_rows = reinterpret_cast<const T*>(smem.q_raw) + cw * Tr::kRowsPerWarpgroup * Tr::kQKDim;
      q_row_stride = Tr::kQKDim;
    } else {
      q_rows = static_cast<const T*>(p.q) +
               (p.cu_seqlens_q != nullptr ? 0 : static_cast<int64_t>(tc.batch) * p.q_batch_stride) +
               (seq.q_row0 + row_base) * p.q_token_stride + static_cast<int64_t>(tc.head) * p.q_head_stride;
      q_row_stride = p.q_token_stride;
    }
    const QuantizedQ qq = quantize_q_tile<T, Tr::kQKDim, Tr::kBlockM == kQBlockRows>(
        q_rows, q_row_stride, p.head_dim, seq.lq - row_base, Tr::kQViaTma && p.q_via_tma ? &smem.q_empty : nullptr,
        smem.q8 + cw * Tr::kRowsPerWarpgroup * Tr::kQKDim, k_mean, p.q_gran, p.sm_scale_log2, smem.block_amax, cw,
        tile_iter & 1);

    const float* ks_ptr = p.k_scale + seq.k_scale_base + (p.k_groups_per_block == 4 ? c : 0);
    const int G = p.k_groups_per_block;
    auto k_scale_of = [&](int j) { return make_float2(ks_ptr[(2 * j) * G], ks_ptr[(2 * j + 1) * G]); };
    const int diag = m0 + seq.lk - seq.lq;  // last key the tile's first row sees (causal)
    auto needs_mask = [&](int j) {
      const int last_key = (j + 1) * Tr::kBlockN - 1;
      return last_key >= seq.lk || (kCausal && last_key > diag);
    };

    float o[Tr::kOAccRegs];
    Softmax softmax;
    const int row0 = row_base + warp * 16 + g;
    Mainloop::run(smem, read, n_tiles, q8_addr, qq.scale_log2, k_scale_of, needs_mask, 2 * c, row0, seq.lq,
                  seq.lk, cw, o, softmax);
    // The staged V vectors were copied by other threads of this warpgroup; the output stage is free
    // once this warpgroup's previous TMA store has read it (issued by thread 0).
    cp_async_wait_all();
    if (o_staged && tid == 0) bulk_wait_group_read_all();
    named_barrier_sync(static_cast<int>(NamedBarrier::kEpilogueWg0) + cw, 128);
    epilogue_store<T, Tr::kHeadDim>(p, seq, tc.batch, tc.head, row0, o, softmax, qq, vs_stage,
                                    p.v_mean != nullptr ? vm_stage : nullptr, o_staged ? o_stage : nullptr, col0);
    if (o_staged) store_staged_o<Tr>(&tma_o, o_stage, cw, seq.q_row0 + row_base, tc.head, tc.batch);
    ++tile_iter;
  }
  if (o_staged && tid == 0) bulk_wait_group_all();
}

}  // namespace sageattention::sm90
