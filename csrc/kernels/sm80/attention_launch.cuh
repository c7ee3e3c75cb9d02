// Launch of one mma.sync attention instantiation: grid = (query tiles, query heads, sequences).
#pragma once

#include "kernels/sm80/attention_kernel.cuh"
#include "kernels/sm80/attention_launch.h"

namespace sageattention::kernels {

template <class Cfg, bool kBf16>
cudaError_t launch_attention_mma_kernel(const AttentionParams& p, cudaStream_t stream) {
  // Raising the dynamic shared-memory limit is a per-function attribute: set it once per process.
  static const cudaError_t attr = cudaFuncSetAttribute(
      attention_mma_kernel<Cfg, kBf16>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.seq_q.seqlen, Cfg::kBlockQ)), p.heads_q, p.seq_q.batch);
  // Causal head groups: the K and V bytes one (sequence, query head) pair reads (varlen: the
  // longest sequence); query heads of one KV head share them.
  const int64_t kv_bytes = int64_t{p.seq_k.seqlen} * Cfg::kDp * (Cfg::kFp8 ? 2 : 3) / (p.heads_q / p.heads_kv);
  const int causal_group =
      p.causal ? causal_head_group(kv_bytes, int64_t{p.heads_q} * p.seq_q.batch, l2_bytes_cached()) : 1;
  // Dependent on the pre-pass where the GPU allows it (see attention_mma_tile).
  return launch_dependent(attention_mma_kernel<Cfg, kBf16>, grid, dim3(Cfg::kThreads), Cfg::kSmemBytes, stream, p,
                          causal_group);
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
