// mma.sync attention, head dim 64, P·V mode kFp16Fp16Fp32 (INT8 Q·Kᵀ + FP16 P·V, sm80+).
#include "kernels/sm80/attention_launch.cuh"

namespace sageattention::kernels {
SAGE_INSTANTIATE_ATTENTION_MMA(64, PVMode::kFp16Fp16Fp32)
}  // namespace sageattention::kernels
