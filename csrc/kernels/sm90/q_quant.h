// In-kernel INT8 quantization of the raw fp16/bf16 Q tile (no INT8 Q buffer in device memory).
// A consumer thread owns rows r and r+8 of its warp's 16-row slice: exactly its wgmma accumulator
// rows and the per-thread Q group of quant_layout.h, so its one Q scale needs no exchange later.
// The quad (4 lanes of those two rows) splits the columns in 16-byte chunks and reduces the amax.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "sageattention/quant_math.h"
#include "sageattention/types.h"
#include "kernels/sm90/pipeline.h"
#include "kernels/sm90/ptx.h"

namespace sageattention::sm90 {

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& raw, float (&x)[8]) {
  const T* h = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    if constexpr (sizeof(T) == 2 && std::is_same_v<T, __half>) {
      x[i] = __half2float(h[i]);
    } else {
      x[i] = __bfloat162float(h[i]);
    }
  }
}

// Byte offset of (row, byte column) in a K-major int8 tile with `kSwizzle`-byte rows, as TMA's
// 64B/128B swizzle places it: the 16-byte chunk index is XORed with the row within the period.
template <int kSwizzle>
__device__ __forceinline__ int swizzled_offset(int row, int col_byte) {
  const int logical = row * kSwizzle + col_byte;
  constexpr int kMask = kSwizzle == 128 ? 7 : 3;
  return logical ^ (((logical >> 7) & kMask) << 4);
}

// Byte offset of (row, byte column) in one consumer warpgroup's 64-row Q8 tile of kQKDim columns:
// slabs of 64 rows x kSwizzle bytes (one slab up to 128 columns, two at 256), each swizzled as TMA
// and wgmma expect.
template <int kQKDim>
__device__ __forceinline__ int q8_offset(int row, int col_byte) {
  constexpr int kSwizzle = kQKDim < 128 ? kQKDim : 128;
  return col_byte / kSwizzle * (64 * kSwizzle) + swizzled_offset<kSwizzle>(row, col_byte % kSwizzle);
}

struct QuantizedQ {
  float scale_log2;   // int8 scale * sm_scale * log2(e): multiplies the int32 scores
  float kmean_dot[2]; // q . k_mean of rows g, g + 8 (LSE correction), 0 when not needed
};

// Quantizes this consumer warpgroup's 64 rows of the raw tile (shared memory, kHeadDim elements
// per row, zero-filled past head_dim by TMA) into q8 (its own 64 swizzled rows) and returns this
// thread's scale. `rows_valid`: rows of the sequence left from the warpgroup's first row (rows past
// it count as zeros, so they never raise a group's amax). Each warp arrives on q_empty once its
// raw rows are in registers, so the producer can prefetch the next tile's Q.
// q_rows/row_stride/head_dim: the shared-memory tile (row_stride = kHeadDim, q_empty set) or, for
// varlen inputs, the rows in global memory (q_empty nullptr).
// kWholeQBlocks: the work tile is one per-block Q group (kQBlockRows rows, two warpgroups); tiles
// of another height do not run per-block groups (the host sends those calls elsewhere).
template <typename T, int kHeadDim, bool kWholeQBlocks>
__device__ __forceinline__ QuantizedQ quantize_q_tile(const T* q_rows, int64_t row_stride, int head_dim,
                                                      int rows_valid, uint64_t* q_empty, int8_t* q8_wg, const float* k_mean, int q_gran,
                                                      float sm_scale_log2, float* block_amax, int wg,
                                                      int tile_parity) {
  constexpr int kChunks = kHeadDim / 8;       // 16-byte chunks of raw Q per row
  constexpr int kChunksPerLane = kChunks / 4;
  const int tid = threadIdx.x % 128;
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const int rows[2] = {warp * 16 + g, warp * 16 + g + 8};

  uint4 raw[2][kChunksPerLane];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
#pragma unroll
    for (int i = 0; i < kChunksPerLane; ++i) {
      raw[r][i] = rows[r] < rows_valid && (c + 4 * i) * 8 < head_dim
                      ? *reinterpret_cast<const uint4*>(q_rows + rows[r] * row_stride + (c + 4 * i) * 8)
                      : make_uint4(0, 0, 0, 0);
    }
  }
  if (q_empty != nullptr) {
    __syncwarp();
    if (lane == 0) mbar_arrive(q_empty);
  }

  float x[2][kChunksPerLane][8];
  float amax = 0.0f;
  QuantizedQ out;
  out.kmean_dot[0] = out.kmean_dot[1] = 0.0f;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
#pragma unroll
    for (int i = 0; i < kChunksPerLane; ++i) {
      const int chunk = c + 4 * i;
      unpack8<T>(raw[r][i], x[r][i]);
#pragma unroll
      for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(x[r][i][e]));
      if (k_mean != nullptr) {
#pragma unroll
        for (int e = 0; e < 8; ++e) out.kmean_dot[r] = fmaf(x[r][i][e], k_mean[chunk * 8 + e], out.kmean_dot[r]);
      }
    }
  }
  if (k_mean != nullptr) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      out.kmean_dot[r] += __shfl_xor_sync(0xffffffffu, out.kmean_dot[r], 1);
      out.kmean_dot[r] += __shfl_xor_sync(0xffffffffu, out.kmean_dot[r], 2);
    }
  }
  // Group amax: quad (per-thread), warp (per-warp) or the whole 128-row tile (per-block).
  amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
  amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
  if (q_gran != static_cast<int>(QuantGranularity::kPerThread)) {
#pragma unroll
    for (int m = 4; m < 32; m <<= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, m));
  }
  if (kWholeQBlocks && q_gran == static_cast<int>(QuantGranularity::kPerBlock)) {
    float* slots = block_amax + tile_parity * 8;  // double-buffered across tiles
    if (lane == 0) slots[wg * 4 + warp] = amax;
    named_barrier_sync(static_cast<int>(NamedBarrier::kBlockAmax), 256);
#pragma unroll
    for (int s = 0; s < 8; ++s) amax = fmaxf(amax, slots[s]);
  }
  const float inv = int8_inv_scale(amax);
  out.scale_log2 = fmul_rn(int8_scale(amax), sm_scale_log2);

  // The wgmma reads of the previous tile's Q8 are complete (wait_group 0); order the async-proxy
  // reads before these generic writes.
  fence_view_async_shared();
#pragma unroll
  for (int r = 0; r < 2; ++r) {
#pragma unroll
    for (int i = 0; i < kChunksPerLane; ++i) {
      uint32_t w[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        uint32_t v = 0;
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          v |= static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x[r][i][h * 4 + e], inv))) << (8 * e);
        }
        w[h] = v;
      }
      const int chunk = c + 4 * i;
      *reinterpret_cast<uint2*>(q8_wg + q8_offset<kHeadDim>(rows[r], chunk * 8)) = make_uint2(w[0], w[1]);
    }
  }
  // Generic-proxy stores -> visible to this warpgroup's wgmma (async proxy).
  fence_view_async_shared();
  named_barrier_sync(static_cast<int>(NamedBarrier::kQ8ReadyWg0) + wg, 128);
  return out;
}

}  // namespace sageattention::sm90
