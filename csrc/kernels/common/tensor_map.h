// Host side of TMA tensor maps (sm_90+): the driver's encoder, looked up once through the runtime,
// and the stride rules every map of a caller's tensor follows.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <cstdint>

namespace sageattention::kernels {

// cuTensorMapEncodeTiled through the runtime's driver entry point (no link-time libcuda needed);
// nullptr when the driver does not have it.
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &q) !=
            cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      return static_cast<PFN_cuTensorMapEncodeTiled_v12000>(nullptr);
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  return fn;
}

// TMA strides must be nonzero multiples of 16 bytes; a dimension of extent 1 is never stepped, so
// its stride (which torch leaves arbitrary) is replaced by a valid one. 16-bit elements.
inline bool tma_stride_ok(int64_t extent, int64_t elem_stride) {
  return extent <= 1 || (elem_stride > 0 && elem_stride % 8 == 0);
}
inline cuuint64_t tma_stride_bytes(int64_t extent, int64_t elem_stride) {
  return static_cast<cuuint64_t>(extent <= 1 ? 8 : elem_stride) * 2;
}

}  // namespace sageattention::kernels
