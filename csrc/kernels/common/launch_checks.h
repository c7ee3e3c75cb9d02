// Host-side argument checks shared by the portable launchers: the vectorised loads need 16-byte
// aligned rows, so the raw tensors must have strides that are multiples of 8 elements.
#pragma once

#include <cstdint>

#include "sageattention/params.h"

namespace sageattention::kernels {

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Raw fp16/bf16 tensor whose rows can be read 8 elements at a time.
inline bool vector_readable(const StridedTensor& t, bool varlen) {
  return t.ptr != nullptr && aligned16(t.ptr) && t.token_stride % 8 == 0 && t.head_stride % 8 == 0 &&
         (varlen || t.batch_stride % 8 == 0);
}

}  // namespace sageattention::kernels
