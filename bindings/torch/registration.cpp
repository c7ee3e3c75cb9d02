// TORCH_LIBRARY schemas of the sageattention ops and their CPU implementations. CUDA
// implementations are registered in backend_cuda.cpp; fake (meta) implementations in Python
// (sageattention/_ops.py) so they handle symbolic shapes under torch.compile.
#include <torch/library.h>

#include "ops.h"
#include "register_ops.h"

namespace sageattention::torch_binding {
namespace {

// Argument conventions shared by the schemas:
//   tensor_layout: 0 = HND [B, H, N, D], 1 = NHD [B, N, H, D]; varlen tensors are [total, H, D].
//   qk_quant_gran: 0 per_block, 1 per_warp, 2 per_thread.  pv_mode: sageattention::PVMode.
//   kernel: 0 auto, 1 mma.sync family, 2 Hopper family (on CPU: whose softmax step to emulate).
//   max_seqlen_k of a dense call is Nk.
TORCH_LIBRARY(sageattention, m) {
  m.def("quant_k(Tensor k, Tensor? cu_seqlens_k, int max_seqlen_k, int tensor_layout, int qk_quant_gran, "
        "bool smooth_k) -> (Tensor k8, Tensor k_scale, Tensor k_mean)");
  // quant_v's pv_mode: the FP8 P·V mode that will read the codes (it sets their range, fp8_v_max()).
  m.def("quant_v(Tensor v, Tensor? cu_seqlens_k, int max_seqlen_k, int tensor_layout, bool smooth_v, "
        "int pv_mode=3) -> (Tensor v8, Tensor v_scale, Tensor v_mean)");
  m.def("attention(Tensor q, Tensor k8, Tensor k_scale, Tensor? k_mean, Tensor? v8, Tensor? v_scale, "
        "Tensor? v_mean, Tensor? v, Tensor? cu_seqlens_q, Tensor? cu_seqlens_k, int max_seqlen_q, "
        "int max_seqlen_k, int tensor_layout, int qk_quant_gran, int pv_mode, bool is_causal, float sm_scale, "
        "bool return_lse, int kernel) -> (Tensor o, Tensor lse)");
  m.def("sageattn(Tensor q, Tensor k, Tensor v, Tensor? cu_seqlens_q, Tensor? cu_seqlens_k, int max_seqlen_q, "
        "int max_seqlen_k, int tensor_layout, int qk_quant_gran, int pv_mode, bool is_causal, float sm_scale, "
        "bool smooth_k, bool smooth_v, bool return_lse, int kernel) -> (Tensor o, Tensor lse)");
  m.def("quant_q(Tensor q, Tensor? cu_seqlens_q, int max_seqlen_q, int tensor_layout, int qk_quant_gran) "
        "-> (Tensor q8, Tensor q_scale)");
}

}  // namespace

TORCH_LIBRARY_IMPL(sageattention, CPU, m) {
  SAGE_REGISTER_BACKEND_OPS(m, cpu_backend());
  m.impl("quant_q", &quant_q);
}

}  // namespace sageattention::torch_binding
