// Instantiations of the Hopper kernel for head dim 64, bf16 (causal x accumulation
// mode), three consumer warpgroups (long sequences).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/sm90/launch.h"

namespace sageattention::sm90 {
template Status launch_attention_dispatch<64, __nv_bfloat16, 3>(const LaunchArgs&, bool, bool);
}  // namespace sageattention::sm90
