// What the host entry point (attention_sm90.cu) sees of the kernel instantiations: the launch
// arguments and the dispatch functions per (head dim, dtype), defined in attention_sm90_*d*_*.cu so
// the kernels compile in parallel and the entry point compiles no device code.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include "sageattention/types.h"
#include "kernels/sm90/kernel_params.h"

namespace sageattention::sm90 {

struct LaunchArgs {
  KernelParams params;
  CUtensorMap tma_q;
  CUtensorMap tma_k;
  CUtensorMap tma_v;
  CUtensorMap tma_o;
  int num_sms;
  cudaStream_t stream;
};

// FP8 P·V modes; two_level: fp32+fp32 accumulation; kConsumerWarpgroups: 2, or 3 (D=64 only:
// 192-row tiles, params.num_m_blocks counted in those).
template <int kHeadDim, typename T, int kConsumerWarpgroups>
Status launch_attention_dispatch(const LaunchArgs& a, bool causal, bool two_level);

// FP16 P·V with fp32 accumulation: T is the dtype of q/o, TV that of V (the P·V operand type);
// kConsumerWarpgroups as above.
template <int kHeadDim, typename T, typename TV, int kConsumerWarpgroups>
Status launch_attention_fp16pv_dispatch(const LaunchArgs& a, bool causal);

}  // namespace sageattention::sm90
