// CPU implementation of the quantized attention op: INT8 Q·Kᵀ (Q quantized here, K given), online
// softmax in base 2 over blocks of softmax_block_keys keys, FP8 or FP16 P·V, epilogue with V scale
// and mean, LSE with the K-smoothing correction. Mirrors what the kernels compute, step for step.
#include <cmath>
#include <limits>
#include <vector>

#include "reference/tensor_access.h"
#include "sageattention/float_convert.h"
#include "sageattention/reference.h"
#include "sageattention/validate.h"

namespace sageattention::reference {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int32_t dot_int8(const int8_t* a, const int8_t* b, int n) {
  int32_t acc = 0;
  for (int c = 0; c < n; ++c) acc += int32_t(a[c]) * int32_t(b[c]);
  return acc;
}

// One (sequence, query head): Q quantization, then every query row against the K/V of its kv head.
void attend_head(const AttentionParams& p, int b, int h) {
  const int d = p.head_dim, dp = p.head_dim_padded;
  const int64_t lq = seq_len(p.seq_q, b), lk = seq_len(p.seq_k, b);
  if (lq == 0) return;
  const int g = h / (p.heads_q / p.heads_kv);
  const bool fp8 = is_fp8(p.pv_mode);
  const bool pv_bf16 = p.pv_operand_dtype == DType::kBFloat16;  // bf16 V as it is, P rounded to bf16
  const float p_offset = fp8 ? kLog2Fp8Max : 0.0f;

  // Q -> INT8 with the group geometry of quant_layout.h; sm_scale·log2e folded into the scale.
  std::vector<float> q(size_t(lq) * d);
  for (int64_t t = 0; t < lq; ++t) load_row(p.dtype, p.q, p.seq_q, b, t, h, d, &q[t * d]);
  std::vector<float> amax(q_groups(p.qk_gran, lq), 0.0f);
  for (int64_t t = 0; t < lq; ++t)
    for (int c = 0; c < d; ++c)
      amax[q_group(p.qk_gran, t)] = std::fmax(amax[q_group(p.qk_gran, t)], std::fabs(q[t * d + c]));
  std::vector<int8_t> q8(size_t(lq) * dp, 0);
  std::vector<float> q_scale(lq);
  const float fold = p.sm_scale * kLog2e;
  for (int64_t t = 0; t < lq; ++t) {
    const float a = amax[q_group(p.qk_gran, t)];
    const float inv = int8_inv_scale(a);
    for (int c = 0; c < d; ++c) q8[t * dp + c] = quantize_int8(q[t * d + c], inv);
    q_scale[t] = fmul_rn(int8_scale(a), fold);
  }

  // K and V of this sequence and kv head, V as float in natural token order.
  const PaddedSeq ps = padded_seq(p.seq_k, b);
  const int64_t T = p.seq_k.padded_tokens;
  const int64_t head_index = ps.entry * p.heads_kv + g;
  const int8_t* k8 = p.k8 + (head_index * T + ps.start) * dp;
  const float* k_scale = p.k_scale + head_index * k_scale_count(p.qk_gran, T);
  std::vector<float> v(size_t(lk) * d);
  for (int64_t j = 0; j < lk; ++j) {
    for (int c = 0; c < d; ++c) {
      if (fp8) {
        const int64_t slot = (j / kVPermGroup) * kVPermGroup + v_perm_slot(int(j % kVPermGroup));
        v[j * d + c] = e4m3_to_float(p.v8[(head_index * dp + c) * T + ps.start + slot]);
      } else {
        const int64_t off = raw_offset(p.seq_k, p.v.batch_stride, p.v.token_stride, p.v.head_stride, b, j, g);
        const float raw = load_raw(p.v_dtype, p.v.ptr, off + c);
        v[j * d + c] = pv_bf16 ? raw : round_to_half_saturate(raw);
      }
    }
  }
  const int64_t vec = int64_t(b) * p.heads_kv + g;  // index of per-sequence channel vectors
  const float* v_scale = fp8 ? p.v_scale + vec * dp : nullptr;
  const float* v_mean = p.v_mean ? p.v_mean + vec * dp : nullptr;
  const float* k_mean = p.k_mean ? p.k_mean + vec * dp : nullptr;

  const int block = p.softmax_block_keys;
  std::vector<float> o(d), acc(d), s(block);
  for (int64_t i = 0; i < lq; ++i) {
    int64_t visible = lk;
    if (p.causal) visible = std::max<int64_t>(0, std::min<int64_t>(lk, i + lk - lq + 1));
    float m = kNegInf, l = 0.0f;
    std::fill(o.begin(), o.end(), 0.0f);
    for (int64_t kb = 0; kb < visible; kb += block) {
      const int n = int(std::min<int64_t>(block, visible - kb));
      float block_max = kNegInf;
      for (int j = 0; j < n; ++j) {
        const int64_t key = kb + j;
        const float scale = fmul_rn(q_scale[i], k_scale[k_group(p.qk_gran, ps.start + key)]);
        s[j] = fmul_rn(float(dot_int8(&q8[i * dp], k8 + key * dp, dp)), scale);
        block_max = std::fmax(block_max, s[j]);
      }
      // The running max rises only past the slack (AttentionParams::rescale_threshold).
      const bool raise = !(p.rescale_threshold > 0.0f) || !(block_max <= m + p.rescale_threshold);
      const float m_new = raise ? std::fmax(m, block_max) : m;
      const float alpha = m == kNegInf ? 0.0f : std::exp2(m - m_new);
      const float m_shift = m_new - p_offset;
      float row_sum = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int j = 0; j < n; ++j) {
        const float prob = std::exp2(s[j] - m_shift);
        const float pq = fp8       ? round_to_e4m3_value(prob)
                         : pv_bf16 ? bf16_bits_to_float(float_to_bf16_bits(prob))
                                   : round_to_half_value_saturate(prob);
        row_sum += p.row_sum_of_rounded_p ? pq : prob;
        if (pq == 0.0f) continue;
        const float* vr = &v[(kb + j) * d];
        for (int c = 0; c < d; ++c) acc[c] += pq * vr[c];
      }
      // fp16-accumulating modes: the block's sum leaves the MMA as fp16 (the kernels round after
      // each MMA, this once per block).
      if (p.pv_mode == PVMode::kFp16Fp16Fp32 || p.pv_mode == PVMode::kFp8Fp16Fp32)
        for (int c = 0; c < d; ++c) acc[c] = half_bits_to_float(float_to_half_bits(acc[c]));
      l = l * alpha + row_sum;
      for (int c = 0; c < d; ++c) o[c] = o[c] * alpha + acc[c];
      m = m_new;
    }

    const int64_t o_off = raw_offset(p.seq_q, p.o.batch_stride, p.o.token_stride, p.o.head_stride, b, i, h);
    uint16_t* out = static_cast<uint16_t*>(p.o.ptr) + o_off;
    const bool empty = !(l > 0.0f);
    for (int c = 0; c < d; ++c) {
      float x = 0.0f;
      if (!empty) {
        x = o[c] / l;
        if (v_scale) x = x * v_scale[c];
        if (v_mean) x = x + v_mean[c];
      }
      out[c] = float_to_dtype_bits(p.dtype, x);
    }
    if (p.lse) {
      float lse = kNegInf;
      if (!empty) {
        lse = (m + std::log2(l) - p_offset) * kLn2;
        if (k_mean) {
          float qm = 0.0f;
          for (int c = 0; c < d; ++c) qm += q[i * d + c] * k_mean[c];
          lse += p.sm_scale * qm;
        }
      }
      const int64_t lse_off = p.seq_q.varlen()
                                  ? int64_t(h) * p.lse_head_stride + p.seq_q.cu_seqlens[b] + i
                                  : int64_t(b) * p.lse_batch_stride + int64_t(h) * p.lse_head_stride + i;
      p.lse[lse_off] = lse;
    }
  }
}

}  // namespace

Status attention(const AttentionParams& p) {
  if (Status s = validate(p); s != Status::kSuccess) return s;
  if (p.softmax_block_keys != 64 && p.softmax_block_keys != 128) return Status::kInvalidArgument;
  if (!(p.rescale_threshold >= 0.0f && p.rescale_threshold <= 15.0f)) return Status::kInvalidArgument;
  parallel_for(int64_t(p.seq_q.batch) * p.heads_q,
               [&](int64_t bh) { attend_head(p, int(bh / p.heads_q), int(bh % p.heads_q)); });
  return Status::kSuccess;
}

}  // namespace sageattention::reference
