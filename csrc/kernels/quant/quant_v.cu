// V pre-pass, one launch: per-sequence channel statistics (mean when smoothing, amax), then FP8
// e4m3 quantization, transposed to [Dp, T] with tokens permuted inside 32-token groups
// (v_perm_token). Sweeps, CTA ownership and why it needs no grid-wide sync: quant_sweep.cuh.
// V's statistics are per channel, so an owner is a 64-channel slice (128 bytes of a bf16 token row:
// whole cache lines) of one (sequence, head). Deterministic: fixed summation order, no atomics.
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include "kernels/common/dependent_launch.h"
#include "kernels/common/sequence.cuh"
#include "kernels/quant/quant_sweep.cuh"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_math.h"

namespace sageattention::kernels::quant {
namespace {

constexpr int kSliceChannels = 64;
constexpr int kLanesPerRow = kSliceChannels / 8;                  // 8 lanes x 16 bytes per token row
constexpr int kRowsPerStep = kSweepThreads / kLanesPerRow;        // 64
constexpr int kStatsTokensPerIter = kRowsPerStep * kLoadsPerThread;
// Quantization: a thread converts one token pair (two adjacent e4m3 slots) of each kTokenPad tile.
constexpr int kTilesPerIter = kLoadsPerThread / 2;
static_assert(kTokenPad == 2 * kRowsPerStep, "one token pair per thread and tile");
// e4m3 tile [channel][slot] in shared memory. 4 bytes of row padding spread the 16-bit stores of a
// thread's 8 channels over the banks; the 16-byte global stores read it back as 4 words.
constexpr int kTileRowBytes = kTokenPad + 4;

struct VShared {
  union {
    struct {
      float sum[kWarps][kSliceChannels], lo[kWarps][kSliceChannels], hi[kWarps][kSliceChannels];
    } stats;
    uint8_t tile[kTilesPerIter][kSliceChannels][kTileRowBytes];
  };
  float mean[kSliceChannels], inv[kSliceChannels];
};

// Amax of fl(x - mean) over a channel from its min and max: fl(x - mean) is monotonic in x, so the
// extremes of x give the extremes of the centred values (bit-exact with the reference's per-token
// amax). No values (lo > hi): 0.
__device__ __forceinline__ float centred_amax(float lo, float hi, float mean) {
  if (!(lo <= hi)) return 0.0f;
  return fmaxf(fmaxf(0.0f, fabsf(fsub_rn(hi, mean))), fabsf(fsub_rn(lo, mean)));
}

}  // namespace

// Kernels stay out of the anonymous namespace: profiler tables truncate names, and this keeps
// "k_quant_kernel" / "v_quant_kernel" inside the part they show.
template <bool kBf16, bool kSmooth>
__device__ __forceinline__ void v_quant_sweeps(const QuantVParams& p, int chunks) {
  const int slices = p.head_dim_padded / kSliceChannels;
  const int slice = blockIdx.x % slices, chunk = blockIdx.x / slices, h = blockIdx.y, b = blockIdx.z;
  const SequenceSlot seq = locate_sequence(p.seq, b, p.v.batch_stride, p.v.token_stride);
  const TokenRange range = chunk_range(static_cast<int>(round_up(seq.len, kTokenPad)), chunk, chunks);
  if (chunk > 0 && range.begin == range.end) return;  // chunk 0 always writes scale and mean

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = threadIdx.x / kLanesPerRow, group = threadIdx.x % kLanesPerRow;
  const int c0 = slice * kSliceChannels + group * 8;
  const bool live = c0 < p.head_dim;  // head_dim % 8 == 0: 8 channels are all real or all padding
  const int64_t token_bytes = 2 * p.v.token_stride;
  const char* src = static_cast<const char*>(p.v.ptr) + 2 * (seq.raw_offset + int64_t{h} * p.v.head_stride + c0);
  __shared__ VShared smem;

  // ---- Statistics sweep: sum (smoothing only), min and max per channel; each thread over its rows
  // in token order, then the lanes of a warp that share channels (butterfly), then warps in order.
  float sum[8] = {}, lo[8], hi[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) lo[i] = INFINITY, hi[i] = -INFINITY;
  if (live) {
    for (int t0 = row; t0 < seq.len; t0 += kStatsTokensPerIter) {
      uint4 raw[kLoadsPerThread];
#pragma unroll
      for (int u = 0; u < kLoadsPerThread; ++u) {
        const int t = t0 + u * kRowsPerStep;
        raw[u] = t < seq.len ? load_first(src + t * token_bytes) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kLoadsPerThread; ++u) {
        if (t0 + u * kRowsPerStep >= seq.len) continue;
        float x[8];
        unpack8<kBf16>(raw[u], x);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          if (kSmooth) sum[i] += x[i];
          lo[i] = fminf(lo[i], x[i]);
          hi[i] = fmaxf(hi[i], x[i]);
        }
      }
    }
  }
#pragma unroll
  for (int offset = kLanesPerRow; offset < 32; offset *= 2) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      if (kSmooth) sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], offset);
      lo[i] = fminf(lo[i], __shfl_xor_sync(0xffffffffu, lo[i], offset));
      hi[i] = fmaxf(hi[i], __shfl_xor_sync(0xffffffffu, hi[i], offset));
    }
  }
  if (lane < kLanesPerRow) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      smem.stats.sum[warp][group * 8 + i] = sum[i];
      smem.stats.lo[warp][group * 8 + i] = lo[i];
      smem.stats.hi[warp][group * 8 + i] = hi[i];
    }
  }
  __syncthreads();
  if (threadIdx.x < kSliceChannels) {
    const int ch = threadIdx.x, c = slice * kSliceChannels + ch;
    float total = 0.0f, all_lo = INFINITY, all_hi = -INFINITY;
    for (int w = 0; w < kWarps; ++w) {
      total += smem.stats.sum[w][ch];
      all_lo = fminf(all_lo, smem.stats.lo[w][ch]);
      all_hi = fmaxf(all_hi, smem.stats.hi[w][ch]);
    }
    const bool real = c < p.head_dim && seq.len > 0;
    const float mean = kSmooth && real ? fdiv_rn(total, static_cast<float>(seq.len)) : 0.0f;
    const float amax = real ? centred_amax(all_lo, all_hi, mean) : 0.0f;
    smem.mean[ch] = mean;
    smem.inv[ch] = fp8_inv_scale(amax, p.fp8_max);
    if (chunk == 0) {
      const int64_t at = (int64_t{b} * p.heads + h) * p.head_dim_padded + c;
      p.v_scale[at] = fp8_scale(amax, p.fp8_max);
      p.v_mean[at] = mean;
    }
  }
  __syncthreads();
  float mean[8], inv[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) mean[i] = smem.mean[group * 8 + i], inv[i] = smem.inv[group * 8 + i];

  // ---- Quantization sweep over this chunk's range, kTilesPerIter tiles of kTokenPad tokens at a
  // time, last first. Thread (row, group) converts tokens 2 row and 2 row + 1 of each tile, which
  // land in adjacent slots, into the shared tile; then each thread stores 16 slots of one channel.
  // Padding tokens are zeros, as in the reference.
  const int pair_slot = (2 * row / kVPermGroup) * kVPermGroup + v_perm_slot(2 * row % kVPermGroup);
  const int store_ch = threadIdx.x / 8, store_part = threadIdx.x % 8;  // 64 channels x 8 x 16 bytes
  const int64_t head_index = int64_t{seq.quant_batch} * p.heads + h;
  uint8_t* dst = p.v8 + (head_index * p.head_dim_padded + slice * kSliceChannels + store_ch) * p.seq.padded_tokens +
                 seq.pad_start + store_part * 16;
  const int data_end = min(seq.len, range.end);
  const int iters = static_cast<int>(ceil_div(range.end - range.begin, kTilesPerIter * kTokenPad));
  for (int t0 = range.begin + (iters - 1) * kTilesPerIter * kTokenPad; t0 >= range.begin;
       t0 -= kTilesPerIter * kTokenPad) {
    uint4 raw[kTilesPerIter][2];
#pragma unroll
    for (int k = 0; k < kTilesPerIter; ++k) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int t = t0 + k * kTokenPad + 2 * row + e;
        raw[k][e] = live && t < data_end ? load_last(src + t * token_bytes) : make_uint4(0, 0, 0, 0);
      }
    }
    __syncwarp();  // keeps all loads above the first use (else the scheduler may interleave them with it)
#pragma unroll
    for (int k = 0; k < kTilesPerIter; ++k) {
      const int t = t0 + k * kTokenPad + 2 * row;
      if (t0 + k * kTokenPad >= range.end) break;
      float x0[8], x1[8];
      unpack8<kBf16>(raw[k][0], x0);
      unpack8<kBf16>(raw[k][1], x1);
      const auto convert = [&](bool data0, bool data1) {
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float a = data0 ? fmul_rn(fsub_rn(x0[i], mean[i]), inv[i]) : 0.0f;
          const float c = data1 ? fmul_rn(fsub_rn(x1[i], mean[i]), inv[i]) : 0.0f;
          const __nv_fp8x2_storage_t two = __nv_cvt_float2_to_fp8x2(make_float2(a, c), __NV_SATFINITE, __NV_E4M3);
          *reinterpret_cast<uint16_t*>(&smem.tile[k][group * 8 + i][pair_slot]) = two;
        }
      };
      if (t + 1 < data_end)
        convert(true, true);  // no per-value selects in the common case
      else
        convert(t < data_end, false);
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTilesPerIter; ++k) {
      if (t0 + k * kTokenPad >= range.end) break;
      const uint32_t* words = reinterpret_cast<const uint32_t*>(&smem.tile[k][store_ch][store_part * 16]);
      *reinterpret_cast<uint4*>(dst + t0 + k * kTokenPad) = make_uint4(words[0], words[1], words[2], words[3]);
    }
    __syncthreads();
  }
}

// Launched dependent (dependent_launch.h). Right after its op's quant_k (p.follows_quant_k) it
// starts without waiting: V and cu_seqlens were complete before quant_k passed its own wait, which
// is before quant_k let this kernel start, and its outputs are fresh buffers. It waits at the end
// instead, so that its completion (all the attention kernel waits for) implies quant_k's.
template <bool kBf16, bool kSmooth>
__global__ void __launch_bounds__(kSweepThreads, kCtasPerSm) v_quant_kernel(QuantVParams p, int chunks) {
  if (!p.follows_quant_k) griddep_wait();
  griddep_launch_dependents();
  v_quant_sweeps<kBf16, kSmooth>(p, chunks);
  if (p.follows_quant_k) griddep_wait();
}

namespace {

template <bool kBf16>
cudaError_t launch(const QuantVParams& p, int chunks, int slices, cudaStream_t stream) {
  const dim3 grid(chunks * slices, p.heads, p.seq.batch);
  auto kernel = p.smooth ? v_quant_kernel<kBf16, true> : v_quant_kernel<kBf16, false>;
  return launch_dependent(kernel, grid, dim3(kSweepThreads), 0, stream, p, chunks);
}

}  // namespace
}  // namespace sageattention::kernels::quant

namespace sageattention::cuda {

Status quant_v(const QuantVParams& p, void* stream_ptr) {
  using namespace kernels;
  if (const std::optional<Status> s = quant::status_before_sweep(p, p.v)) return *s;
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int slices = p.head_dim_padded / quant::kSliceChannels;
  const int chunks = quant::chunks_per_owner(int64_t{p.seq.batch} * p.heads * slices, p.seq.seqlen);
  const cudaError_t err = p.dtype == DType::kBFloat16 ? quant::launch<true>(p, chunks, slices, stream)
                                                      : quant::launch<false>(p, chunks, slices, stream);
  return err == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

}  // namespace sageattention::cuda
