// Programmatic dependent launch (sm_90+): a kernel launched with launch_dependent() may be scheduled
// while the kernel before it on the stream is still running, as soon as every CTA of that kernel
// has called griddep_launch_dependents(). That hides the launch gap and lets a kernel's setup
// (barrier init, descriptor prefetch) overlap the previous kernel's tail.
//
// The rule every kernel launched this way follows: call griddep_wait() before touching global
// memory that an earlier kernel on the stream may write or read (it returns once all earlier
// kernels have completed and their writes are visible). The one exception is quant_v right after
// its op's quant_k (QuantVParams::follows_quant_k), see quant_v.cu. A kernel triggers its
// dependents only after its own griddep_wait(), so "my predecessor has started" implies "everything
// before my predecessor has finished".
#pragma once

#include <cuda_runtime.h>

#include "kernels/common/device_info.h"


namespace sageattention::kernels {

__device__ __forceinline__ void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// <<<grid, block, smem, stream>>>(args...) with programmatic stream serialization where the GPU
// has it (sm_90+); an ordinary launch elsewhere (griddep_* compile to nothing there, and are no-ops
// in a kernel launched without the attribute). A platform that refuses the attribute gets the
// ordinary launch, once it has said so.
template <typename... KernelArgs, typename... Args>
cudaError_t launch_dependent(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem_bytes,
                             cudaStream_t stream, const Args&... args) {
  static bool refused = false;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem_bytes;
  config.stream = stream;
  config.attrs = attr;
  config.numAttrs = !refused && device_major_cached() >= 9 ? 1 : 0;
  cudaError_t err = cudaLaunchKernelEx(&config, kernel, args...);
  if ((err == cudaErrorNotSupported || err == cudaErrorInvalidValue) && config.numAttrs > 0) {
    (void)cudaGetLastError();  // clear it; the ordinary launch below reports its own result
    refused = true;
    config.numAttrs = 0;
    err = cudaLaunchKernelEx(&config, kernel, args...);
  }
  return err;
}

}  // namespace sageattention::kernels
