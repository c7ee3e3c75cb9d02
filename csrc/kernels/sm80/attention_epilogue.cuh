// Epilogue of the mma.sync attention: normalise O, undo the V quantization (FP8: × v_scale, + v_mean),
// cast, store the head_dim real columns; LSE in natural log with the smooth-K correction.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/common/sequence.cuh"
#include "kernels/sm80/attention_q_tile.cuh"
#include "sageattention/params.h"

namespace sageattention::kernels {

__device__ __forceinline__ uint32_t pack_output(float x0, float x1, bool bf16) {
  if (bf16) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(x0, x1);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
  const __half2 v = __floats2half2_rn(x0, x1);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// O of one 16-row slice (the fp32-accumulating FP16 mode), already divided by the row sums, through
// the warp's own shared-memory rows `stage` (its Q rows, free after the key loop; kKPitch bytes
// each) in two half-width passes, so that each row leaves as whole 16-byte chunks: 4 rows of
// 128 contiguous bytes per warp store instead of 8 rows of 16 bytes. head_dim % 8 == 0 and
// 16-byte aligned rows are launch conditions (shape_supported), so a chunk is all in or all out.
template <class Cfg>
__device__ __forceinline__ void store_slice_staged(const AttentionParams& p, const SequenceSlot& o_seq, int head,
                                                   int slice_row0, int rows, const float (&o)[Cfg::kDimTiles][4],
                                                   const float (&inv_sum)[2], uint32_t stage, bool bf16) {
  constexpr int kHalfTiles = Cfg::kDimTiles / 2, kChunksPerRow = Cfg::kDp / 16;  // 16-byte chunks per half row
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    __syncwarp();  // the previous pass (or the key loop's Q reads) is done with the rows
#pragma unroll
    for (int n = 0; n < kHalfTiles; ++n) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float* x = &o[half * kHalfTiles + n][2 * r];
        const uint32_t at = stage + (g + 8 * r) * Cfg::kKPitch + (8 * n + 2 * c) * 2;
        // inv_sum 0 marks a row with no visible key: written as 0 whatever O holds (0 · inf V).
        const bool empty = inv_sum[r] == 0.0f;
        asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(at),
                     "r"(pack_output(empty ? 0.0f : x[0] * inv_sum[r], empty ? 0.0f : x[1] * inv_sum[r], bf16)));
      }
    }
    __syncwarp();
#pragma unroll
    for (int i = lane; i < 16 * kChunksPerRow; i += 32) {
      const int row = i / kChunksPerRow, col = half * Cfg::kDp / 2 + (i % kChunksPerRow) * 8;
      if (row >= rows || col >= p.head_dim) continue;
      uint4 v;
      asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                   : "r"(stage + row * Cfg::kKPitch + (i % kChunksPerRow) * 16));
      char* dst = static_cast<char*>(p.o.ptr) + 2 * (o_seq.raw_offset + int64_t{slice_row0 + row} * p.o.token_stride +
                                                     int64_t{head} * p.o.head_stride + col);
      *reinterpret_cast<uint4*>(dst) = v;
    }
  }
}

template <class Cfg, class State, class QF>
__device__ __forceinline__ void write_output(const AttentionParams& p, const SequenceSlot& q_seq, int b, int head,
                                             int kv_head, int row0, State& st, const QF& qf, uint32_t stage) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const bool bf16 = p.dtype == DType::kBFloat16;
  const SequenceSlot o_seq = locate_sequence(p.seq_q, b, p.o.batch_stride, p.o.token_stride);
  const int64_t stats = (int64_t{b} * p.heads_kv + kv_head) * Cfg::kDp;  // v_scale / v_mean row
  constexpr float kPOffset = Cfg::kFp8 ? kLog2Fp8Max : 0.0f;
  // The staged store serves the fp32-accumulating FP16 mode with no V mean to add back.
  const bool staged = Cfg::kPVMode == PVMode::kFp16Fp32 && p.v_mean == nullptr;
#pragma unroll
  for (int sl = 0; sl < Cfg::kSlices; ++sl) {
    float inv_sums[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = st.row_sum[sl][r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = row0 + 16 * sl + g + 8 * r;
      if (row >= q_seq.len) continue;
      const bool empty = sum == 0.0f;  // the row saw no key: O = 0, LSE = -inf
      // One correctly rounded reciprocal per row, then products (as the Hopper kernel's epilogue).
      const float inv_sum = empty ? 0.0f : __frcp_rn(sum);
      inv_sums[r] = inv_sum;
      char* dst = static_cast<char*>(p.o.ptr) +
                  2 * (o_seq.raw_offset + int64_t{row} * p.o.token_stride + int64_t{head} * p.o.head_stride);
#pragma unroll
      for (int n = 0; n < Cfg::kDimTiles && !staged; ++n) {
        const int ch = 8 * n + 2 * c;
        if (ch >= p.head_dim) continue;
        float x[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          float v = empty ? 0.0f : st.o[sl][n][2 * r + i] * inv_sum;
          if constexpr (Cfg::kFp8) {
            if (!empty) v = __fmul_rn(v, p.v_scale[stats + ch + i]);
          }
          if (p.v_mean != nullptr && !empty) v = __fadd_rn(v, p.v_mean[stats + ch + i]);
          x[i] = v;
        }
        *reinterpret_cast<uint32_t*>(dst + 2 * ch) = pack_output(x[0], x[1], bf16);
      }
      if (p.lse != nullptr && c == 0) {
        float lse = -INFINITY;
        if (!empty) {
          lse = (st.row_max[sl][r] + log2f(sum) - kPOffset) * kLn2;
          if (p.k_mean != nullptr) lse += p.sm_scale * qf.kmean_dot[sl][r];
        }
        const int64_t at = p.seq_q.cu_seqlens != nullptr
                               ? int64_t{head} * p.lse_head_stride + p.seq_q.cu_seqlens[b] + row
                               : int64_t{b} * p.lse_batch_stride + int64_t{head} * p.lse_head_stride + row;
        p.lse[at] = lse;
      }
    }
    if (staged) {
      const int slice_row0 = row0 + 16 * sl;
      store_slice_staged<Cfg>(p, o_seq, head, slice_row0, q_seq.len - slice_row0, st.o[sl], inv_sums,
                              stage + sl * kQWarpRows * Cfg::kKPitch, bf16);
    }
  }
}

}  // namespace sageattention::kernels
