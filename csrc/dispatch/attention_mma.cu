// Portable attention dispatch: validates AttentionParams and maps (head dim, P·V mode) onto the
// compiled instantiations. Head dims come from the SAGE_HEAD_DIMS compile definition.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/launch_checks.h"
#include "kernels/common/nvcc_features.h"
#include "kernels/sm80/attention_launch.h"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_layout.h"
#include "sageattention/validate.h"

namespace sageattention::cuda {
namespace {

constexpr int kCompiledHeadDims[] = {SAGE_HEAD_DIMS};

constexpr bool head_dim_compiled(int dp) {
  for (int d : kCompiledHeadDims)
    if (d == dp) return true;
  return false;
}

template <int kDp>
cudaError_t launch_for_mode(const AttentionParams& p, cudaStream_t stream) {
  using kernels::launch_attention_mma;
  switch (p.pv_mode) {
    case PVMode::kFp16Fp32: return launch_attention_mma<kDp, PVMode::kFp16Fp32>(p, stream);
    case PVMode::kFp16Fp16Fp32: return launch_attention_mma<kDp, PVMode::kFp16Fp16Fp32>(p, stream);
    case PVMode::kFp8Fp32: return launch_attention_mma<kDp, PVMode::kFp8Fp32>(p, stream);
    case PVMode::kFp8Fp32Fp32: return launch_attention_mma<kDp, PVMode::kFp8Fp32Fp32>(p, stream);
    case PVMode::kFp8Fp16Fp32: return launch_attention_mma<kDp, PVMode::kFp8Fp16Fp32>(p, stream);
    default: return cudaErrorInvalidValue;  // unreachable: validate() rejects other modes
  }
}

template <int kDp>
cudaError_t launch_if_compiled(const AttentionParams& p, cudaStream_t stream) {
  if constexpr (head_dim_compiled(kDp)) {
    return launch_for_mode<kDp>(p, stream);
  } else {
    return cudaErrorInvalidValue;  // unreachable: shape_supported() rejects it first
  }
}

bool shape_supported(const AttentionParams& p) {
  using kernels::vector_readable;
  const bool varlen = p.seq_q.varlen();
  if (!head_dim_compiled(p.head_dim_padded) || p.head_dim % 8 != 0) return false;
  if (!vector_readable(p.q, varlen)) return false;
  if (!is_fp8(p.pv_mode) && !vector_readable(p.v, varlen)) return false;
  const StridedTensor o{p.o.ptr, p.o.batch_stride, p.o.token_stride, p.o.head_stride};
  if (!vector_readable(o, varlen)) return false;
  if (p.seq_k.padded_tokens % kTokenPad != 0) return false;
  if (p.heads_q > 65535 || p.seq_q.batch > 65535) return false;
  // The kernel indexes its CTAs with an int (far beyond any Q that fits in memory).
  if (ceil_div(p.seq_q.seqlen, kQBlockRows) * p.heads_q * p.seq_q.batch > INT32_MAX) return false;
  // The caller (and the CPU reference emulating the kernel) must expect the kernel's softmax step,
  // denominator and running-max slack.
  if (p.softmax_block_keys != mma_softmax_block_keys(p.head_dim_padded, p.pv_mode)) return false;
  if (p.row_sum_of_rounded_p != mma_row_sum_of_rounded_p(p.head_dim_padded, p.pv_mode)) return false;
  if (p.rescale_threshold != mma_rescale_threshold(p.head_dim_padded, p.pv_mode)) return false;
  return true;
}

}  // namespace

bool attention_mma_supports(const AttentionParams& p, int sm_arch) {
  if (sm_arch < 80 || !compiled_code_runs(80, sm_arch)) return false;
  // The e4m3 MMA needs code compiled for sm89+ that runs on this GPU: the sm80 build of the FP8
  // kernels only traps, and so would a JIT of its PTX on a newer GPU (an "80;90a" build on sm_120).
  if (is_fp8(p.pv_mode) && (sm_arch < 89 || !compiled_code_runs(89, sm_arch))) return false;
  if (p.pv_mode == PVMode::kFp8Fp16Fp32 && !SAGE_NVCC_HAS_FP8_F16_ACCUM_MMA) return false;
  return validate(p) == Status::kSuccess && shape_supported(p);
}

Status attention_mma(const AttentionParams& p, void* stream_ptr) {
  if (const Status s = validate(p); s != Status::kSuccess) return s;
  if (p.seq_q.batch == 0 || p.heads_q == 0 || p.seq_q.seqlen == 0) return Status::kSuccess;
  if (!shape_supported(p)) return Status::kNotSupported;
  auto stream = static_cast<cudaStream_t>(stream_ptr);
  cudaError_t err = cudaErrorInvalidValue;
  switch (p.head_dim_padded) {
    case 64: err = launch_if_compiled<64>(p, stream); break;
    case 128: err = launch_if_compiled<128>(p, stream); break;
    case 256: err = launch_if_compiled<256>(p, stream); break;
    default: return Status::kNotSupported;
  }
  return err == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

}  // namespace sageattention::cuda
