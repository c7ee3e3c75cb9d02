// Hopper entry points when the library is built without sm_90a: nothing handles them.
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {

#if !defined(SAGE_HAVE_SM90)
Status attention_sm90(const AttentionParams&, void*) { return Status::kNotSupported; }
bool attention_sm90_supports(const AttentionParams&, int) { return false; }
#endif

}  // namespace sageattention::cuda
