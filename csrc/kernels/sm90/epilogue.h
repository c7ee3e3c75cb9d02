// Epilogue: O / l * v_scale + v_mean, cast, store; LSE in natural log.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "sageattention/constants.h"
#include "kernels/sm90/kernel_params.h"
#include "kernels/sm90/pipeline.h"
#include "kernels/sm90/ptx.h"
#include "kernels/sm90/q_quant.h"
#include "kernels/sm90/scheduler.h"
#include "kernels/sm90/softmax.h"

namespace sageattention::sm90 {

// row0: sequence row of this thread's first accumulator row (g); its second row is row0 + 8.
// Softmax: the mode's online-softmax state (row_max, row_sum); P was 2^kPOffsetLog2 exp2(S - max).
// o: the O accumulator (m64 x kHeadDim layout, kO = kHeadDim / 2 registers).
// o_stage: nullptr, or the warpgroup's staging tile (kHeadDim / 64 boxes of 64 rows x 128 bytes,
// 128B-swizzled as TMA reads it), which the caller then stores by TMA.
// col0: the first output column of this work tile (head dim 256: 0 or 128); only the tile with
// column 0 writes the LSE.
template <typename T, int kHeadDim, int kO, class Softmax>
__device__ __forceinline__ void epilogue_store(const KernelParams& p, const SeqInfo& seq, int b, int h, int row0,
                                               const float (&o)[kO], const Softmax& softmax, const QuantizedQ& qq,
                                               const float* v_scale, const float* v_mean, uint8_t* o_stage,
                                               int col0 = 0) {
  const int c = threadIdx.x % 4;
  const int64_t o_base = (p.cu_seqlens_q != nullptr ? 0 : static_cast<int64_t>(b) * p.o_batch_stride) +
                         static_cast<int64_t>(h) * p.o_head_stride + col0;
  const int cols = p.head_dim - col0;  // columns of this tile present in the output
  // This thread's columns 8k + 2c, 8k + 2c + 1: scale/mean loaded from shared memory once for both
  // rows and before any global store (interleaved, each load would wait behind the previous store).
  constexpr int kGroups = kHeadDim / 8;  // 8-column groups: registers 4k .. 4k + 3
  static_assert(kO == 4 * kGroups, "O accumulator of the head");
  float2 vs[kGroups], vm[kGroups];
#pragma unroll
  for (int k = 0; k < kGroups; ++k) {
    vs[k] = ld_shared_f32x2(v_scale + 8 * k + 2 * c);
    vm[k] = v_mean != nullptr ? ld_shared_f32x2(v_mean + 8 * k + 2 * c) : make_float2(0.0f, 0.0f);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row0 + 8 * r;
    const float l = softmax.row_total(r);
    if (row >= seq.lq) continue;
    const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
    const bool add_mean = v_mean != nullptr;
    T* out = static_cast<T*>(p.o) + o_base + (seq.q_row0 + row) * p.o_token_stride;
    // All values are packed before the first store: reusing one register for each store's data
    // would make every pack wait until the previous store has read it.
    uint32_t packed[kGroups];
#pragma unroll
    for (int k = 0; k < kGroups; ++k) {
      // A row with no visible key is written as 0 whatever O holds (the MMA's 0 · inf V is NaN).
      const float y0 = l > 0.0f ? o[4 * k + 2 * r] * inv_l * vs[k].x + (add_mean ? vm[k].x : 0.0f) : 0.0f;
      const float y1 = l > 0.0f ? o[4 * k + 2 * r + 1] * inv_l * vs[k].y + (add_mean ? vm[k].y : 0.0f) : 0.0f;
      packed[k] = pack_16bit_x2<T>(y0, y1);
    }
    if (o_stage != nullptr) {
      // Row `stage_row` of the warpgroup's 64, columns 8k + 2c, 8k + 2c + 1: box k / 8, 16-byte
      // chunk k % 8 of the row, XOR-swizzled with the row (conflict-free: the 8 rows of a store
      // land in 8 different chunks).
      const int stage_row = (threadIdx.x % 128) / 32 * 16 + (threadIdx.x % 32) / 4 + 8 * r;
#pragma unroll
      for (int k = 0; k < kGroups; ++k) {
        const int offset = (k / 8) * 64 * 128 + stage_row * 128 + (((k % 8) ^ (stage_row % 8)) << 4) + 4 * c;
        st_shared_u32(o_stage + offset, packed[k]);
      }
    } else {
#pragma unroll
      for (int k = 0; k < kGroups; ++k) {
        const int col = 8 * k + 2 * c;
        if (col < cols) *reinterpret_cast<uint32_t*>(out + col) = packed[k];
      }
    }
    if (p.lse != nullptr && c == 0 && col0 == 0) {
      float lse = -INFINITY;
      if (l > 0.0f) {
        // l = 2^offset * sum exp2(S - m): undo the P offset, then add back q . k_mean of smoothing.
        lse = (softmax.row_max[r] + __log2f(l) - Softmax::kPOffsetLog2) * kLn2 + p.sm_scale * qq.kmean_dot[r];
      }
      const int64_t idx = p.cu_seqlens_q != nullptr
                              ? static_cast<int64_t>(h) * p.lse_head_stride + seq.q_row0 + row
                              : static_cast<int64_t>(b) * p.lse_batch_stride +
                                    static_cast<int64_t>(h) * p.lse_head_stride + row;
      p.lse[idx] = lse;
    }
  }
}

// The warpgroup's staged output tile (epilogue_store with o_stage) -> global memory by TMA: every
// thread fences its shared stores for the async proxy, the warpgroup meets, and thread 0 issues one
// store per 64-column box (bulk async-group; the caller waits for it before the stage is rewritten
// and before the CTA exits). row: the tile's first sequence row in the tensor.
template <class Tr>
__device__ __forceinline__ void store_staged_o(const void* tma_o, const uint8_t* o_stage, int cw, int64_t row, int h,
                                               int b) {
  fence_view_async_shared();
  named_barrier_sync(static_cast<int>(NamedBarrier::kEpilogueWg0) + cw, 128);
  if (threadIdx.x % 128 == 0) {
#pragma unroll
    for (int box = 0; box < Tr::kHeadDim / Tr::kOBoxColumns; ++box) {
      tma_store_4d(tma_o, o_stage + box * Tr::kRowsPerWarpgroup * 128, box * Tr::kOBoxColumns, static_cast<int>(row),
                   h, b);
    }
    bulk_commit_group();
  }
}

}  // namespace sageattention::sm90
