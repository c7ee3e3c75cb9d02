// CUDA backend: the kernels of cuda_api.h on the current stream, kernel selection by GPU arch.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <array>
#include <atomic>
#include <sstream>
#include <string>

#include "backend.h"
#include "register_ops.h"
#include "sageattention/cuda_api.h"

namespace sageattention::torch_binding {
namespace {

void* stream_of(const at::Tensor& like) {
  return at::cuda::getCurrentCUDAStream(like.device().index()).stream();
}

// Compute capability as 10 * major + minor, read once per device (no per-call device queries).
int arch_of(const at::Tensor& like) {
  static std::array<std::atomic<int>, 64> cache{};
  const int index = like.device().index();
  TORCH_CHECK(index >= 0 && index < 64, "unsupported CUDA device index ", index);
  int arch = cache[index].load(std::memory_order_relaxed);
  if (arch == 0) {
    const cudaDeviceProp* prop = at::cuda::getDeviceProperties(index);
    arch = prop->major * 10 + prop->minor;
    cache[index].store(arch, std::memory_order_relaxed);
  }
  return arch;
}

std::string compiled_arch_list() {
  int archs[32];
  const int n = cuda::compiled_archs(archs, 32);
  std::ostringstream os;
  for (int i = 0; i < n && i < 32; ++i) os << (i ? ", " : "") << "sm_" << archs[i];
  return os.str();
}

void cuda_quant_k(const QuantKParams& p, const at::Tensor& like) {
  const c10::cuda::CUDAGuard guard(like.device());
  check_status(cuda::quant_k(p, stream_of(like)), "quant_k (CUDA)");
}

void cuda_quant_v(const QuantVParams& p, const at::Tensor& like) {
  const c10::cuda::CUDAGuard guard(like.device());
  check_status(cuda::quant_v(p, stream_of(like)), "quant_v (CUDA)");
}

KernelChoice cuda_select(AttentionParams& p, KernelChoice requested, const at::Tensor& like) {
  const int arch = arch_of(like);
  KernelChoice chosen = KernelChoice::kAuto;
  // attention_mma_supports() checks that p expects the mma.sync kernel's softmax numerics.
  set_kernel_numerics(KernelChoice::kMma, p);
  if (requested != KernelChoice::kMma && arch == 90 && cuda::attention_sm90_supports(p, arch)) {
    chosen = KernelChoice::kSm90;
  } else if (requested == KernelChoice::kSm90) {
    TORCH_CHECK(cuda::attention_sm90_built(), "sageattention: this build has no Hopper (sm_90a) kernels (compiled archs: ",
                compiled_arch_list(), "); build with 9.0a in TORCH_CUDA_ARCH_LIST, or use the mma.sync kernel");
    TORCH_CHECK(false, "sageattention: the Hopper (sm90) kernel cannot run this call on sm_", arch,
                " (it needs an sm_90 GPU, head_dim <= 256, FP8 P·V or FP16 P·V with fp32 accumulation, "
                "16-byte aligned strides; FP8 accumulation fp32 or fp32+fp32; compiled archs: ",
                compiled_arch_list(), ")");
  } else if (cuda::attention_mma_supports(p, arch)) {
    chosen = KernelChoice::kMma;
  } else {
    TORCH_CHECK(false, "sageattention: no compiled kernel supports this call on sm_", arch, " (head_dim ",
                p.head_dim, ", pv mode ", static_cast<int>(p.pv_mode),
                is_fp8(p.pv_mode) ? ": FP8 P·V needs sm_89 or newer" : "",
                p.pv_mode == PVMode::kFp8Fp16Fp32 ? ", and fp32+fp16 accumulation a build with nvcc 12.8 or newer" : "",
                "); this build has kernels for ",
                compiled_arch_list());
  }
  set_kernel_numerics(chosen, p);
  return chosen;
}

void cuda_attention(const AttentionParams& p, KernelChoice kernel, const at::Tensor& like) {
  const c10::cuda::CUDAGuard guard(like.device());
  const Status s = kernel == KernelChoice::kSm90 ? cuda::attention_sm90(p, stream_of(like))
                                                 : cuda::attention_mma(p, stream_of(like));
  check_status(s, kernel == KernelChoice::kSm90 ? "attention (sm90)" : "attention (mma)");
}

const Backend& cuda_backend() {
  static const Backend backend{cuda_quant_k, cuda_quant_v, cuda_select, cuda_attention};
  return backend;
}

}  // namespace

TORCH_LIBRARY_IMPL(sageattention, CUDA, m) { SAGE_REGISTER_BACKEND_OPS(m, cuda_backend()); }

}  // namespace sageattention::torch_binding
