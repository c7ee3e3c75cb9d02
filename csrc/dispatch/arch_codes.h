// Which GPUs the code of a compiled arch runs on. CMake passes each arch of the build as a code
// arch * 10 + kind (SageKernels.cmake); compiled_archs.cu applies this to the build's list.
// Torch- and CUDA-runtime-free (unit-tested).
#pragma once

namespace sageattention::cuda {

// Kinds of code: with PTX (that arch and every later one, by JIT; a plain "89"), machine code only
// or family code ("89-real", "100f": later archs of the same major), arch-specific ("90a": that
// arch alone).
enum ArchCodeKind { kWithPtx = 0, kFamily = 1, kArchSpecific = 2 };

inline bool arch_code_runs_on(int code, int sm_arch) {
  const int arch = code / 10;
  switch (code % 10) {
    case kWithPtx: return arch <= sm_arch;
    case kFamily: return arch <= sm_arch && arch / 10 == sm_arch / 10;
    default: return arch == sm_arch;
  }
}

// Whether one of `codes` is for an arch >= min_arch and runs on an sm_arch GPU.
inline bool any_arch_code_runs(const int* codes, int count, int min_arch, int sm_arch) {
  for (int i = 0; i < count; ++i)
    if (codes[i] / 10 >= min_arch && arch_code_runs_on(codes[i], sm_arch)) return true;
  return false;
}

}  // namespace sageattention::cuda
