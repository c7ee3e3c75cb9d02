// Q prologue of the mma.sync attention: raw fp16/bf16 Q rows -> INT8 A-operand fragments in
// registers, quantized with the Q groups of quant_layout.h (rows counted from the sequence start,
// tiles are 128-row aligned, so a tile holds whole groups of every granularity). The arithmetic is
// quant_math.h's, so the INT8 bits equal the reference's.
#pragma once

#include <cuda_fp16.h>

#include "kernels/common/dependent_launch.h"
#include "kernels/common/sequence.cuh"
#include "sageattention/params.h"
#include "sageattention/quant_math.h"

namespace sageattention::kernels {

template <int kSlices>
struct QFragments {
  float scale_log2[kSlices] = {};          // q_scale * sm_scale * log2(e): scores in log2 units
  float kmean_dot[kSlices][2] = {};        // q . k_mean of rows g and g+8 (raw q, fp32), for the LSE
};

// 4 consecutive fp16/bf16 values, or zeros when !live. Predicated rather than branched, so that a
// thread's loads are all in flight before the first conversion waits on one. A plain (coherent)
// ld.global: with ld.global.nc ptxas schedules the kernel's griddepcontrol.wait above these loads,
// which then no longer overlap the pre-pass (sm_90 SASS).
__device__ __forceinline__ uint2 load4_raw(const char* p, bool live) {
  uint2 r;
  asm volatile("{\n .reg .pred live;\n setp.ne.b32 live, %3, 0;\n mov.b32 %0, 0;\n mov.b32 %1, 0;\n"
      " @live ld.global.v2.u32 {%0, %1}, [%2];\n}\n"
      : "=r"(r.x), "=r"(r.y)
      : "l"(p), "r"(static_cast<int>(live)));
  return r;
}

__device__ __forceinline__ float4 raw4_to_float(const uint2 raw, bool bf16) {
  const uint32_t w[2] = {raw.x, raw.y};
  float f[4];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const uint32_t lo = w[i] & 0xFFFFu, hi = w[i] >> 16;
    if (bf16) {
      f[2 * i] = __uint_as_float(lo << 16);
      f[2 * i + 1] = __uint_as_float(hi << 16);
    } else {
      f[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(lo)));
      f[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(hi)));
    }
  }
  return make_float4(f[0], f[1], f[2], f[3]);
}

// This thread's Q values of one m16 slice starting at sequence row `slice_row0`, in A-fragment
// order: raw[s][i] = row g + 8(i % 2), channels 32s + 16(i / 2) + 4c .. +3.
template <int kDp>
__device__ __forceinline__ void load_q_slice(const AttentionParams& p, const SequenceSlot& seq, const char* base,
                                             int slice_row0, uint2 (&raw)[kDp / 32][4]) {
  const int lane = threadIdx.x % 32, g = lane / 4, c = lane % 4;
#pragma unroll
  for (int s = 0; s < kDp / 32; ++s) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = slice_row0 + g + 8 * (i % 2), ch = 32 * s + 16 * (i / 2) + 4 * c;
      const bool live = row < seq.len && ch < p.head_dim;
      raw[s][i] = load4_raw(base + 2 * (int64_t{live ? row : 0} * p.q.token_stride + (live ? ch : 0)), live);
    }
  }
}

__device__ __forceinline__ uint32_t quantize4(const float4& x, float inv) {
  return static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x.x, inv))) |
         static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x.y, inv))) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x.z, inv))) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x.w, inv))) << 24;
}

// Loads the rows (g, g+8) of each of the warp's m16 slices (slice i starts at row0 + 16i) into
// m16n8k32 A fragments: a[i][s] = {row g: ch 32s+4c.., row g+8: same, row g: ch 32s+16+4c.., row
// g+8: same}. `amax_smem` (one float per warp) serves the per-block reduction; all threads call this.
// `after_loads` runs once the first slice's loads are issued and before any of them is used.
template <int kDp, int kSlices, int kWarps, class AfterLoads>
__device__ __forceinline__ QFragments<kSlices> load_quantize_q(const AttentionParams& p, const SequenceSlot& seq,
                                                               int head, int row0, int kv_batch_head,
                                                               uint32_t (&a)[kSlices][kDp / 32][4],
                                                               float* amax_smem, AfterLoads&& after_loads) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, c = lane % 4;
  const bool bf16 = p.dtype == DType::kBFloat16;
  const char* base = static_cast<const char*>(p.q.ptr) + 2 * (seq.raw_offset + int64_t{head} * p.q.head_stride);
  QFragments<kSlices> f;
  float amax[kSlices];
#pragma unroll
  for (int sl = 0; sl < kSlices; ++sl) {
    uint2 raw[kDp / 32][4];
    load_q_slice<kDp>(p, seq, base, row0 + 16 * sl, raw);
    if (sl == 0) after_loads();
    float4 x[kDp / 32][4];
    amax[sl] = 0.0f;
#pragma unroll
    for (int s = 0; s < kDp / 32; ++s) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        x[s][i] = raw4_to_float(raw[s][i], bf16);
        amax[sl] = fmaxf(amax[sl], fmaxf(fmaxf(fabsf(x[s][i].x), fabsf(x[s][i].y)),
                                         fmaxf(fabsf(x[s][i].z), fabsf(x[s][i].w))));
      }
    }
    // Per-thread group: rows {g, g+8} live in the 4 lanes of a quad; per-warp: the whole slice.
    amax[sl] = fmaxf(amax[sl], __shfl_xor_sync(0xffffffffu, amax[sl], 1));
    amax[sl] = fmaxf(amax[sl], __shfl_xor_sync(0xffffffffu, amax[sl], 2));
    if (p.qk_gran != QuantGranularity::kPerThread) {
#pragma unroll
      for (int m = 4; m < 32; m *= 2) amax[sl] = fmaxf(amax[sl], __shfl_xor_sync(0xffffffffu, amax[sl], m));
    }
    // Quantized now for per-thread / per-warp groups; per-block waits for the CTA-wide amax.
    if (p.qk_gran != QuantGranularity::kPerBlock) {
      const float inv = int8_inv_scale(amax[sl]);
#pragma unroll
      for (int s = 0; s < kDp / 32; ++s)
#pragma unroll
        for (int i = 0; i < 4; ++i) a[sl][s][i] = quantize4(x[s][i], inv);
    } else {
#pragma unroll
      for (int s = 0; s < kDp / 32; ++s)
#pragma unroll
        for (int i = 0; i < 4; ++i) a[sl][s][i] = 0;
    }
    if (p.k_mean != nullptr && p.lse != nullptr) {
      griddep_wait();  // k_mean comes from the K pre-pass (no-op unless launched dependent)
      const float* mean = p.k_mean + int64_t{kv_batch_head} * kDp;
#pragma unroll
      for (int s = 0; s < kDp / 32; ++s) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int ch = 32 * s + 16 * (i / 2) + 4 * c;
          const float4 m = *reinterpret_cast<const float4*>(mean + ch);
          f.kmean_dot[sl][i % 2] += x[s][i].x * m.x + x[s][i].y * m.y + x[s][i].z * m.z + x[s][i].w * m.w;
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        f.kmean_dot[sl][r] += __shfl_xor_sync(0xffffffffu, f.kmean_dot[sl][r], 1);
        f.kmean_dot[sl][r] += __shfl_xor_sync(0xffffffffu, f.kmean_dot[sl][r], 2);
      }
    }
  }
  if (p.qk_gran == QuantGranularity::kPerBlock) {
    // One group for the whole 128-row tile: reduce over warps, then quantize from a re-read of
    // the (L1/L2-resident) rows, which keeps the fp32 copies out of registers meanwhile.
    float warp_max = 0.0f;
#pragma unroll
    for (int sl = 0; sl < kSlices; ++sl) warp_max = fmaxf(warp_max, amax[sl]);
    if (lane == 0) amax_smem[warp] = warp_max;
    __syncthreads();
    float block_max = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) block_max = fmaxf(block_max, amax_smem[w]);
    const float inv = int8_inv_scale(block_max);
#pragma unroll
    for (int sl = 0; sl < kSlices; ++sl) {
      amax[sl] = block_max;
      uint2 raw[kDp / 32][4];
      load_q_slice<kDp>(p, seq, base, row0 + 16 * sl, raw);
#pragma unroll
      for (int s = 0; s < kDp / 32; ++s) {
#pragma unroll
        for (int i = 0; i < 4; ++i) a[sl][s][i] = quantize4(raw4_to_float(raw[s][i], bf16), inv);
      }
    }
  }
#pragma unroll
  for (int sl = 0; sl < kSlices; ++sl) f.scale_log2[sl] = int8_scale(amax[sl]) * (p.sm_scale * kLog2e);
  return f;
}

}  // namespace sageattention::kernels
