// Launch of one mma.sync attention instantiation: grid = (query tiles, query heads, sequences).
#pragma once

#include <algorithm>

#include "kernels/common/tensor_map.h"
#include "kernels/sm80/attention_kernel.cuh"
#include "kernels/sm80/attention_launch.h"

namespace sageattention::kernels {

// Configurations with a TMA-loading kernel (KVTmaLoader): padded rows of at most 256 elements.
template <class Cfg>
inline constexpr bool kMmaHasTmaKernel = Cfg::kPadded && Cfg::kDp <= 128;

// The maps of KVTmaLoader, or false where this call cannot take the TMA kernel: varlen inputs, a
// driver without the encoder, strides TMA refuses.
template <class Cfg>
bool encode_kv_tensor_maps(const AttentionParams& p, KVTensorMaps* maps) {
  auto encode = tensor_map_encoder();
  if (encode == nullptr || p.seq_k.varlen() || p.k8 == nullptr || p.v.ptr == nullptr) return false;
  const int64_t tokens = p.seq_k.seqlen, batch = p.seq_k.batch;
  if (!tma_stride_ok(tokens, p.v.token_stride) || !tma_stride_ok(p.heads_kv, p.v.head_stride) ||
      !tma_stride_ok(batch, p.v.batch_stride)) {
    return false;
  }
  // K codes: [Bk·heads_kv][padded tokens][Dp] bytes; a box row is kKPitch bytes, the last 16 outside.
  const cuuint64_t k_dims[3] = {static_cast<cuuint64_t>(Cfg::kDp), static_cast<cuuint64_t>(p.seq_k.padded_tokens),
                                static_cast<cuuint64_t>(batch * p.heads_kv)};
  const cuuint64_t k_strides[2] = {static_cast<cuuint64_t>(Cfg::kDp),
                                   static_cast<cuuint64_t>(Cfg::kDp * p.seq_k.padded_tokens)};
  const cuuint32_t k_box[3] = {static_cast<cuuint32_t>(Cfg::kKPitch), static_cast<cuuint32_t>(Cfg::kBlockK), 1};
  // Raw V: [batch][tokens][heads_kv][head_dim] with element strides; a box row is kVPitch bytes.
  const cuuint64_t v_dims[4] = {static_cast<cuuint64_t>(p.head_dim), static_cast<cuuint64_t>(tokens),
                                static_cast<cuuint64_t>(p.heads_kv), static_cast<cuuint64_t>(batch)};
  const cuuint64_t v_strides[3] = {tma_stride_bytes(tokens, p.v.token_stride),
                                   tma_stride_bytes(p.heads_kv, p.v.head_stride),
                                   tma_stride_bytes(batch, p.v.batch_stride)};
  const cuuint32_t v_box[4] = {static_cast<cuuint32_t>(Cfg::kVPitch / 2), static_cast<cuuint32_t>(Cfg::kBlockK), 1, 1};
  const cuuint32_t unit[4] = {1, 1, 1, 1};
  return encode(&maps->k, CU_TENSOR_MAP_DATA_TYPE_UINT8, 3, const_cast<int8_t*>(p.k8), k_dims, k_strides, k_box, unit,
                CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS &&
         encode(&maps->v, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void*>(p.v.ptr), v_dims, v_strides, v_box,
                unit, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <class Cfg, bool kBf16, bool kTma>
cudaError_t launch_attention_mma_kernel(const AttentionParams& p, const KVTensorMaps& maps, cudaStream_t stream) {
  // Raising the dynamic shared-memory limit is a per-function attribute: set it once per process.
  static const cudaError_t attr = cudaFuncSetAttribute(
      attention_mma_kernel<Cfg, kBf16, kTma>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.seq_q.seqlen, Cfg::kBlockQ)), p.heads_q, p.seq_q.batch);
  // Causal head groups: the K and V bytes one (sequence, query head) pair reads (varlen: the
  // longest sequence); query heads of one KV head share them.
  const int64_t kv_bytes = int64_t{p.seq_k.seqlen} * Cfg::kDp * (Cfg::kFp8 ? 2 : 3) / (p.heads_q / p.heads_kv);
  const int causal_group =
      p.causal ? causal_head_group(kv_bytes, int64_t{p.heads_q} * p.seq_q.batch, l2_bytes_cached()) : 1;
  // Dependent on the pre-pass where the GPU allows it (see attention_mma_tile).
  return launch_dependent(attention_mma_kernel<Cfg, kBf16, kTma>, grid, dim3(Cfg::kThreads), Cfg::kSmemBytes, stream,
                          p, maps, causal_group);
}

// Configurations with a two-slice TMA kernel (MmaAttentionConfig::kSlices): D=128 in the FP16 mode.
template <class Cfg>
inline constexpr bool kMmaHasTwoSliceKernel = Cfg::kDp == 128 && Cfg::kPVMode == PVMode::kFp16Fp32 && Cfg::kSlices == 1;
// Two slices per warp pay on long calls: kernel-only against one slice on the H200 (NOTEBOOK_portable
// v20), non-causal -2% at 1k, -1% at 2k, +2% at 4k, +5% at 8k, +6% at 16k; causal -8% / -7% / -4%
// at 1k / 2k / 4k, +3.5% at 8k, +5% at 16k.
inline bool mma_two_slices_pay(const AttentionParams& p) {
  return std::min(p.seq_q.seqlen, p.seq_k.seqlen) >= (p.causal ? 8192 : 4096);
}

// The TMA kernel where the code the GPU loaded for it was compiled for sm_90+ (a build without an
// sm_90+ cubin runs sm_80 PTX there, which has no TMA) and the call's maps encode; on long calls
// the two-slice one where the configuration has it.
template <class Cfg, bool kBf16>
cudaError_t launch_attention_mma_kernel(const AttentionParams& p, cudaStream_t stream) {
  KVTensorMaps maps{};
  if constexpr (kMmaHasTmaKernel<Cfg>) {
    static const bool tma_code = [] {
      cudaFuncAttributes a{};
      return cudaFuncGetAttributes(&a, attention_mma_kernel<Cfg, kBf16, true>) == cudaSuccess && a.ptxVersion >= 90;
    }();
    if (tma_code && encode_kv_tensor_maps<Cfg>(p, &maps)) {
      if constexpr (kMmaHasTwoSliceKernel<Cfg>) {
        using TwoSlices = MmaAttentionConfig<Cfg::kDp, Cfg::kPVMode, 2>;  // same tiles, so the same maps
        if (mma_two_slices_pay(p)) return launch_attention_mma_kernel<TwoSlices, kBf16, true>(p, maps, stream);
      }
      return launch_attention_mma_kernel<Cfg, kBf16, true>(p, maps, stream);
    }
  }
  return launch_attention_mma_kernel<Cfg, kBf16, false>(p, maps, stream);
}

template <int kHeadDim, PVMode kMode>
cudaError_t launch_attention_mma(const AttentionParams& p, cudaStream_t stream) {
  using Cfg = MmaAttentionConfig<kHeadDim, kMode>;
  if constexpr (kMode == PVMode::kFp16Fp32) {
    if (p.v_dtype == DType::kBFloat16) return launch_attention_mma_kernel<Cfg, true>(p, stream);
  }
  return launch_attention_mma_kernel<Cfg, false>(p, stream);
}

#define SAGE_INSTANTIATE_ATTENTION_MMA(DIM, MODE) \
  template cudaError_t launch_attention_mma<DIM, MODE>(const AttentionParams&, cudaStream_t);

}  // namespace sageattention::kernels
