// Contract checks on the param blocks, shared by the CPU reference and the CUDA entry points.
// They only read scalars and pointers (never device memory), so they cost nothing at launch.
#pragma once

#include "sageattention/constants.h"
#include "sageattention/params.h"
#include "sageattention/quant_layout.h"

namespace sageattention {

inline bool valid_sequences(const Sequences& s) {
  return s.batch >= 0 && s.seqlen >= 0 && s.padded_tokens >= 0 && s.padded_tokens % kTokenPad == 0;
}

inline bool valid_head_dims(int head_dim, int head_dim_padded) {
  return head_dim >= 1 && head_dim <= kMaxHeadDim && head_dim_padded == padded_head_dim(head_dim);
}

inline Status validate(const QuantKParams& p) {
  if (!valid_sequences(p.seq) || p.heads < 0 || !valid_head_dims(p.head_dim, p.head_dim_padded))
    return Status::kInvalidArgument;
  if (p.seq.batch > 0 && p.heads > 0 && (!p.k.ptr || !p.k8 || !p.k_scale || !p.k_mean))
    return Status::kInvalidArgument;
  return Status::kSuccess;
}

inline Status validate(const QuantVParams& p) {
  if (!valid_sequences(p.seq) || p.heads < 0 || !valid_head_dims(p.head_dim, p.head_dim_padded))
    return Status::kInvalidArgument;
  if (p.seq.batch > 0 && p.heads > 0 && (!p.v.ptr || !p.v8 || !p.v_scale || !p.v_mean))
    return Status::kInvalidArgument;
  if (!(p.fp8_max > 0.0f && p.fp8_max <= kFp8Max)) return Status::kInvalidArgument;
  return Status::kSuccess;
}

inline Status validate(const AttentionParams& p) {
  if (!valid_sequences(p.seq_q) || !valid_sequences(p.seq_k) || p.seq_q.batch != p.seq_k.batch)
    return Status::kInvalidArgument;
  if (p.seq_q.varlen() != p.seq_k.varlen()) return Status::kInvalidArgument;
  if (p.heads_q < 0 || (p.heads_kv <= 0 && p.heads_q > 0)) return Status::kInvalidArgument;
  if (p.heads_kv > 0 && p.heads_q % p.heads_kv != 0) return Status::kInvalidArgument;
  if (!valid_head_dims(p.head_dim, p.head_dim_padded)) return Status::kInvalidArgument;
  if (static_cast<int32_t>(p.pv_mode) < 0 || p.pv_mode > PVMode::kFp8Fp16Fp32) return Status::kInvalidArgument;
  const bool empty = p.seq_q.batch == 0 || p.heads_q == 0;
  if (!empty && (!p.q.ptr || !p.o.ptr || !p.k8 || !p.k_scale)) return Status::kInvalidArgument;
  if (!empty && is_fp8(p.pv_mode) && (!p.v8 || !p.v_scale)) return Status::kInvalidArgument;
  if (!empty && !is_fp8(p.pv_mode) && !p.v.ptr) return Status::kInvalidArgument;
  if (p.pv_operand_dtype == DType::kBFloat16 && (is_fp8(p.pv_mode) || p.v_dtype != DType::kBFloat16))
    return Status::kInvalidArgument;  // bf16 P·V multiplies bf16 V as it is
  return Status::kSuccess;
}

}  // namespace sageattention
