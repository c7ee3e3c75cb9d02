// Where sequence b lives: in the raw strided tensors (dense or varlen) and on the padded token axis
// of the quantized K/V buffers (quant_layout.h). One struct so every kernel indexes alike.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "sageattention/params.h"
#include "sageattention/quant_layout.h"

namespace sageattention::kernels {

struct SequenceSlot {
  int len = 0;             // tokens of this sequence
  int64_t raw_offset = 0;  // element offset of token 0 (head 0) in the raw tensor, before head offset
  int64_t pad_start = 0;   // token index of token 0 on the padded quantized axis
  int quant_batch = 0;     // batch entry of the quantized buffers (Bk index)
};

__device__ __forceinline__ SequenceSlot locate_sequence(const Sequences& s, int b, int64_t batch_stride,
                                                        int64_t token_stride) {
  SequenceSlot r;
  if (s.cu_seqlens != nullptr) {
    const int64_t begin = s.cu_seqlens[b];
    r.len = static_cast<int>(s.cu_seqlens[b + 1] - begin);
    r.raw_offset = begin * token_stride;
    r.pad_start = varlen_padded_start(begin, b);
    r.quant_batch = 0;
  } else {
    r.len = s.seqlen;
    r.raw_offset = static_cast<int64_t>(b) * batch_stride;
    r.pad_start = 0;
    r.quant_batch = b;
  }
  return r;
}

// Eight consecutive fp16/bf16 elements (16 bytes, aligned) -> floats.
__device__ __forceinline__ void load8_as_float(const void* p, bool bf16, float (&x)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t lo = w[i] & 0xFFFFu, hi = w[i] >> 16;
    if (bf16) {
      x[2 * i] = __uint_as_float(lo << 16);
      x[2 * i + 1] = __uint_as_float(hi << 16);
    } else {
      x[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(lo)));
      x[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(hi)));
    }
  }
}

}  // namespace sageattention::kernels
