// Registers the device-generic op implementations of ops.h for one backend (inside a
// TORCH_LIBRARY_IMPL block).
#pragma once

#include "ops.h"

// Binds an op implementation to a backend.
#define SAGE_REGISTER_BACKEND_OPS(m, backend)                                                              \
  m.impl("quant_k", [](const at::Tensor& k, const std::optional<at::Tensor>& cu, int64_t n, int64_t l,     \
                       int64_t g, bool s) { return quant_k(k, cu, n, l, g, s, backend); });                \
  m.impl("quant_v", [](const at::Tensor& v, const std::optional<at::Tensor>& cu, int64_t n, int64_t l,     \
                       bool s, int64_t pv) { return quant_v(v, cu, n, l, s, pv, backend); });              \
  m.impl("attention",                                                                                      \
         [](const at::Tensor& q, const at::Tensor& k8, const at::Tensor& ks,                               \
            const std::optional<at::Tensor>& km, const std::optional<at::Tensor>& v8,                      \
            const std::optional<at::Tensor>& vs, const std::optional<at::Tensor>& vm,                      \
            const std::optional<at::Tensor>& v, const std::optional<at::Tensor>& cuq,                      \
            const std::optional<at::Tensor>& cuk, int64_t nq, int64_t nk, int64_t l, int64_t g,            \
            int64_t pv, bool c, double s, bool lse, int64_t kern) {                                        \
           return attention(q, k8, ks, km, v8, vs, vm, v, cuq, cuk, nq, nk, l, g, pv, c, s, lse, kern,      \
                            backend);                                                                      \
         });                                                                                               \
  m.impl("sageattn", [](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,                     \
                        const std::optional<at::Tensor>& cuq, const std::optional<at::Tensor>& cuk,        \
                        int64_t nq, int64_t nk, int64_t l, int64_t g, int64_t pv, bool c, double s,        \
                        bool sk, bool sv, bool lse, int64_t kern) {                                        \
    return sageattn(q, k, v, cuq, cuk, nq, nk, l, g, pv, c, s, sk, sv, lse, kern, backend);                \
  })

