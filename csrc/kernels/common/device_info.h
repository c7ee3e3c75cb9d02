// Host-side facts about the current device that launchers need on every call, queried once per
// device ordinal (no driver query per call, so a call is cheap and capture-safe).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sageattention::kernels {

// An attribute of the current device, queried once per device ordinal; `fallback` when the query
// fails (the fallbacks below only size grids or turn an optional launch feature off).
template <cudaDeviceAttr kAttr>
inline int device_attribute_cached(int fallback) {
  constexpr int kMaxDevices = 64;
  static int values[kMaxDevices] = {};  // 0: not queried yet
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return fallback;
  if (values[dev] == 0) {
    int v = 0;
    cudaDeviceGetAttribute(&v, kAttr, dev);
    values[dev] = v > 0 ? v : fallback;
  }
  return values[dev] != 0 ? values[dev] : fallback;
}

// SM count of the current device; 132 (H100/H200) if the query fails.
inline int sm_count_cached() { return device_attribute_cached<cudaDevAttrMultiProcessorCount>(132); }

// L2 size of the current device in bytes; 50 MB (H100/H200) if the query fails.
inline int64_t l2_bytes_cached() { return device_attribute_cached<cudaDevAttrL2CacheSize>(50 << 20); }

// Compute capability major of the current device; 0 if the query fails.
inline int device_major_cached() { return device_attribute_cached<cudaDevAttrComputeCapabilityMajor>(0); }

}  // namespace sageattention::kernels
