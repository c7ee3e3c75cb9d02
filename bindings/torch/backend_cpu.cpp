// CPU backend: the reference implementation.
#include <c10/util/Exception.h>

#include "backend.h"
#include "sageattention/reference.h"

namespace sageattention::torch_binding {

void check_status(Status s, const char* what) {
  TORCH_CHECK(s == Status::kSuccess, "sageattention: ", what, " failed: ", status_string(s));
}

int softmax_block_keys(KernelChoice kernel, const AttentionParams& p) {
  // The Hopper kernel steps its online softmax over 128 keys; the mma.sync kernels' step depends on
  // head dim and P·V mode.
  return kernel == KernelChoice::kSm90 ? 128 : mma_softmax_block_keys(p.head_dim_padded, p.pv_mode);
}

DType pv_operand_dtype(KernelChoice, const AttentionParams& p) {
  // With fp32 accumulation both kernel families multiply 16-bit V in its own type (bf16 V with bf16
  // P); the mma.sync kernels' fp16-accumulating mode has no bf16 MMA and converts bf16 V to fp16.
  return p.pv_mode == PVMode::kFp16Fp32 ? p.v_dtype : DType::kFloat16;
}

bool row_sum_of_rounded_p(KernelChoice kernel, const AttentionParams& p) {
  // The Hopper kernel's two-level FP8 mode sums the e4m3 P on the tensor cores (ones columns after
  // V); so do the mma.sync kernels with the 16-bit P of some modes (one MMA against ones).
  if (kernel == KernelChoice::kSm90) return p.pv_mode == PVMode::kFp8Fp32Fp32;
  return mma_row_sum_of_rounded_p(p.head_dim_padded, p.pv_mode);
}

float rescale_threshold(KernelChoice kernel, const AttentionParams& p) {
  return kernel == KernelChoice::kSm90 ? 0.0f : mma_rescale_threshold(p.head_dim_padded, p.pv_mode);
}

namespace {

void cpu_quant_k(const QuantKParams& p, const at::Tensor&) { check_status(reference::quant_k(p), "quant_k"); }
void cpu_quant_v(const QuantVParams& p, const at::Tensor&) { check_status(reference::quant_v(p), "quant_v"); }

KernelChoice cpu_select(AttentionParams& p, KernelChoice requested, const at::Tensor&) {
  // On CPU "kernel" only picks which GPU kernel's softmax step to emulate.
  const KernelChoice k = requested == KernelChoice::kAuto ? KernelChoice::kMma : requested;
  p.softmax_block_keys = softmax_block_keys(k, p);
  p.pv_operand_dtype = pv_operand_dtype(k, p);
  p.row_sum_of_rounded_p = row_sum_of_rounded_p(k, p);
  p.rescale_threshold = rescale_threshold(k, p);
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
