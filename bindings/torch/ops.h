// Device-generic implementations of the sageattention ops (allocation, params, backend call).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <tuple>

#include "backend.h"

namespace sageattention::torch_binding {

std::tuple<at::Tensor, at::Tensor, at::Tensor> quant_k(const at::Tensor& k,
                                                       const std::optional<at::Tensor>& cu_seqlens_k,
                                                       int64_t max_seqlen_k, int64_t tensor_layout,
                                                       int64_t qk_quant_gran, bool smooth_k,
                                                       const Backend& backend);

std::tuple<at::Tensor, at::Tensor, at::Tensor> quant_v(const at::Tensor& v,
                                                       const std::optional<at::Tensor>& cu_seqlens_k,
                                                       int64_t max_seqlen_k, int64_t tensor_layout,
                                                       bool smooth_v, int64_t pv_mode, const Backend& backend,
                                                       bool follows_quant_k = false);

std::tuple<at::Tensor, at::Tensor> attention(
    const at::Tensor& q, const at::Tensor& k8, const at::Tensor& k_scale,
    const std::optional<at::Tensor>& k_mean, const std::optional<at::Tensor>& v8,
    const std::optional<at::Tensor>& v_scale, const std::optional<at::Tensor>& v_mean,
    const std::optional<at::Tensor>& v, const std::optional<at::Tensor>& cu_seqlens_q,
    const std::optional<at::Tensor>& cu_seqlens_k, int64_t max_seqlen_q, int64_t max_seqlen_k,
    int64_t tensor_layout, int64_t qk_quant_gran, int64_t pv_mode, bool is_causal, double sm_scale,
    bool return_lse, int64_t kernel, const Backend& backend);

// The whole call: quantize K and V, then attention.
std::tuple<at::Tensor, at::Tensor> sageattn(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const std::optional<at::Tensor>& cu_seqlens_q, const std::optional<at::Tensor>& cu_seqlens_k,
    int64_t max_seqlen_q, int64_t max_seqlen_k, int64_t tensor_layout, int64_t qk_quant_gran,
    int64_t pv_mode, bool is_causal, double sm_scale, bool smooth_k, bool smooth_v, bool return_lse,
    int64_t kernel, const Backend& backend);

// INT8 Q exactly as the attention op quantizes it internally (CPU reference only; for tests).
std::tuple<at::Tensor, at::Tensor> quant_q(const at::Tensor& q,
                                           const std::optional<at::Tensor>& cu_seqlens_q,
                                           int64_t max_seqlen_q, int64_t tensor_layout,
                                           int64_t qk_quant_gran);

}  // namespace sageattention::torch_binding
