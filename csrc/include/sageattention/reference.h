// CPU implementation of the exact quantized algorithm (the oracle for the kernels and the CPU
// backend of the torch ops), plus plain float64 attention. Host pointers only.
#pragma once

#include <cstdint>

#include "sageattention/params.h"

namespace sageattention::reference {

Status quant_k(const QuantKParams& p);
Status quant_v(const QuantVParams& p);
Status attention(const AttentionParams& p);

// INT8 quantization of Q exactly as the attention op does it internally (sm_scale·log2e is NOT
// folded into these scales). q8: [batch, heads, seqlen, Dp] dense or [heads, total, Dp] varlen;
// q_scale: [batch, heads, q_groups(seqlen)] dense, or [heads, batch, q_groups(max_seqlen)] varlen.
struct QuantQParams {
  DType dtype = DType::kFloat16;
  StridedTensor q;
  Sequences seq;
  int heads = 0;
  int head_dim = 0;
  int head_dim_padded = 0;
  QuantGranularity gran = QuantGranularity::kPerThread;
  int8_t* q8 = nullptr;
  float* q_scale = nullptr;
};
Status quant_q(const QuantQParams& p);

// Float64 attention on raw fp16/bf16 inputs, same contract as the public op (causal bottom-right,
// GQA, varlen, empty rows -> 0 and LSE -inf). o and lse as in AttentionParams but o is double.
struct Float64AttentionParams {
  DType dtype = DType::kFloat16;
  int heads_q = 0, heads_kv = 0, head_dim = 0;
  Sequences seq_q, seq_k;
  StridedTensor q, k, v;
  double* o = nullptr;            // contiguous [batch, seqlen_q, heads_q, D] dense / [total_q, heads_q, D]
  double* lse = nullptr;          // contiguous [batch, heads_q, seqlen_q] dense / [heads_q, total_q]
  double sm_scale = 1.0;
  bool causal = false;
};
Status attention_float64(const Float64AttentionParams& p);

}  // namespace sageattention::reference
