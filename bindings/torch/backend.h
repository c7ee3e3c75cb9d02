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

// Sets the numerics of the kernel that runs p, which the CPU reference emulates: softmax step,
// P·V operand type, denominator of rounded P, running-max slack (AttentionParams).
void set_kernel_numerics(KernelChoice kernel, AttentionParams& p);

// Throws a c10::Error naming the operation when status is not success.
void check_status(Status s, const char* what);

}  // namespace sageattention::torch_binding
