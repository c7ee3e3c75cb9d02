// Tensors -> the strided views and sequence geometry of params.h, with argument checks whose
// messages name the argument. The Python layer validates first with friendlier messages; these
// checks keep direct op calls (torch.ops.sageattention.*) safe too.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "sageattention/params.h"

namespace sageattention::torch_binding {

enum class Layout : int64_t { kHND = 0, kNHD = 1 };

// A raw q/k/v tensor seen as [batch, tokens, heads, dim]: dense 4-D in either layout, or varlen
// 3-D [total, heads, dim].
struct RawView {
  StridedTensor strided;
  int64_t batch = 0, tokens = 0, heads = 0, dim = 0;
};

DType dtype_of(const at::Tensor& t, const char* name);
RawView raw_view(const at::Tensor& t, const char* name, Layout layout, bool varlen);

// Sequence geometry; cu_seqlens must be int32, contiguous, on the data's device, batch + 1 long.
Sequences make_sequences(const std::optional<at::Tensor>& cu_seqlens, const char* name,
                         int64_t batch, int64_t tokens, int64_t max_seqlen);

// Token extent T of the padded quantized buffers.
int64_t padded_tokens_for(const RawView& v, bool varlen, int64_t batch);

void check_same_device(const at::Tensor& a, const char* an, const at::Tensor& b, const char* bn);

}  // namespace sageattention::torch_binding
