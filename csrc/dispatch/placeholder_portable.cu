// TEMPORARY: replaced by the real kernels of the portable and Hopper families. Lets the torch
// extension link while they are written; every entry point reports kNotSupported.
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {

Status quant_k(const QuantKParams&, void*) { return Status::kNotSupported; }
Status quant_v(const QuantVParams&, void*) { return Status::kNotSupported; }
Status attention_mma(const AttentionParams&, void*) { return Status::kNotSupported; }
bool attention_mma_supports(const AttentionParams&, int) { return false; }
#if !defined(SAGE_HAVE_SM90)
Status attention_sm90(const AttentionParams&, void*) { return Status::kNotSupported; }
bool attention_sm90_supports(const AttentionParams&, int) { return false; }
#endif

}  // namespace sageattention::cuda
