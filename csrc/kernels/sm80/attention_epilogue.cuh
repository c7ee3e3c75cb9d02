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

template <class Cfg, class State, class QF>
__device__ __forceinline__ void write_output(const AttentionParams& p, const SequenceSlot& q_seq, int b, int head,
                                             int kv_head, int row0, State& st, const QF& qf) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
  const bool bf16 = p.dtype == DType::kBFloat16;
  const SequenceSlot o_seq = locate_sequence(p.seq_q, b, p.o.batch_stride, p.o.token_stride);
  const int64_t stats = (int64_t{b} * p.heads_kv + kv_head) * Cfg::kDp;  // v_scale / v_mean row
  constexpr float kPOffset = Cfg::kFp8 ? kLog2Fp8Max : 0.0f;
#pragma unroll
  for (int sl = 0; sl < Cfg::kSlices; ++sl) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = st.row_sum[sl][r];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const int row = row0 + 16 * sl + g + 8 * r;
      if (row >= q_seq.len) continue;
      const bool empty = sum == 0.0f;  // the row saw no key: O = 0, LSE = -inf
      char* dst = static_cast<char*>(p.o.ptr) +
                  2 * (o_seq.raw_offset + int64_t{row} * p.o.token_stride + int64_t{head} * p.o.head_stride);
#pragma unroll
      for (int n = 0; n < Cfg::kDimTiles; ++n) {
        const int ch = 8 * n + 2 * c;
        if (ch >= p.head_dim) continue;
        float x[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          float v = empty ? 0.0f : __fdiv_rn(st.o[sl][n][2 * r + i], sum);
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
  }
}

}  // namespace sageattention::kernels
