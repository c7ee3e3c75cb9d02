#include "ops.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <limits>

#include "sageattention/quant_layout.h"
#include "sageattention/reference.h"
#include "tensor_views.h"

namespace sageattention::torch_binding {
namespace {

Layout checked_layout(int64_t layout) {
  TORCH_CHECK(layout == 0 || layout == 1, "tensor_layout must be 0 (HND) or 1 (NHD), got ", layout);
  return static_cast<Layout>(layout);
}

QuantGranularity checked_gran(int64_t g) {
  TORCH_CHECK(g >= 0 && g <= 2, "qk_quant_gran must be 0 (per_block), 1 (per_warp) or 2 (per_thread), got ", g);
  return static_cast<QuantGranularity>(g);
}

PVMode checked_pv_mode(int64_t m) {
  TORCH_CHECK(m >= 0 && m <= static_cast<int64_t>(PVMode::kFp8Fp16Fp32), "pv_mode must be in [0, 4], got ", m);
  return static_cast<PVMode>(m);
}

int checked_padded_dim(int64_t d, const char* name) {
  TORCH_CHECK(d >= 1 && d <= kMaxHeadDim, name, " head_dim must be in [1, ", kMaxHeadDim, "], got ", d);
  return padded_head_dim(static_cast<int>(d));
}

void check_quantized(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t dim) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, name, " must be ", dim, "-D, got ", t.dim(), "-D");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous (as produced by the quantization ops)");
}

// Allocates [Bk, H, ...] buffers of the padded layout and fills the sequence geometry.
struct KvGeometry {
  bool varlen;
  RawView view;
  Sequences seq;
  int64_t entries;  // Bk
  int dp;
};

KvGeometry kv_geometry(const at::Tensor& x, const char* name, const std::optional<at::Tensor>& cu,
                       int64_t max_seqlen, Layout layout) {
  KvGeometry g;
  g.varlen = cu.has_value();
  g.view = raw_view(x, name, layout, g.varlen);
  if (g.varlen) check_same_device(x, name, *cu, "cu_seqlens_k");
  g.seq = make_sequences(cu, "cu_seqlens_k", g.view.batch, g.view.tokens, max_seqlen);
  g.seq.padded_tokens = padded_tokens_for(g.view, g.varlen, g.seq.batch);
  g.entries = g.varlen ? 1 : g.seq.batch;
  g.dp = checked_padded_dim(g.view.dim, name);
  return g;
}

// The CUDA kernels move rows with 16-byte vector loads: D must be a multiple of 8 and the base
// pointer and every stride 16-byte aligned. Other inputs go through an aligned, padded copy.
bool kernel_ready(const at::Tensor& x) {
  if (x.size(-1) % 8 != 0 || reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0) return false;
  for (int64_t d = 0; d + 1 < x.dim(); ++d)
    if (x.size(d) > 1 && x.stride(d) % 8 != 0) return false;
  return true;
}

at::Tensor aligned_padded_copy(const at::Tensor& x) {
  const int64_t pad = (8 - x.size(-1) % 8) % 8;
  return pad ? at::constant_pad_nd(x, {0, pad}) : x.clone(at::MemoryFormat::Contiguous);
}

bool no_work(const KvGeometry& g) { return g.seq.batch == 0 || g.view.heads == 0 || g.view.tokens == 0; }

// The fields QuantKParams and QuantVParams share.
template <typename Params>
Params kv_params(const KvGeometry& g, DType dtype) {
  Params p;
  p.dtype = dtype;
  p.seq = g.seq;
  p.heads = static_cast<int>(g.view.heads);
  p.head_dim = static_cast<int>(g.view.dim);
  p.head_dim_padded = g.dp;
  return p;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> zeroed(at::Tensor a, at::Tensor b, at::Tensor c) {
  a.zero_();
  b.zero_();
  c.zero_();
  return {a, b, c};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> quant_k(const at::Tensor& k,
                                                       const std::optional<at::Tensor>& cu_seqlens_k,
                                                       int64_t max_seqlen_k, int64_t tensor_layout,
                                                       int64_t qk_quant_gran, bool smooth_k,
                                                       const Backend& backend) {
  const DType dt = dtype_of(k, "k");
  const QuantGranularity gran = checked_gran(qk_quant_gran);
  const KvGeometry g = kv_geometry(k, "k", cu_seqlens_k, max_seqlen_k, checked_layout(tensor_layout));
  const int64_t T = g.seq.padded_tokens, H = g.view.heads;
  at::Tensor k8 = at::empty({g.entries, H, T, g.dp}, k.options().dtype(at::kChar));
  at::Tensor k_scale = at::empty({g.entries, H, k_scale_count(gran, T)}, k.options().dtype(at::kFloat));
  at::Tensor k_mean = at::empty({g.seq.batch, H, g.dp}, k.options().dtype(at::kFloat));
  if (no_work(g)) return zeroed(k8, k_scale, k_mean);
  QuantKParams p = kv_params<QuantKParams>(g, dt);
  p.k = g.view.strided;
  p.gran = gran;
  p.smooth = smooth_k;
  p.k8 = k8.data_ptr<int8_t>();
  p.k_scale = k_scale.data_ptr<float>();
  p.k_mean = k_mean.data_ptr<float>();
  backend.quant_k(p, k);
  return {k8, k_scale, k_mean};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> quant_v(const at::Tensor& v,
                                                       const std::optional<at::Tensor>& cu_seqlens_k,
                                                       int64_t max_seqlen_k, int64_t tensor_layout,
                                                       bool smooth_v, int64_t pv_mode, const Backend& backend,
                                                       bool follows_quant_k) {
  const PVMode mode = checked_pv_mode(pv_mode);
  TORCH_CHECK(is_fp8(mode), "quant_v makes FP8 V codes: pv_mode must be an FP8 P·V mode (2, 3 or 4), got ", pv_mode);
  const DType dt = dtype_of(v, "v");
  const KvGeometry g = kv_geometry(v, "v", cu_seqlens_k, max_seqlen_k, checked_layout(tensor_layout));
  const int64_t T = g.seq.padded_tokens, H = g.view.heads;
  at::Tensor v8 = at::empty({g.entries, H, g.dp, T}, v.options().dtype(at::kByte));  // e4m3 bits
  at::Tensor v_scale = at::empty({g.seq.batch, H, g.dp}, v.options().dtype(at::kFloat));
  at::Tensor v_mean = at::empty({g.seq.batch, H, g.dp}, v.options().dtype(at::kFloat));
  if (no_work(g)) return zeroed(v8, v_scale, v_mean);
  QuantVParams p = kv_params<QuantVParams>(g, dt);
  p.v = g.view.strided;
  p.smooth = smooth_v;
  p.v8 = static_cast<uint8_t*>(v8.data_ptr());
  p.v_scale = v_scale.data_ptr<float>();
  p.v_mean = v_mean.data_ptr<float>();
  p.fp8_max = fp8_v_max(mode);
  p.follows_quant_k = follows_quant_k;
  backend.quant_v(p, v);
  return {v8, v_scale, v_mean};
}

std::tuple<at::Tensor, at::Tensor> attention(
    const at::Tensor& q, const at::Tensor& k8, const at::Tensor& k_scale,
    const std::optional<at::Tensor>& k_mean, const std::optional<at::Tensor>& v8,
    const std::optional<at::Tensor>& v_scale, const std::optional<at::Tensor>& v_mean,
    const std::optional<at::Tensor>& v, const std::optional<at::Tensor>& cu_seqlens_q,
    const std::optional<at::Tensor>& cu_seqlens_k, int64_t max_seqlen_q, int64_t max_seqlen_k,
    int64_t tensor_layout, int64_t qk_quant_gran, int64_t pv_mode, bool is_causal, double sm_scale,
    bool return_lse, int64_t kernel, const Backend& backend) {
  const Layout layout = checked_layout(tensor_layout);
  const bool varlen = cu_seqlens_q.has_value();
  TORCH_CHECK(varlen == cu_seqlens_k.has_value(), "cu_seqlens_q and cu_seqlens_k must be given together");
  TORCH_CHECK(kernel >= 0 && kernel <= 2, "kernel must be 0 (auto), 1 (mma) or 2 (sm90), got ", kernel);
  AttentionParams p;
  p.dtype = dtype_of(q, "q");
  p.qk_gran = checked_gran(qk_quant_gran);
  p.pv_mode = checked_pv_mode(pv_mode);
  p.causal = is_causal;
  p.sm_scale = static_cast<float>(sm_scale);

  const RawView qv = raw_view(q, "q", layout, varlen);
  p.q = qv.strided;
  p.heads_q = static_cast<int>(qv.heads);
  p.head_dim = static_cast<int>(qv.dim);
  p.head_dim_padded = checked_padded_dim(qv.dim, "q");
  if (varlen) check_same_device(q, "q", *cu_seqlens_q, "cu_seqlens_q");
  p.seq_q = make_sequences(cu_seqlens_q, "cu_seqlens_q", qv.batch, qv.tokens, max_seqlen_q);

  check_quantized(k8, "k8", at::kChar, 4);
  check_same_device(q, "q", k8, "k8");
  TORCH_CHECK(k8.size(3) == p.head_dim_padded, "k8 head dim ", k8.size(3), " does not match q's padded head dim ",
              p.head_dim_padded);
  TORCH_CHECK(k8.size(0) == (varlen ? 1 : qv.batch), "k8 batch ", k8.size(0), " does not match q");
  p.heads_kv = static_cast<int>(k8.size(1));
  TORCH_CHECK(p.heads_q == 0 || (p.heads_kv > 0 && p.heads_q % p.heads_kv == 0), "number of q heads (", p.heads_q,
              ") must be a multiple of the number of k/v heads (", p.heads_kv, ")");
  if (varlen) check_same_device(q, "q", *cu_seqlens_k, "cu_seqlens_k");
  p.seq_k = make_sequences(cu_seqlens_k, "cu_seqlens_k", qv.batch, max_seqlen_k, max_seqlen_k);
  p.seq_k.padded_tokens = k8.size(2);
  TORCH_CHECK(p.seq_q.batch == p.seq_k.batch, "cu_seqlens_q and cu_seqlens_k describe different batch sizes");
  if (!varlen)
    TORCH_CHECK(k8.size(2) == dense_padded_tokens(max_seqlen_k), "k8 has ", k8.size(2),
                " padded tokens, expected round_up(max_seqlen_k=", max_seqlen_k, ", ", kTokenPad, ")");
  check_quantized(k_scale, "k_scale", at::kFloat, 3);
  TORCH_CHECK(k_scale.size(2) == k_scale_count(p.qk_gran, k8.size(2)),
              "k_scale does not match qk_quant_gran (was K quantized with another granularity?)");
  p.k8 = k8.data_ptr<int8_t>();
  p.k_scale = k_scale.data_ptr<float>();
  if (k_mean.has_value()) {
    check_quantized(*k_mean, "k_mean", at::kFloat, 3);
    p.k_mean = k_mean->data_ptr<float>();
  }

  if (is_fp8(p.pv_mode)) {
    TORCH_CHECK(v8.has_value() && v_scale.has_value(), "FP8 P·V needs v8 and v_scale from quant_v (called with "
                "the same pv_mode: mode 4 reads codes within +-2.25)");
    check_quantized(*v8, "v8", at::kByte, 4);
    check_quantized(*v_scale, "v_scale", at::kFloat, 3);
    TORCH_CHECK(v8->size(1) == p.heads_kv && v8->size(2) == p.head_dim_padded && v8->size(3) == k8.size(2),
                "v8 shape ", v8->sizes(), " does not match k8 ", k8.sizes());
    p.v8 = static_cast<const uint8_t*>(v8->data_ptr());
    p.v_scale = v_scale->data_ptr<float>();
  } else {
    TORCH_CHECK(v.has_value(), "FP16 P·V needs the raw v tensor");
    const RawView vv = raw_view(*v, "v", layout, varlen);
    TORCH_CHECK(vv.heads == p.heads_kv && vv.dim == p.head_dim, "v shape ", v->sizes(), " does not match k8/q");
    p.v = vv.strided;
    p.v_dtype = dtype_of(*v, "v");
    p.v_tokens = vv.tokens;
  }
  if (v_mean.has_value()) {
    check_quantized(*v_mean, "v_mean", at::kFloat, 3);
    p.v_mean = v_mean->data_ptr<float>();
  }

  at::Tensor o = at::empty(q.sizes(), q.options());
  const RawView ov = raw_view(o, "o", layout, varlen);
  p.o.ptr = o.data_ptr();
  p.o.batch_stride = ov.strided.batch_stride;
  p.o.token_stride = ov.strided.token_stride;
  p.o.head_stride = ov.strided.head_stride;

  at::Tensor lse;
  if (return_lse) {
    lse = varlen ? at::empty({qv.heads, qv.tokens}, q.options().dtype(at::kFloat))
                 : at::empty({qv.batch, qv.heads, qv.tokens}, q.options().dtype(at::kFloat));
    p.lse = lse.data_ptr<float>();
    p.lse_batch_stride = varlen ? 0 : qv.heads * qv.tokens;
    p.lse_head_stride = qv.tokens;
  } else {
    lse = at::empty({0}, q.options().dtype(at::kFloat));
  }

  if (p.seq_q.batch == 0 || p.heads_q == 0 || qv.tokens == 0) return {o, lse};
  if (!varlen && max_seqlen_k == 0) {  // no keys at all: every row is empty
    o.zero_();
    if (return_lse) lse.fill_(-std::numeric_limits<float>::infinity());
    return {o, lse};
  }
  const KernelChoice chosen = backend.select(p, static_cast<KernelChoice>(kernel), q);
  backend.attention(p, chosen, q);
  return {o, lse};
}

std::tuple<at::Tensor, at::Tensor> sageattn(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const std::optional<at::Tensor>& cu_seqlens_q, const std::optional<at::Tensor>& cu_seqlens_k,
    int64_t max_seqlen_q, int64_t max_seqlen_k, int64_t tensor_layout, int64_t qk_quant_gran,
    int64_t pv_mode, bool is_causal, double sm_scale, bool smooth_k, bool smooth_v, bool return_lse,
    int64_t kernel, const Backend& backend) {
  const Layout layout = checked_layout(tensor_layout);
  const bool varlen = cu_seqlens_q.has_value();
  if (q.is_cuda() && q.numel() > 0 && k.numel() > 0 && !(kernel_ready(q) && kernel_ready(k) && kernel_ready(v))) {
    auto [o, lse] = sageattn(aligned_padded_copy(q), aligned_padded_copy(k), aligned_padded_copy(v), cu_seqlens_q,
                             cu_seqlens_k, max_seqlen_q, max_seqlen_k, tensor_layout, qk_quant_gran, pv_mode,
                             is_causal, sm_scale, smooth_k, smooth_v, return_lse, kernel, backend);
    return {o.narrow(-1, 0, q.size(-1)).contiguous(), lse};
  }
  TORCH_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(),
              "q, k and v must have the same dtype, got ", q.scalar_type(), ", ", k.scalar_type(), ", ",
              v.scalar_type());
  check_same_device(q, "q", k, "k");
  check_same_device(q, "q", v, "v");
  const RawView kv = raw_view(k, "k", layout, varlen);
  const int64_t nk = varlen ? max_seqlen_k : kv.tokens;
  auto [k8, k_scale, k_mean] = quant_k(k, cu_seqlens_k, nk, tensor_layout, qk_quant_gran, smooth_k, backend);
  const std::optional<at::Tensor> k_mean_opt = smooth_k ? std::optional<at::Tensor>(k_mean) : std::nullopt;
  if (is_fp8(checked_pv_mode(pv_mode))) {
    // Nothing is launched between quant_k and quant_v (same geometry: both launch or neither).
    auto [v8, v_scale, v_mean] = quant_v(v, cu_seqlens_k, nk, tensor_layout, smooth_v, pv_mode, backend,
                                         /*follows_quant_k=*/true);
    const std::optional<at::Tensor> v_mean_opt = smooth_v ? std::optional<at::Tensor>(v_mean) : std::nullopt;
    return attention(q, k8, k_scale, k_mean_opt, v8, v_scale, v_mean_opt, std::nullopt, cu_seqlens_q,
                     cu_seqlens_k, max_seqlen_q, nk, tensor_layout, qk_quant_gran, pv_mode, is_causal,
                     sm_scale, return_lse, kernel, backend);
  }
  if (!smooth_v) {
    return attention(q, k8, k_scale, k_mean_opt, std::nullopt, std::nullopt, std::nullopt, v, cu_seqlens_q,
                     cu_seqlens_k, max_seqlen_q, nk, tensor_layout, qk_quant_gran, pv_mode, is_causal,
                     sm_scale, return_lse, kernel, backend);
  }
  // FP16 P·V with smoothing: V' = fp16(V - mean) is materialised (the caller asked for it), the
  // mean is added back in the epilogue.
  const int64_t token_dim = varlen ? 0 : (layout == Layout::kHND ? 2 : 1);
  at::Tensor vf = v.to(at::kFloat);
  at::Tensor mean;        // broadcastable against v
  at::Tensor mean_bhd;    // [batch, H, D]
  if (!varlen) {
    mean = vf.mean(token_dim, /*keepdim=*/true);
    mean_bhd = layout == Layout::kHND ? mean.squeeze(2) : mean.squeeze(1);
  } else {
    const at::Tensor& cu = *cu_seqlens_k;
    const int64_t batch = cu.size(0) - 1;
    at::Tensor token = at::arange(kv.tokens, cu.options());
    at::Tensor seq_id = at::searchsorted(cu.slice(0, 1), token, /*out_int32=*/false, /*right=*/true);
    at::Tensor sums = at::zeros({batch, kv.heads, kv.dim}, vf.options()).index_add_(0, seq_id, vf);
    at::Tensor lens = (cu.slice(0, 1) - cu.slice(0, 0, batch)).clamp_min(1).to(at::kFloat).view({batch, 1, 1});
    mean_bhd = sums / lens;
    mean = mean_bhd.index_select(0, seq_id);
  }
  at::Tensor v_smoothed = (vf - mean).clamp(-kFp16Max, kFp16Max).to(at::kHalf);
  const int dp = padded_head_dim(static_cast<int>(kv.dim));
  at::Tensor v_mean = at::zeros({mean_bhd.size(0), kv.heads, dp}, vf.options());
  v_mean.narrow(2, 0, kv.dim).copy_(mean_bhd);
  return attention(q, k8, k_scale, k_mean_opt, std::nullopt, std::nullopt, v_mean, v_smoothed, cu_seqlens_q,
                   cu_seqlens_k, max_seqlen_q, nk, tensor_layout, qk_quant_gran, pv_mode, is_causal, sm_scale,
                   return_lse, kernel, backend);
}

std::tuple<at::Tensor, at::Tensor> quant_q(const at::Tensor& q, const std::optional<at::Tensor>& cu_seqlens_q,
                                           int64_t max_seqlen_q, int64_t tensor_layout, int64_t qk_quant_gran) {
  TORCH_CHECK(q.device().is_cpu(), "quant_q is the CPU reference of the in-kernel Q quantization; pass CPU tensors");
  const bool varlen = cu_seqlens_q.has_value();
  const QuantGranularity gran = checked_gran(qk_quant_gran);
  const RawView qv = raw_view(q, "q", checked_layout(tensor_layout), varlen);
  reference::QuantQParams p;
  p.dtype = dtype_of(q, "q");
  p.q = qv.strided;
  p.seq = make_sequences(cu_seqlens_q, "cu_seqlens_q", qv.batch, qv.tokens, max_seqlen_q);
  p.heads = static_cast<int>(qv.heads);
  p.head_dim = static_cast<int>(qv.dim);
  p.head_dim_padded = checked_padded_dim(qv.dim, "q");
  const int64_t groups = q_groups(gran, p.seq.seqlen);
  at::Tensor q8 = varlen ? at::zeros({qv.heads, qv.tokens, p.head_dim_padded}, q.options().dtype(at::kChar))
                         : at::zeros({qv.batch, qv.heads, qv.tokens, p.head_dim_padded}, q.options().dtype(at::kChar));
  at::Tensor q_scale = varlen ? at::zeros({qv.heads, p.seq.batch, groups}, q.options().dtype(at::kFloat))
                              : at::zeros({qv.batch, qv.heads, groups}, q.options().dtype(at::kFloat));
  p.gran = gran;
  p.q8 = q8.data_ptr<int8_t>();
  p.q_scale = q_scale.data_ptr<float>();
  check_status(reference::quant_q(p), "quant_q");
  return {q8, q_scale};
}

}  // namespace sageattention::torch_binding
