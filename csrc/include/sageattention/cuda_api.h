// CUDA entry points. Device pointers in the params; `stream` is a cudaStream_t. Every function checks
// what it can without a device sync, launches, and reports launch errors; none allocates memory or
// queries the device per call (attribute setup is cached), so all are CUDA-graph safe.
#pragma once

#include "sageattention/params.h"

namespace sageattention::cuda {

Status quant_k(const QuantKParams& p, void* stream);
Status quant_v(const QuantVParams& p, void* stream);

// Portable path: mma.sync kernels (sm80+; FP8 P·V modes need sm89+).
Status attention_mma(const AttentionParams& p, void* stream);
bool attention_mma_supports(const AttentionParams& p, int sm_arch);

// Hopper path: TMA + wgmma warp-specialised kernels (sm90a).
Status attention_sm90(const AttentionParams& p, void* stream);
bool attention_sm90_supports(const AttentionParams& p, int sm_arch);
// Whether this library has the Hopper kernels (built with sm_90a); without them the two above refuse.
bool attention_sm90_built();

// Archs this library was compiled for, e.g. {80, 89, 90}; count returned, up to `capacity` written.
int compiled_archs(int* archs, int capacity);
// Whether code compiled for some arch >= min_arch runs on an sm_arch GPU: code with PTX runs on
// every later arch, arch-specific code ("90a") on its own arch only.
bool compiled_code_runs(int min_arch, int sm_arch);

}  // namespace sageattention::cuda
