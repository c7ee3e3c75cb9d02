// CPU quantization of Q, K and V, exactly as quant_layout.h and quant_math.h define it.
#include <cmath>
#include <vector>

#include "reference/tensor_access.h"
#include "sageattention/reference.h"
#include "sageattention/validate.h"

namespace sageattention::reference {
namespace {

// Per-channel mean of one sequence of one head, accumulated in double and rounded once to float.
std::vector<float> channel_mean(DType dt, const StridedTensor& x, const Sequences& s, int b, int h,
                                int head_dim) {
  const int64_t len = seq_len(s, b);
  std::vector<double> sum(head_dim, 0.0);
  std::vector<float> row(head_dim);
  for (int64_t t = 0; t < len; ++t) {
    load_row(dt, x, s, b, t, h, head_dim, row.data());
    for (int c = 0; c < head_dim; ++c) sum[c] += row[c];
  }
  std::vector<float> mean(head_dim, 0.0f);
  if (len > 0)
    for (int c = 0; c < head_dim; ++c) mean[c] = static_cast<float>(sum[c] / double(len));
  return mean;
}

// One (sequence, kv head) of a K or V tensor: where it lives and its channel mean (zeros when not
// smoothing).
struct KvHead {
  int b, h;
  int64_t len;
  PaddedSeq ps;
  int64_t head_index;  // into the [Bk, H] dims of the quantized buffers
  std::vector<float> mean;
};

KvHead kv_head(DType dt, const StridedTensor& x, const Sequences& s, int heads, int head_dim, bool smooth,
               int64_t bh) {
  KvHead kv;
  kv.b = int(bh / heads);
  kv.h = int(bh % heads);
  kv.len = seq_len(s, kv.b);
  kv.ps = padded_seq(s, kv.b);
  kv.head_index = kv.ps.entry * heads + kv.h;
  kv.mean = smooth ? channel_mean(dt, x, s, kv.b, kv.h, head_dim) : std::vector<float>(head_dim, 0.0f);
  return kv;
}

}  // namespace

Status quant_q(const QuantQParams& p) {
  if (!valid_sequences(p.seq) || !valid_head_dims(p.head_dim, p.head_dim_padded))
    return Status::kInvalidArgument;
  const int dp = p.head_dim_padded, d = p.head_dim;
  const int64_t groups_per_seq = q_groups(p.gran, p.seq.seqlen);
  parallel_for(int64_t(p.seq.batch) * p.heads, [&](int64_t bh) {
    const int b = int(bh / p.heads), h = int(bh % p.heads);
    const int64_t len = seq_len(p.seq, b), begin = seq_begin(p.seq, b);
    std::vector<float> rows(size_t(len) * d);
    for (int64_t t = 0; t < len; ++t) load_row(p.dtype, p.q, p.seq, b, t, h, d, &rows[t * d]);
    std::vector<float> amax(groups_per_seq, 0.0f);
    for (int64_t t = 0; t < len; ++t)
      for (int c = 0; c < d; ++c)
        amax[q_group(p.gran, t)] = std::fmax(amax[q_group(p.gran, t)], std::fabs(rows[t * d + c]));
    // Layout: dense [B, H, N, Dp] / varlen [H, total, Dp]; scales [B, H, G] / [H, B, G].
    int8_t* q8 = p.seq.varlen() ? p.q8 + (int64_t(h) * p.seq.cu_seqlens[p.seq.batch] + begin) * dp
                                : p.q8 + bh * p.seq.seqlen * dp;
    float* scale =
        p.q_scale + (p.seq.varlen() ? int64_t(h) * p.seq.batch + b : bh) * groups_per_seq;
    for (int64_t g = 0; g < groups_per_seq; ++g) scale[g] = int8_scale(amax[g]);
    for (int64_t t = 0; t < len; ++t) {
      const float inv = int8_inv_scale(amax[q_group(p.gran, t)]);
      for (int c = 0; c < dp; ++c) q8[t * dp + c] = c < d ? quantize_int8(rows[t * d + c], inv) : 0;
    }
  });
  return Status::kSuccess;
}

Status quant_k(const QuantKParams& p) {
  if (Status s = validate(p); s != Status::kSuccess) return s;
  const int dp = p.head_dim_padded, d = p.head_dim;
  const int64_t T = p.seq.padded_tokens;
  const int64_t scales_per_head = k_scale_count(p.gran, T);
  parallel_for(int64_t(p.seq.batch) * p.heads, [&](int64_t bh) {
    const auto [b, h, len, ps, head_index, mean] = kv_head(p.dtype, p.k, p.seq, p.heads, d, p.smooth, bh);
    float* mean_out = p.k_mean + bh * dp;
    for (int c = 0; c < dp; ++c) mean_out[c] = c < d ? mean[c] : 0.0f;

    const int64_t padded_len = round_up(len, kTokenPad);
    std::vector<float> centered(size_t(padded_len) * d, 0.0f);
    std::vector<float> row(d);
    for (int64_t t = 0; t < len; ++t) {
      load_row(p.dtype, p.k, p.seq, b, t, h, d, row.data());
      for (int c = 0; c < d; ++c) centered[t * d + c] = fsub_rn(row[c], mean[c]);
    }
    // Group amax over the whole padded range (padding is zero, so it does not move amax).
    float* scale = p.k_scale + head_index * scales_per_head;
    const int64_t g0 = k_group(p.gran, ps.start);
    const int64_t groups = padded_len / kKBlockTokens * k_groups_per_block(p.gran);
    std::vector<float> amax(groups, 0.0f);
    for (int64_t t = 0; t < padded_len; ++t) {
      const int64_t g = k_group(p.gran, ps.start + t) - g0;
      for (int c = 0; c < d; ++c) amax[g] = std::fmax(amax[g], std::fabs(centered[t * d + c]));
    }
    for (int64_t g = 0; g < groups; ++g) scale[g0 + g] = int8_scale(amax[g]);
    int8_t* k8 = p.k8 + (head_index * T + ps.start) * dp;
    for (int64_t t = 0; t < padded_len; ++t) {
      const float inv = int8_inv_scale(amax[k_group(p.gran, ps.start + t) - g0]);
      for (int c = 0; c < dp; ++c) k8[t * dp + c] = c < d ? quantize_int8(centered[t * d + c], inv) : 0;
    }
  });
  return Status::kSuccess;
}

Status quant_v(const QuantVParams& p) {
  if (Status s = validate(p); s != Status::kSuccess) return s;
  const int dp = p.head_dim_padded, d = p.head_dim;
  const int64_t T = p.seq.padded_tokens;
  parallel_for(int64_t(p.seq.batch) * p.heads, [&](int64_t bh) {
    const auto [b, h, len, ps, head_index, mean] = kv_head(p.dtype, p.v, p.seq, p.heads, d, p.smooth, bh);
    std::vector<float> centered(size_t(len) * d);
    std::vector<float> row(d);
    std::vector<float> amax(d, 0.0f);
    for (int64_t t = 0; t < len; ++t) {
      load_row(p.dtype, p.v, p.seq, b, t, h, d, row.data());
      for (int c = 0; c < d; ++c) {
        centered[t * d + c] = fsub_rn(row[c], mean[c]);
        amax[c] = std::fmax(amax[c], std::fabs(centered[t * d + c]));
      }
    }
    float* scale_out = p.v_scale + bh * dp;
    float* mean_out = p.v_mean + bh * dp;
    const int64_t padded_len = round_up(len, kTokenPad);
    for (int c = 0; c < dp; ++c) {
      scale_out[c] = c < d ? fp8_scale(amax[c], p.fp8_max) : 0.0f;
      mean_out[c] = c < d ? mean[c] : 0.0f;
      const float inv = c < d ? fp8_inv_scale(amax[c], p.fp8_max) : 0.0f;
      uint8_t* dst = p.v8 + (head_index * dp + c) * T + ps.start;
      for (int64_t t = 0; t < padded_len; ++t) {
        const int64_t slot = (t / kVPermGroup) * kVPermGroup + v_perm_slot(int(t % kVPermGroup));
        dst[slot] = (c < d && t < len) ? float_to_e4m3(fmul_rn(centered[t * d + c], inv)) : 0;
      }
    }
  });
  return Status::kSuccess;
}

}  // namespace sageattention::reference
