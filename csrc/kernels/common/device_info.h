// Host-side facts about the current device that launchers need on every call, queried once per
// device ordinal (no driver query per call, so a call is cheap and capture-safe).
#pragma once

#include <cuda_runtime.h>

namespace sageattention::kernels {

// SM count of the current device; 132 (H100/H200) if the query fails, which only sizes grids.
inline int sm_count_cached() {
  constexpr int kMaxDevices = 64;
  constexpr int kFallbackSms = 132;
  static int counts[kMaxDevices] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return kFallbackSms;
  if (counts[dev] == 0) {
    int n = 0;
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    counts[dev] = n > 0 ? n : kFallbackSms;
  }
  return counts[dev];
}

}  // namespace sageattention::kernels
