// Instantiations of the Hopper kernel, FP16 P·V mode, head dim 256: bf16 q/o and bf16 V, multiplied
// as bf16 (causal x non-causal).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/sm90/launch.h"

namespace sageattention::sm90 {
template Status launch_attention_fp16pv_dispatch<256, __nv_bfloat16, __nv_bfloat16, 2>(const LaunchArgs&, bool);
}  // namespace sageattention::sm90
