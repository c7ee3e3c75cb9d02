// V pre-pass, one launch: per-sequence channel mean (optional), per-channel amax, FP8 e4m3
// quantization, transposed to [Dp, T] with tokens permuted inside 32-token groups (v_perm_token).
// One CTA owns a 16-channel slice of one (sequence, head) and sweeps its tokens: once for the mean,
// once for the amax, once to quantize. That keeps every reduction inside the CTA, so the op needs
// no scratch memory, no atomics and no grid-wide sync, and it is deterministic.
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include "kernels/common/launch_checks.h"
#include "kernels/common/sequence.cuh"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_math.h"
#include "sageattention/validate.h"

namespace sageattention::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kSliceChannels = 16;                        // 32 bytes of a token row: one sector
constexpr int kTokensPerPass = kThreads / (kSliceChannels / 8);  // 128 = kTokenPad
static_assert(kTokensPerPass == kTokenPad, "a pass covers one padding unit");

// Reduces per-thread partials (rows x 16 channels) into one value per channel, in a fixed order.
template <bool kMax>
__device__ __forceinline__ void reduce_channels(float (&part)[8], float (&smem)[kTokensPerPass][kSliceChannels + 1],
                                                float (&out)[kSliceChannels]) {
  const int row = threadIdx.x / 2, cbase = (threadIdx.x % 2) * 8;
#pragma unroll
  for (int i = 0; i < 8; ++i) smem[row][cbase + i] = part[i];
  __syncthreads();
  if (threadIdx.x < kSliceChannels) {
    float acc = 0.0f;
    for (int r = 0; r < kTokensPerPass; ++r)
      acc = kMax ? fmaxf(acc, smem[r][threadIdx.x]) : acc + smem[r][threadIdx.x];
    out[threadIdx.x] = acc;
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads) v_quant_kernel(QuantVParams p) {
  const int slice = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const SequenceSlot seq = locate_sequence(p.seq, b, p.v.batch_stride, p.v.token_stride);
  const int row = threadIdx.x / 2, cbase = slice * kSliceChannels + (threadIdx.x % 2) * 8;
  const bool bf16 = p.dtype == DType::kBFloat16;
  const bool live = cbase < p.head_dim;  // head_dim % 8 == 0: a vector is all real or all padding
  const char* src = static_cast<const char*>(p.v.ptr) +
                    2 * (seq.raw_offset + int64_t{h} * p.v.head_stride + cbase);

  __shared__ float scratch[kTokensPerPass][kSliceChannels + 1];
  __shared__ float mean[kSliceChannels], amax[kSliceChannels], inv[kSliceChannels];

  float part[8] = {};
  if (p.smooth && live) {
    for (int t = row; t < seq.len; t += kTokensPerPass) {
      float x[8];
      load8_as_float(src + 2 * int64_t{t} * p.v.token_stride, bf16, x);
#pragma unroll
      for (int i = 0; i < 8; ++i) part[i] += x[i];
    }
  }
  reduce_channels<false>(part, scratch, mean);
  if (threadIdx.x < kSliceChannels) {
    const int c = slice * kSliceChannels + threadIdx.x;
    mean[threadIdx.x] = (p.smooth && c < p.head_dim && seq.len > 0)
                            ? fdiv_rn(mean[threadIdx.x], static_cast<float>(seq.len)) : 0.0f;
  }
  __syncthreads();

  float my_mean[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    my_mean[i] = mean[(threadIdx.x % 2) * 8 + i];
    part[i] = 0.0f;
  }
  if (live) {
    for (int t = row; t < seq.len; t += kTokensPerPass) {
      float x[8];
      load8_as_float(src + 2 * int64_t{t} * p.v.token_stride, bf16, x);
#pragma unroll
      for (int i = 0; i < 8; ++i) part[i] = fmaxf(part[i], fabsf(fsub_rn(x[i], my_mean[i])));
    }
  }
  reduce_channels<true>(part, scratch, amax);
  if (threadIdx.x < kSliceChannels) {
    const int c = slice * kSliceChannels + threadIdx.x;
    const int64_t at = (int64_t{b} * p.heads + h) * p.head_dim_padded + c;
    p.v_scale[at] = fp8_scale(amax[threadIdx.x]);
    p.v_mean[at] = mean[threadIdx.x];
    inv[threadIdx.x] = fp8_inv_scale(amax[threadIdx.x]);
  }
  __syncthreads();
  float my_inv[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) my_inv[i] = inv[(threadIdx.x % 2) * 8 + i];

  // Quantize 128 tokens at a time: scaled values go through shared memory so that each thread can
  // write 8 consecutive (permuted) token slots of one channel as one 8-byte store.
  const int out_ch = threadIdx.x / 16, out_slot = (threadIdx.x % 16) * 8;
  const int64_t head_index = int64_t{seq.quant_batch} * p.heads + h;
  uint8_t* dst = p.v8 + (head_index * p.head_dim_padded + slice * kSliceChannels + out_ch) * p.seq.padded_tokens +
                 seq.pad_start + out_slot;
  const int padded_len = static_cast<int>(round_up(seq.len, kTokenPad));
  for (int t0 = 0; t0 < padded_len; t0 += kTokensPerPass) {
    const int t = t0 + row;
    if (live && t < seq.len) {
      float x[8];
      load8_as_float(src + 2 * int64_t{t} * p.v.token_stride, bf16, x);
#pragma unroll
      for (int i = 0; i < 8; ++i) scratch[row][(threadIdx.x % 2) * 8 + i] = fmul_rn(fsub_rn(x[i], my_mean[i]), my_inv[i]);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) scratch[row][(threadIdx.x % 2) * 8 + i] = 0.0f;
    }
    __syncthreads();
    uint32_t w[2];
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      uint32_t packed = 0;
#pragma unroll
      for (int i = 0; i < 4; i += 2) {
        const int s0 = out_slot + 4 * j + i;
        const float a = scratch[(s0 / kVPermGroup) * kVPermGroup + v_perm_token(s0 % kVPermGroup)][out_ch];
        const float c = scratch[((s0 + 1) / kVPermGroup) * kVPermGroup + v_perm_token((s0 + 1) % kVPermGroup)][out_ch];
        const __nv_fp8x2_storage_t two = __nv_cvt_float2_to_fp8x2(make_float2(a, c), __NV_SATFINITE, __NV_E4M3);
        packed |= static_cast<uint32_t>(two) << (8 * i);
      }
      w[j] = packed;
    }
    *reinterpret_cast<uint2*>(dst + t0) = make_uint2(w[0], w[1]);
    __syncthreads();
  }
}

}  // namespace
}  // namespace sageattention::kernels

namespace sageattention::cuda {

Status quant_v(const QuantVParams& p, void* stream_ptr) {
  using namespace kernels;
  if (const Status s = validate(p); s != Status::kSuccess) return s;
  if (p.seq.batch == 0 || p.heads == 0 || p.seq.seqlen == 0) return Status::kSuccess;
  const int dp = p.head_dim_padded;
  if (p.head_dim % 8 != 0 || !vector_readable(p.v, p.seq.varlen())) return Status::kNotSupported;
  if (p.seq.batch > 65535 || p.heads > 65535) return Status::kNotSupported;
  v_quant_kernel<<<dim3(dp / kSliceChannels, p.heads, p.seq.batch), kThreads, 0,
                   static_cast<cudaStream_t>(stream_ptr)>>>(p);
  return cudaGetLastError() == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

}  // namespace sageattention::cuda
