#include "tensor_views.h"

#include <c10/util/Exception.h>

#include "sageattention/quant_layout.h"

namespace sageattention::torch_binding {

DType dtype_of(const at::Tensor& t, const char* name) {
  if (t.scalar_type() == at::kHalf) return DType::kFloat16;
  if (t.scalar_type() == at::kBFloat16) return DType::kBFloat16;
  TORCH_CHECK_TYPE(false, name, " must be float16 or bfloat16, got ", t.scalar_type());
}

RawView raw_view(const at::Tensor& t, const char* name, Layout layout, bool varlen) {
  RawView v;
  TORCH_CHECK(t.dim() == (varlen ? 3 : 4), name, " must be a ", varlen ? 3 : 4, "-D tensor (",
              varlen ? "[total_tokens, heads, head_dim]" : (layout == Layout::kHND ? "[B, H, N, D]" : "[B, N, H, D]"),
              "), got ", t.dim(), "-D");
  TORCH_CHECK(t.size(-1) == 0 || t.stride(-1) == 1, name, " must be contiguous in its last dimension (stride 1), got stride ",
              t.stride(-1));
  v.strided.ptr = t.data_ptr();
  if (varlen) {
    v.batch = 1;
    v.tokens = t.size(0);
    v.heads = t.size(1);
    v.dim = t.size(2);
    v.strided.token_stride = t.stride(0);
    v.strided.head_stride = t.stride(1);
  } else {
    const int hd = layout == Layout::kHND ? 1 : 2, nd = layout == Layout::kHND ? 2 : 1;
    v.batch = t.size(0);
    v.heads = t.size(hd);
    v.tokens = t.size(nd);
    v.dim = t.size(3);
    v.strided.batch_stride = t.stride(0);
    v.strided.head_stride = t.stride(hd);
    v.strided.token_stride = t.stride(nd);
  }
  return v;
}

Sequences make_sequences(const std::optional<at::Tensor>& cu_seqlens, const char* name,
                         int64_t batch, int64_t tokens, int64_t max_seqlen) {
  Sequences s;
  if (cu_seqlens.has_value()) {
    const at::Tensor& cu = *cu_seqlens;
    TORCH_CHECK_TYPE(cu.scalar_type() == at::kInt, name, " must be int32, got ", cu.scalar_type());
    TORCH_CHECK(cu.dim() == 1 && cu.size(0) >= 1, name, " must be 1-D with batch + 1 entries");
    TORCH_CHECK(cu.is_contiguous(), name, " must be contiguous");
    s.batch = static_cast<int>(cu.size(0) - 1);
    s.seqlen = static_cast<int>(max_seqlen);
    s.cu_seqlens = cu.data_ptr<int32_t>();
  } else {
    s.batch = static_cast<int>(batch);
    s.seqlen = static_cast<int>(tokens);
  }
  TORCH_CHECK(tokens < (int64_t(1) << 31), "sequence length ", tokens, " exceeds 2^31 - 1 tokens");
  return s;
}

int64_t padded_tokens_for(const RawView& v, bool varlen, int64_t batch) {
  return varlen ? varlen_padded_total(v.tokens, batch) : dense_padded_tokens(v.tokens);
}

void check_same_device(const at::Tensor& a, const char* an, const at::Tensor& b, const char* bn) {
  TORCH_CHECK(a.device() == b.device(), an, " and ", bn, " must be on the same device, got ", a.device(),
              " and ", b.device());
}

}  // namespace sageattention::torch_binding
