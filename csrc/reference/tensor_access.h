// Host-side addressing of raw strided inputs and of the quantized layouts of quant_layout.h, plus a
// small parallel-for. Private to the reference.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "sageattention/params.h"
#include "sageattention/quant_layout.h"
#include "sageattention/quant_math.h"

namespace sageattention::reference {

inline int64_t seq_begin(const Sequences& s, int b) { return s.varlen() ? s.cu_seqlens[b] : 0; }
inline int64_t seq_len(const Sequences& s, int b) {
  return s.varlen() ? int64_t(s.cu_seqlens[b + 1]) - s.cu_seqlens[b] : s.seqlen;
}

// Element offset of (sequence b, token t of that sequence, head h) in a raw strided tensor.
inline int64_t raw_offset(const Sequences& s, int64_t batch_stride, int64_t token_stride,
                          int64_t head_stride, int b, int64_t t, int h) {
  const int64_t row = seq_begin(s, b) + t;
  const int64_t base = s.varlen() ? 0 : int64_t(b) * batch_stride;
  return base + row * token_stride + int64_t(h) * head_stride;
}

inline float load_raw(DType dt, const void* base, int64_t offset) {
  const uint16_t bits = static_cast<const uint16_t*>(base)[offset];
  return dt == DType::kFloat16 ? half_bits_to_float(bits) : bf16_bits_to_float(bits);
}

// Reads one raw row (head_dim values) as float.
inline void load_row(DType dt, const StridedTensor& x, const Sequences& s, int b, int64_t t, int h,
                     int head_dim, float* out) {
  const int64_t off = raw_offset(s, x.batch_stride, x.token_stride, x.head_stride, b, t, h);
  for (int c = 0; c < head_dim; ++c) out[c] = load_raw(dt, x.ptr, off + c);
}

// Quantized K/V buffers: which batch entry (Bk) and padded-axis start a sequence lives at.
struct PaddedSeq {
  int64_t entry;  // index into the Bk dim
  int64_t start;  // first token on the padded axis
};
inline PaddedSeq padded_seq(const Sequences& s, int b) {
  if (s.varlen()) return {0, varlen_padded_start(s.cu_seqlens[b], b)};
  return {b, 0};
}

// Runs fn(i) for i in [0, n) on all hardware threads.
inline void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  const int64_t workers =
      std::min<int64_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  if (workers <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (int64_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace sageattention::reference
