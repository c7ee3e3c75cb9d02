// Launch of one mma.sync attention instantiation: grid = (query tiles, query heads, sequences).
#pragma once

#include "kernels/sm80/attention_kernel.cuh"
#include "kernels/sm80/attention_launch.h"

namespace sageattention::kernels {

template <int kHeadDim, PVMode kMode>
cudaError_t launch_attention_mma(const AttentionParams& p, cudaStream_t stream) {
  using Cfg = MmaAttentionConfig<kHeadDim, kMode>;
  // Raising the dynamic shared-memory limit is a per-function attribute: set it once per process.
  static const cudaError_t attr = cudaFuncSetAttribute(
      attention_mma_kernel<Cfg>, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(static_cast<unsigned>(ceil_div(p.seq_q.seqlen, Cfg::kBlockQ)), p.heads_q, p.seq_q.batch);
  attention_mma_kernel<Cfg><<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

#define SAGE_INSTANTIATE_ATTENTION_MMA(DIM, MODE) \
  template cudaError_t launch_attention_mma<DIM, MODE>(const AttentionParams&, cudaStream_t);

}  // namespace sageattention::kernels
