// Host side of one kernel instantiation: shared-memory attribute (set once), grid, launch.
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "sageattention/types.h"
#include "kernels/sm90/kernel.h"
#include "kernels/sm90/launch_api.h"

namespace sageattention::sm90 {

template <class Tr, typename T, bool kCausal, bool kTwoLevel>
Status launch_attention(const LaunchArgs& a) {
  auto kernel = attention_kernel<Tr, T, kCausal, kTwoLevel>;
  constexpr int kSmemBytes = static_cast<int>(sizeof(SharedStorage<Tr>)) + 1024;  // + alignment slack
  static_assert(kSmemBytes <= 227 * 1024, "shared memory of one sm_90 CTA");
  // Function attributes are per process: set once, on first use (no per-call driver traffic).
  static const cudaError_t attr_status =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  if (attr_status != cudaSuccess) return Status::kCudaError;
  const int grid = a.params.num_tiles < a.num_sms ? a.params.num_tiles : a.num_sms;
  if (grid <= 0) return Status::kSuccess;
  const cudaError_t err = kernels::launch_dependent(kernel, dim3(grid), dim3(Tr::kThreads), kSmemBytes, a.stream,
                                                     a.params, a.tma_q, a.tma_k, a.tma_v, a.tma_o);
  return err == cudaSuccess ? Status::kSuccess : Status::kCudaError;
}

template <int kHeadDim, typename T, int kConsumerWarpgroups>
Status launch_attention_dispatch(const LaunchArgs& a, bool causal, bool two_level) {
  using Tr = KernelTraits<kHeadDim, PVOperand::kE4m3, kConsumerWarpgroups>;
  if (causal) {
    return two_level ? launch_attention<Tr, T, true, true>(a) : launch_attention<Tr, T, true, false>(a);
  }
  return two_level ? launch_attention<Tr, T, false, true>(a) : launch_attention<Tr, T, false, false>(a);
}

template <int kHeadDim, typename T, typename TV, int kConsumerWarpgroups>
Status launch_attention_fp16pv_dispatch(const LaunchArgs& a, bool causal) {
  using Tr = KernelTraits<kHeadDim, std::is_same_v<TV, __half> ? PVOperand::kF16 : PVOperand::kBf16, kConsumerWarpgroups>;
  return causal ? launch_attention<Tr, T, true, false>(a) : launch_attention<Tr, T, false, false>(a);
}

}  // namespace sageattention::sm90
