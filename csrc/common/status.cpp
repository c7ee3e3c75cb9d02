#include "sageattention/types.h"

namespace sageattention {

const char* status_string(Status s) {
  switch (s) {
    case Status::kSuccess: return "success";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kNotSupported: return "not supported by the compiled kernels";
    case Status::kCudaError: return "CUDA error";
  }
  return "unknown status";
}

}  // namespace sageattention
