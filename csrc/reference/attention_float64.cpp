// Plain attention in float64 on the raw inputs: the accuracy oracle.
#include <cmath>
#include <limits>
#include <vector>

#include "reference/tensor_access.h"
#include "sageattention/reference.h"
#include "sageattention/validate.h"

namespace sageattention::reference {

Status attention_float64(const Float64AttentionParams& p) {
  if (!valid_sequences(p.seq_q) || !valid_sequences(p.seq_k) || p.heads_kv <= 0 ||
      p.heads_q % p.heads_kv != 0 || p.head_dim <= 0)
    return Status::kInvalidArgument;
  const int d = p.head_dim;
  const int64_t total_q = p.seq_q.varlen() ? p.seq_q.cu_seqlens[p.seq_q.batch] : 0;
  parallel_for(int64_t(p.seq_q.batch) * p.heads_q, [&](int64_t bh) {
    const int b = int(bh / p.heads_q), h = int(bh % p.heads_q);
    const int g = h / (p.heads_q / p.heads_kv);
    const int64_t lq = seq_len(p.seq_q, b), lk = seq_len(p.seq_k, b);
    std::vector<float> k(size_t(lk) * d), v(size_t(lk) * d), q(d);
    for (int64_t j = 0; j < lk; ++j) {
      load_row(p.dtype, p.k, p.seq_k, b, j, g, d, &k[j * d]);
      load_row(p.dtype, p.v, p.seq_k, b, j, g, d, &v[j * d]);
    }
    std::vector<double> s(lk), o(d);
    for (int64_t i = 0; i < lq; ++i) {
      load_row(p.dtype, p.q, p.seq_q, b, i, h, d, q.data());
      const int64_t visible = p.causal ? std::max<int64_t>(0, std::min<int64_t>(lk, i + lk - lq + 1)) : lk;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < visible; ++j) {
        double acc = 0.0;
        for (int c = 0; c < d; ++c) acc += double(q[c]) * double(k[j * d + c]);
        s[j] = acc * p.sm_scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0.0;
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < visible; ++j) {
        const double e = std::exp(s[j] - mx);
        sum += e;
        for (int c = 0; c < d; ++c) o[c] += e * double(v[j * d + c]);
      }
      const int64_t row = seq_begin(p.seq_q, b) + i;
      double* out = p.seq_q.varlen() ? p.o + (row * p.heads_q + h) * d
                                     : p.o + ((int64_t(b) * lq + i) * p.heads_q + h) * d;
      for (int c = 0; c < d; ++c) out[c] = visible > 0 ? o[c] / sum : 0.0;
      if (p.lse) {
        const double lse = visible > 0 ? mx + std::log(sum) : -std::numeric_limits<double>::infinity();
        if (p.seq_q.varlen()) p.lse[int64_t(h) * total_q + row] = lse;
        else p.lse[(int64_t(b) * p.heads_q + h) * lq + i] = lse;
      }
    }
  });
  return Status::kSuccess;
}

}  // namespace sageattention::reference
