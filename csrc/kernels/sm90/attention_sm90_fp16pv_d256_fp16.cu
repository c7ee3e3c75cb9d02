// Instantiations of the Hopper kernel, FP16 P·V mode, head dim 256: fp16 q/o and fp16 V (causal x non-causal).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/sm90/launch.h"

namespace sageattention::sm90 {
template Status launch_attention_fp16pv_dispatch<256, __half, __half, 2>(const LaunchArgs&, bool);
}  // namespace sageattention::sm90
