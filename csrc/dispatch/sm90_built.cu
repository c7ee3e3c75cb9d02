// Whether the library has the Hopper kernels, and their entry points when it does not (built
// without sm_90a): nothing handles those calls.
#include "sageattention/cuda_api.h"

namespace sageattention::cuda {

#if defined(SAGE_HAVE_SM90)
bool attention_sm90_built() { return true; }
#else
bool attention_sm90_built() { return false; }
Status attention_sm90(const AttentionParams&, void*) { return Status::kNotSupported; }
bool attention_sm90_supports(const AttentionParams&, int) { return false; }
#endif

}  // namespace sageattention::cuda
