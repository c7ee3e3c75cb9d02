// The archs this library was compiled for and which GPUs their code runs on (set by CMake from
// SAGE_CUDA_ARCH_LIST as codes arch * 10 + kind, see SageKernels.cmake).
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {
namespace {

constexpr int kArchCodes[] = {SAGE_COMPILED_ARCH_CODES};
// Kinds of code: with PTX (that arch and every later one, by JIT), machine code of a family (later
// archs of the same major), arch-specific ("90a": that arch alone).
enum CodeKind { kWithPtx = 0, kFamily = 1, kArchSpecific = 2 };

bool code_runs_on(int code, int sm_arch) {
  const int arch = code / 10;
  switch (code % 10) {
    case kWithPtx: return arch <= sm_arch;
    case kFamily: return arch <= sm_arch && arch / 10 == sm_arch / 10;
    default: return arch == sm_arch;
  }
}

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
  for (const int code : kArchCodes)
    if (code / 10 >= min_arch && code_runs_on(code, sm_arch)) return true;
  return false;
}

}  // namespace sageattention::cuda
