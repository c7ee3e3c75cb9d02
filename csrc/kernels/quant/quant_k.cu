// K pre-pass, one launch: per-sequence channel mean (statistics sweep), then INT8 quantization of
// K - mean in the groups of quant_layout.h (quantization sweep). Sweeps, CTA ownership and why it
// needs no grid-wide sync: quant_sweep.cuh. Deterministic: fixed summation order, no atomics.
#include <cuda_runtime.h>

#include "kernels/common/dependent_launch.h"
#include "kernels/common/sequence.cuh"
#include "kernels/quant/quant_sweep.cuh"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_math.h"

namespace sageattention::kernels::quant {
namespace {

// quantize_int8 (quant_math.h) of four values, packed into a word, with full-rate instructions
// instead of the quarter-rate F2I and two clamps: adding 1.5 * 2^23 (fp32 ulp 1 there) rounds
// x * inv to the nearest integer, ties to even, and the low byte of the sum's bits is that
// integer's two's complement byte. |x| <= group amax bounds |x * inv| by 127 * (1 + 2^-23), so the
// reference's clamp to +-127 never acts.
__device__ __forceinline__ uint32_t quantize4_int8(float a, float b, float c, float d, float inv) {
  constexpr float kRoundToInt = 12582912.0f;
  const auto q = [&](float x) { return __float_as_uint(__fadd_rn(__fmul_rn(x, inv), kRoundToInt)); };
  return __byte_perm(__byte_perm(q(a), q(b), 0x0040), __byte_perm(q(c), q(d), 0x0040), 0x5410);
}

}  // namespace

// One CTA per (chunk, head, sequence); an INT8 group needs whole token rows, so the owner is the
// whole head. Thread = (token row of a step, 8 channels): kDp / 8 lanes share a row, so each warp
// load covers whole rows.
// Kernels stay out of the anonymous namespace: profiler tables truncate names, and this keeps
// "k_quant_kernel" / "v_quant_kernel" inside the part they show.
template <int kDp, bool kBf16>
__device__ __forceinline__ void k_quant_sweeps(const QuantKParams& p, int chunks) {
  constexpr int kLanesPerRow = kDp / 8;                            // 8, 16, 32
  constexpr int kRowsPerStep = kSweepThreads / kLanesPerRow;        // 64, 32, 16
  constexpr int kTokensPerIter = kRowsPerStep * kLoadsPerThread;    // 512, 256, 128
  constexpr int kBlocksPerIter = kTokensPerIter / kKBlockTokens;    // 8, 4, 2: one warp reduces each
  static_assert(kTokensPerIter % kKBlockTokens == 0 && kBlocksPerIter <= kWarps, "block per warp");

  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const SequenceSlot seq = locate_sequence(p.seq, b, p.k.batch_stride, p.k.token_stride);
  const TokenRange range = chunk_range(static_cast<int>(round_up(seq.len, kTokenPad)), chunk, chunks);
  if (chunk > 0 && range.begin == range.end) return;  // chunk 0 always writes the mean

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = threadIdx.x / kLanesPerRow, c0 = (threadIdx.x % kLanesPerRow) * 8;
  const bool live = c0 < p.head_dim;  // head_dim % 8 == 0: 8 channels are all real or all padding
  const int64_t token_bytes = 2 * p.k.token_stride;
  const char* src = static_cast<const char*>(p.k.ptr) + 2 * (seq.raw_offset + int64_t{h} * p.k.head_stride + c0);

  // ---- Statistics sweep: channel sums, each thread over its rows in token order, then the lanes
  // of a warp that share channels (butterfly), then the warps in order.
  __shared__ float warp_sum[kWarps][kDp];
  __shared__ __align__(16) float mean_smem[kDp];
  if (p.smooth) {
    float sum[8] = {};
    if (live) {
      for (int t0 = row; t0 < seq.len; t0 += kTokensPerIter) {
        uint4 raw[kLoadsPerThread];
#pragma unroll
        for (int u = 0; u < kLoadsPerThread; ++u) {
          const int t = t0 + u * kRowsPerStep;
          raw[u] = t < seq.len ? load_first(src + t * token_bytes) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < kLoadsPerThread; ++u) {
          float x[8];
          unpack8<kBf16>(raw[u], x);
#pragma unroll
          for (int i = 0; i < 8; ++i) sum[i] += x[i];  // + 0 past the end changes nothing
        }
      }
    }
#pragma unroll
    for (int offset = kLanesPerRow; offset < 32; offset *= 2) {
#pragma unroll
      for (int i = 0; i < 8; ++i) sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], offset);
    }
    if (lane < kLanesPerRow) {
#pragma unroll
      for (int i = 0; i < 8; ++i) warp_sum[warp][c0 + i] = sum[i];
    }
    __syncthreads();
    if (threadIdx.x < kDp) {
      float total = 0.0f;
      for (int w = 0; w < kWarps; ++w) total += warp_sum[w][threadIdx.x];
      const bool real = static_cast<int>(threadIdx.x) < p.head_dim && seq.len > 0;
      mean_smem[threadIdx.x] = real ? fdiv_rn(total, static_cast<float>(seq.len)) : 0.0f;
    }
  } else if (threadIdx.x < kDp) {
    mean_smem[threadIdx.x] = 0.0f;
  }
  __syncthreads();
  if (chunk == 0 && threadIdx.x < kDp)
    p.k_mean[(int64_t{b} * p.heads + h) * kDp + threadIdx.x] = mean_smem[threadIdx.x];
  // Read from shared memory at each use: holding it would cost 8 of the 64 registers.
  const auto channel_mean = [&](float (&m)[8]) {
    const float4 lo = *reinterpret_cast<const float4*>(&mean_smem[c0]);
    const float4 hi = *reinterpret_cast<const float4*>(&mean_smem[c0 + 4]);
    m[0] = lo.x, m[1] = lo.y, m[2] = lo.z, m[3] = lo.w, m[4] = hi.x, m[5] = hi.y, m[6] = hi.z, m[7] = hi.w;
  };

  // ---- Quantization sweep over this chunk's range, kTokensPerIter tokens at a time, last first.
  // Row amax (lanes of a row) -> shared memory -> group amax (one warp per 64-token block) ->
  // shared memory -> quantize. Padding tokens are zeros, as in the reference.
  __shared__ float row_amax[kTokensPerIter];
  __shared__ float group_inv[kBlocksPerIter][kThreadGroupsPerKBlock];
  const bool per_thread = p.gran == QuantGranularity::kPerThread;
  const int64_t head_index = int64_t{seq.quant_batch} * p.heads + h;
  int8_t* dst = p.k8 + (head_index * p.seq.padded_tokens + seq.pad_start) * kDp + c0;
  float* scale = p.k_scale + head_index * k_scale_count(p.gran, p.seq.padded_tokens);
  const int data_end = min(seq.len, range.end);
  const int iters = static_cast<int>(ceil_div(range.end - range.begin, kTokensPerIter));
  for (int t0 = range.begin + (iters - 1) * kTokensPerIter; t0 >= range.begin; t0 -= kTokensPerIter) {
    uint4 raw[kLoadsPerThread];
#pragma unroll
    for (int u = 0; u < kLoadsPerThread; ++u) {
      const int t = t0 + u * kRowsPerStep + row;
      raw[u] = live && t < data_end ? load_last(src + t * token_bytes) : make_uint4(0, 0, 0, 0);
    }
    __syncwarp();  // keeps all loads above the first use (else the scheduler interleaves them with it)
#pragma unroll
    for (int u = 0; u < kLoadsPerThread; ++u) {
      // Padding rows are zeros, not 0 - mean: their amax is replaced by 0 (a select per row, not
      // per value).
      float x[8], mean[8];
      unpack8<kBf16>(raw[u], x);
      channel_mean(mean);
      float amax = 0.0f;
#pragma unroll
      for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(fsub_rn(x[i], mean[i])));
      if (t0 + u * kRowsPerStep + row >= data_end) amax = 0.0f;
#pragma unroll
      for (int offset = 1; offset < kLanesPerRow; offset *= 2)
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
      if (c0 == 0) row_amax[u * kRowsPerStep + row] = amax;
    }
    __syncthreads();
    if (warp < kBlocksPerIter && t0 + warp * kKBlockTokens < range.end) {
      // Lane holds rows lane and lane + 32 of the block: per-thread group (row % 8) / 2 of both.
      float m = fmaxf(row_amax[warp * kKBlockTokens + lane], row_amax[warp * kKBlockTokens + lane + 32]);
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      if (!per_thread) {
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
      }
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 8));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 16));
      const int groups = per_thread ? kThreadGroupsPerKBlock : 1;
      if (lane % 2 == 0 && lane < 2 * groups) {  // lane 2g holds group g
        const int g = lane / 2;
        group_inv[warp][g] = int8_inv_scale(m);
        scale[k_group(p.gran, seq.pad_start + t0 + warp * kKBlockTokens) + g] = int8_scale(m);
      }
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kLoadsPerThread; ++u) {
      const int t = t0 + u * kRowsPerStep + row;
      if (t >= range.end) continue;
      const float inv = group_inv[(u * kRowsPerStep + row) / kKBlockTokens][per_thread ? (t % 8) / 2 : 0];
      float x[8], mean[8];
      unpack8<kBf16>(raw[u], x);
      channel_mean(mean);
#pragma unroll
      for (int i = 0; i < 8; ++i) x[i] = fsub_rn(x[i], mean[i]);
      uint2 q = make_uint2(quantize4_int8(x[0], x[1], x[2], x[3], inv), quantize4_int8(x[4], x[5], x[6], x[7], inv));
      if (t >= data_end) q = make_uint2(0, 0);  // padding tokens are zeros
      *reinterpret_cast<uint2*>(dst + int64_t{t} * kDp) = q;
    }
  }
}

// Launched dependent (dependent_launch.h): waits for the previous kernel, then lets the next one
// (quant_v of the same op) start while this one runs.
template <int kDp, bool kBf16>
__global__ void __launch_bounds__(kSweepThreads, kCtasPerSm) k_quant_kernel(QuantKParams p, int chunks) {
  griddep_wait();
  griddep_launch_dependents();
  k_quant_sweeps<kDp, kBf16>(p, chunks);
}

namespace {

template <int kDp>
cudaError_t launch(const QuantKParams& p, int chunks, cudaStream_t stream) {
  const dim3 grid(chunks, p.heads, p.seq.batch);
  auto kernel = p.dtype == DType::kBFloat16 ? k_quant_kernel<kDp, true> : k_quant_kernel<kDp, false>;
  return launch_dependent(kernel, grid, dim3(kSweepThreads), 0, stream, p, chunks);
}

}  // namespace
}  // namespace sageattention::kernels::quant

namespace sageattention::cuda {

Status quant_k(const QuantKParams& p, void* stream_ptr) {
  using namespace kernels;
  if (const std::optional<Status> s = quant::status_before_sweep(p, p.k)) return *s;
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int chunks = quant::chunks_per_owner(int64_t{p.seq.batch} * p.heads, p.seq.seqlen);
  cudaError_t err = cudaSuccess;
  switch (p.head_dim_padded) {
    case 64: err = quant::launch<64>(p, chunks, stream); break;
    case 128: err = quant::launch<128>(p, chunks, stream); break;
    default: err = quant::launch<256>(p, chunks, stream); break;
  }
  return err == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

}  // namespace sageattention::cuda
