// K pre-pass, two launches: (1) per-sequence channel mean, (2) INT8 quantization of K - mean in the
// groups of quant_layout.h. Both are deterministic (fixed summation order, no atomics), so a
// repeated call is bitwise identical.
#include <cuda_runtime.h>

#include "kernels/common/launch_checks.h"
#include "kernels/common/sequence.cuh"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_math.h"
#include "sageattention/validate.h"

namespace sageattention::kernels {
namespace {

// Mean kernel: one CTA per (32-channel slice, head, sequence). 4 threads cover the 64 bytes of a
// token's slice, 64 tokens per pass; partial sums are combined in a fixed order.
constexpr int kMeanThreads = 256;
constexpr int kMeanSliceChannels = 32;
constexpr int kMeanRowsPerPass = kMeanThreads / (kMeanSliceChannels / 8);

__global__ void __launch_bounds__(kMeanThreads) k_mean_kernel(QuantKParams p) {
  const int slice = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const SequenceSlot seq = locate_sequence(p.seq, b, p.k.batch_stride, p.k.token_stride);
  const int row = threadIdx.x / 4, c0 = slice * kMeanSliceChannels + (threadIdx.x % 4) * 8;
  const bool bf16 = p.dtype == DType::kBFloat16;

  float sum[8] = {};
  if (p.smooth && c0 < p.head_dim) {
    const char* base = static_cast<const char*>(p.k.ptr) +
                       2 * (seq.raw_offset + int64_t{h} * p.k.head_stride + c0);
    for (int t = row; t < seq.len; t += kMeanRowsPerPass) {
      float x[8];
      load8_as_float(base + 2 * int64_t{t} * p.k.token_stride, bf16, x);
#pragma unroll
      for (int i = 0; i < 8; ++i) sum[i] += x[i];
    }
  }
  __shared__ float partial[kMeanRowsPerPass][kMeanSliceChannels + 1];
#pragma unroll
  for (int i = 0; i < 8; ++i) partial[row][(threadIdx.x % 4) * 8 + i] = sum[i];
  __syncthreads();
  if (threadIdx.x < kMeanSliceChannels) {
    const int c = slice * kMeanSliceChannels + threadIdx.x;
    float total = 0.0f;
    for (int r = 0; r < kMeanRowsPerPass; ++r) total += partial[r][threadIdx.x];
    const float mean = (p.smooth && c < p.head_dim && seq.len > 0)
                           ? fdiv_rn(total, static_cast<float>(seq.len)) : 0.0f;
    p.k_mean[(int64_t{b} * p.heads + h) * p.head_dim_padded + c] = mean;
  }
}

// Quantize kernel: one CTA per (64-token block, head, sequence); a 64-token block holds every K
// group of every granularity whole. Thread = (token row, quarter of the channels).
constexpr int kQuantThreads = 256;

template <int kDp>
__global__ void __launch_bounds__(kQuantThreads) k_quant_kernel(QuantKParams p) {
  constexpr int kCh = kDp / 4;  // channels per thread
  const int block = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const SequenceSlot seq = locate_sequence(p.seq, b, p.k.batch_stride, p.k.token_stride);
  const int t0 = block * kKBlockTokens;
  if (t0 >= round_up(seq.len, kTokenPad)) return;
  const int row = threadIdx.x / 4, c0 = (threadIdx.x % 4) * kCh, t = t0 + row;
  const bool bf16 = p.dtype == DType::kBFloat16;
  const float* mean = p.k_mean + (int64_t{b} * p.heads + h) * kDp;

  float x[kCh];
  float amax = 0.0f;
  const char* src = static_cast<const char*>(p.k.ptr) +
                    2 * (seq.raw_offset + int64_t{t} * p.k.token_stride + int64_t{h} * p.k.head_stride);
#pragma unroll
  for (int v = 0; v < kCh / 8; ++v) {
    const int c = c0 + 8 * v;
    if (t < seq.len && c < p.head_dim) {
      float raw[8];
      load8_as_float(src + 2 * c, bf16, raw);
#pragma unroll
      for (int i = 0; i < 8; ++i) x[8 * v + i] = fsub_rn(raw[i], mean[c + i]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) x[8 * v + i] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(x[8 * v + i]));
  }
  amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
  amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
  __shared__ float row_amax[kKBlockTokens];
  if (threadIdx.x % 4 == 0) row_amax[row] = amax;
  __syncthreads();

  const bool per_thread = p.gran == QuantGranularity::kPerThread;
  const int group = per_thread ? (row % 8) / 2 : 0;
  float gmax = 0.0f;
  for (int r = 0; r < kKBlockTokens; ++r) {
    if (!per_thread || (r % 8) / 2 == group) gmax = fmaxf(gmax, row_amax[r]);
  }
  const float inv = int8_inv_scale(gmax);

  const int64_t head_index = int64_t{seq.quant_batch} * p.heads + h;
  const int64_t token = seq.pad_start + t;
  int8_t* dst = p.k8 + (head_index * p.seq.padded_tokens + token) * kDp + c0;
#pragma unroll
  for (int v = 0; v < kCh / 16; ++v) {
    uint32_t w[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint32_t packed = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i)
        packed |= (static_cast<uint32_t>(static_cast<uint8_t>(quantize_int8(x[16 * v + 4 * j + i], inv))))
                  << (8 * i);
      w[j] = packed;
    }
    *reinterpret_cast<uint4*>(dst + 16 * v) = make_uint4(w[0], w[1], w[2], w[3]);
  }
  // The first row of each group writes its scale.
  const bool writes_scale = threadIdx.x % 4 == 0 && (per_thread ? (row < 8 && row % 2 == 0) : row == 0);
  if (writes_scale) {
    const int64_t scales_per_head = k_scale_count(p.gran, p.seq.padded_tokens);
    p.k_scale[head_index * scales_per_head + k_group(p.gran, token)] = int8_scale(gmax);
  }
}

template <int kDp>
cudaError_t launch_quant(const QuantKParams& p, int64_t blocks, cudaStream_t stream) {
  k_quant_kernel<kDp><<<dim3(static_cast<unsigned>(blocks), p.heads, p.seq.batch), kQuantThreads, 0,
                        stream>>>(p);
  return cudaGetLastError();
}

}  // namespace
}  // namespace sageattention::kernels

namespace sageattention::cuda {

Status quant_k(const QuantKParams& p, void* stream_ptr) {
  using namespace kernels;
  if (const Status s = validate(p); s != Status::kSuccess) return s;
  if (p.seq.batch == 0 || p.heads == 0 || p.seq.seqlen == 0) return Status::kSuccess;
  const int dp = p.head_dim_padded;
  if (p.head_dim % 8 != 0 || !vector_readable(p.k, p.seq.varlen())) return Status::kNotSupported;
  if (p.seq.batch > 65535 || p.heads > 65535) return Status::kNotSupported;
  auto stream = static_cast<cudaStream_t>(stream_ptr);

  k_mean_kernel<<<dim3(dp / kMeanSliceChannels, p.heads, p.seq.batch), kMeanThreads, 0, stream>>>(p);
  if (cudaGetLastError() != cudaSuccess) return Status::kCudaError;
  const int64_t blocks = round_up(p.seq.seqlen, kTokenPad) / kKBlockTokens;
  cudaError_t err = cudaSuccess;
  switch (dp) {
    case 64: err = launch_quant<64>(p, blocks, stream); break;
    case 128: err = launch_quant<128>(p, blocks, stream); break;
    default: err = launch_quant<256>(p, blocks, stream); break;
  }
  return err == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

}  // namespace sageattention::cuda
