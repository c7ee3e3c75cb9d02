// Reports the archs this library was compiled for (set by CMake from SAGE_CUDA_ARCH_LIST).
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {

int compiled_archs(int* archs, int capacity) {
  static constexpr int kArchs[] = {SAGE_COMPILED_ARCHS};
  const int n = static_cast<int>(sizeof(kArchs) / sizeof(kArchs[0]));
  for (int i = 0; i < n && i < capacity; ++i) archs[i] = kArchs[i];
  return n;
}

}  // namespace sageattention::cuda
