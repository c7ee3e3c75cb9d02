// Host-side entry of each compiled (head dim, P·V mode) instantiation of the mma.sync attention.
// Defined in attention_launch.cuh, explicitly instantiated in one small .cu file per pair.
#pragma once

#include <cuda_runtime.h>

#include "sageattention/params.h"

namespace sageattention::kernels {

template <int kHeadDim, PVMode kMode>
cudaError_t launch_attention_mma(const AttentionParams& p, cudaStream_t stream);

}  // namespace sageattention::kernels
