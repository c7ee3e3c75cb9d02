// What the device-generic op implementations need from a device: the three operations on params,
// plus kernel selection. The CPU backend is the reference; the CUDA backend wraps cuda_api.h.
#pragma once

#include <ATen/ATen.h>

#include "sageattention/params.h"

namespace sageattention::torch_binding {

// Requested attention kernel (the `kernel` op argument).
enum class KernelChoice : int64_t { kAuto = 0, kMma = 1, kSm90 = 2 };

struct Backend {
  void (*quant_k)(const QuantKParams& p, const at::Tensor& like);
  void (*quant_v)(const QuantVParams& p, const at::Tensor& like);
  // Picks the kernel for p (throws with the reason when none fits); returns its choice and sets
  // p.softmax_block_keys and p.pv_operand_dtype to what that kernel uses.
  KernelChoice (*select)(AttentionParams& p, KernelChoice requested, const at::Tensor& like);
  void (*attention)(const AttentionParams& p, KernelChoice kernel, const at::Tensor& like);
};

const Backend& cpu_backend();

// Softmax step (keys) of the kernel that runs p, emulated by the CPU reference when asked to.
int softmax_block_keys(KernelChoice kernel, const AttentionParams& p);
// 16-bit type of the FP16-mode P·V product of each kernel family (AttentionParams::pv_operand_dtype).
DType pv_operand_dtype(KernelChoice kernel, const AttentionParams& p);
// Whether the kernel family's FP8 softmax denominator sums e4m3 P (AttentionParams::row_sum_of_rounded_p).
bool row_sum_of_rounded_p(KernelChoice kernel, const AttentionParams& p);
// The kernel's running-max slack (AttentionParams::rescale_threshold).
float rescale_threshold(KernelChoice kernel, const AttentionParams& p);

// Throws a c10::Error naming the operation when status is not success.
void check_status(Status s, const char* what);

}  // namespace sageattention::torch_binding
