// The archs this library was compiled for and which GPUs their code runs on (set by CMake from
// SAGE_CUDA_ARCH_LIST as codes arch * 10 + kind, see arch_codes.h).
#include "dispatch/arch_codes.h"
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {
namespace {

constexpr int kArchCodes[] = {SAGE_COMPILED_ARCH_CODES};
constexpr int kArchCodeCount = static_cast<int>(sizeof(kArchCodes) / sizeof(kArchCodes[0]));

}  // namespace

int compiled_archs(int* archs, int capacity) {
  int n = 0;
  for (const int code : kArchCodes) {
    bool seen = false;
    for (int i = 0; i < n && i < capacity; ++i) seen = seen || archs[i] == code / 10;
    if (seen) continue;
    if (n < capacity) archs[n] = code / 10;
    ++n;
  }
  return n;
}

bool compiled_code_runs(int min_arch, int sm_arch) {
  return any_arch_code_runs(kArchCodes, kArchCodeCount, min_arch, sm_arch);
}

}  // namespace sageattention::cuda
