// mma.sync attention, head dim 256, P·V mode kFp8Fp16Fp32 (INT8 Q·Kᵀ + FP8 e4m3 P·V with an fp16 block
// accumulator; runs on sm89+, the sm80 build of this kernel traps and is never dispatched there).
#include "kernels/sm80/attention_launch.cuh"

namespace sageattention::kernels {
SAGE_INSTANTIATE_ATTENTION_MMA(256, PVMode::kFp8Fp16Fp32)
}  // namespace sageattention::kernels
