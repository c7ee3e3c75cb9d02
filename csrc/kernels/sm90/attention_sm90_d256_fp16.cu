// Instantiations of the Hopper kernel for head dim 256, fp16 (causal x accumulation mode).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/sm90/launch.h"

namespace sageattention::sm90 {
template Status launch_attention_dispatch<256, __half, 2>(const LaunchArgs&, bool, bool);
}  // namespace sageattention::sm90
