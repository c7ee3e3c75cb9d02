// Instantiations of the Hopper kernel, FP16 P·V mode, head dim 256: bf16 q/o with fp16 V (what the
// binding passes when smooth_v materialises V - mean as fp16), causal x non-causal.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/sm90/launch.h"

namespace sageattention::sm90 {
template Status launch_attention_fp16pv_dispatch<256, __nv_bfloat16, __half, 2>(const LaunchArgs&, bool);
}  // namespace sageattention::sm90
