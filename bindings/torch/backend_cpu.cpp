// CPU backend: the reference implementation.
#include <c10/util/Exception.h>

#include "backend.h"
#include "sageattention/reference.h"

namespace sageattention::torch_binding {

void check_status(Status s, const char* what) {
  TORCH_CHECK(s == Status::kSuccess, "sageattention: ", what, " failed: ", status_string(s));
}

void set_kernel_numerics(KernelChoice kernel, AttentionParams& p) {
  const bool sm90 = kernel == KernelChoice::kSm90;
  const int dp = p.head_dim_padded;
  // The Hopper kernel steps its online softmax over 128 keys; the mma.sync kernels' step, denominator
  // and running-max slack depend on head dim and P·V mode (params.h).
  p.softmax_block_keys = sm90 ? 128 : mma_softmax_block_keys(dp, p.pv_mode);
  // With fp32 accumulation both kernel families multiply 16-bit V in its own type (bf16 V with bf16
  // P); the mma.sync kernels' fp16-accumulating mode has no bf16 MMA and converts bf16 V to fp16.
  p.pv_operand_dtype = p.pv_mode == PVMode::kFp16Fp32 ? p.v_dtype : DType::kFloat16;
  // The Hopper kernel's two-level FP8 mode sums the e4m3 P on the tensor cores (ones columns after V).
  p.row_sum_of_rounded_p = sm90 ? p.pv_mode == PVMode::kFp8Fp32Fp32 : mma_row_sum_of_rounded_p(dp, p.pv_mode);
  p.rescale_threshold = sm90 ? 0.0f : mma_rescale_threshold(dp, p.pv_mode);
}

namespace {

void cpu_quant_k(const QuantKParams& p, const at::Tensor&) { check_status(reference::quant_k(p), "quant_k"); }
void cpu_quant_v(const QuantVParams& p, const at::Tensor&) { check_status(reference::quant_v(p), "quant_v"); }

KernelChoice cpu_select(AttentionParams& p, KernelChoice requested, const at::Tensor&) {
  // On CPU "kernel" only picks which GPU kernel's softmax step to emulate.
  const KernelChoice k = requested == KernelChoice::kAuto ? KernelChoice::kMma : requested;
  TORCH_CHECK(!(k == KernelChoice::kSm90 && p.pv_mode == PVMode::kFp8Fp16Fp32),
              "sageattention: the Hopper (sm90) kernel has no fp32+fp16 FP8 accumulation (pv_mode 4); "
              "it runs on the mma.sync kernel");
  set_kernel_numerics(k, p);
  return k;
}

void cpu_attention(const AttentionParams& p, KernelChoice, const at::Tensor&) {
  check_status(reference::attention(p), "attention");
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend backend{cpu_quant_k, cpu_quant_v, cpu_select, cpu_attention};
  return backend;
}

}  // namespace sageattention::torch_binding
