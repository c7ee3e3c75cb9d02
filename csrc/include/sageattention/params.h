// Parameter blocks of the three operations. The same structs drive the CUDA kernels (device
// pointers) and the CPU reference (host pointers); the torch binding fills them from tensors.
//
// Raw fp16/bf16 inputs are addressed as [batch, tokens, heads, dim] with element strides for the
// first three dims and a contiguous last dim, which covers HND, NHD and views of a fused QKV tensor.
// Varlen: batch_stride is unused and token t of sequence b is row cu_seqlens[b] + t.
// Quantized buffers follow quant_layout.h exactly (contiguous, no strides).
#pragma once

#include <cstdint>

#include "sageattention/config.h"
#include "sageattention/constants.h"
#include "sageattention/types.h"

namespace sageattention {

struct StridedTensor {
  const void* ptr = nullptr;
  int64_t batch_stride = 0;
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};

struct MutableStridedTensor {
  void* ptr = nullptr;
  int64_t batch_stride = 0;
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};

// Sequence geometry shared by all ops.
struct Sequences {
  int batch = 0;                          // number of sequences
  int seqlen = 0;                         // dense: tokens per sequence; varlen: max over sequences
  const int32_t* cu_seqlens = nullptr;    // varlen: batch + 1 prefix offsets (same memory space as data)
  int64_t padded_tokens = 0;              // T of quant_layout.h for the quantized buffers

  SAGE_HD bool varlen() const { return cu_seqlens != nullptr; }
};

// K: per-sequence channel mean (optional) and INT8 quantization of K - mean.
struct QuantKParams {
  DType dtype = DType::kFloat16;
  StridedTensor k;
  Sequences seq;
  int heads = 0;
  int head_dim = 0;
  int head_dim_padded = 0;
  QuantGranularity gran = QuantGranularity::kPerThread;
  bool smooth = true;
  int8_t* k8 = nullptr;
  float* k_scale = nullptr;
  float* k_mean = nullptr;
};

// V: per-sequence channel mean (optional), transpose, per-channel FP8 e4m3 quantization.
struct QuantVParams {
  DType dtype = DType::kFloat16;
  StridedTensor v;
  Sequences seq;
  int heads = 0;
  int head_dim = 0;
  int head_dim_padded = 0;
  bool smooth = false;
  uint8_t* v8 = nullptr;   // e4m3 bits
  float* v_scale = nullptr;
  float* v_mean = nullptr;
  // Codes span [-fp8_max, fp8_max], in (0, 448]: 448 (the e4m3 range), or fp8_v_max(mode) of the
  // P·V mode that will read them (kFp8VMaxFp16Accum for PVMode::kFp8Fp16Fp32).
  float fp8_max = kFp8Max;
  // Launched right after this call's quant_k on the same stream (CUDA: may then overlap it).
  bool follows_quant_k = false;
};

// Q (raw, quantized inside the op) against pre-quantized K and V.
struct AttentionParams {
  DType dtype = DType::kFloat16;   // dtype of q and o
  int heads_q = 0;
  int heads_kv = 0;
  int head_dim = 0;
  int head_dim_padded = 0;
  Sequences seq_q;                 // padded_tokens unused
  Sequences seq_k;                 // same batch as seq_q
  StridedTensor q;

  QuantGranularity qk_gran = QuantGranularity::kPerThread;
  const int8_t* k8 = nullptr;
  const float* k_scale = nullptr;
  const float* k_mean = nullptr;   // nullptr: K was not smoothed (no LSE correction)

  PVMode pv_mode = PVMode::kFp8Fp32Fp32;
  // FP8 modes: v8 per quant_layout.h, v_scale required, v_mean optional.
  const uint8_t* v8 = nullptr;
  const float* v_scale = nullptr;
  const float* v_mean = nullptr;
  // FP16 modes: V in natural [batch, tokens, heads, dim] order, fp16 or bf16 (converted to fp16 with
  // saturation inside the op). v_mean, when set, is added to the output (V was smoothed beforehand).
  StridedTensor v;
  DType v_dtype = DType::kFloat16;
  int64_t v_tokens = 0;            // rows of v's token axis (varlen: the packed total); bounds TMA reads
  // FP16 modes: the 16-bit type of the P·V product. kFloat16 is the mode as defined (V saturated to
  // fp16, P rounded to fp16); kBFloat16 (bf16 V only) multiplies V as it is with P rounded to bf16,
  // which is what the Hopper kernel does with bf16 V. Kernel selection sets it so that the CPU
  // reference emulates the kernel that runs; the kernels themselves follow v_dtype.
  DType pv_operand_dtype = DType::kFloat16;

  MutableStridedTensor o;          // dtype, head_dim columns written
  // LSE, natural log, fp32. Dense [batch, heads_q, seqlen_q] (batch_stride, head_stride, token 1);
  // varlen [heads_q, total_q] (head_stride, token 1; row = cu_seqlens_q[b] + t). nullptr: not wanted.
  float* lse = nullptr;
  int64_t lse_batch_stride = 0;
  int64_t lse_head_stride = 0;

  float sm_scale = 1.0f;
  bool causal = false;
  // Keys per online-softmax step of the kernel that runs (64 or 128). The running max, and with it
  // the FP8 rounding of P, changes once per step, so the CPU reference emulates this value.
  int softmax_block_keys = 64;
  // The softmax denominator sums P as rounded to the P·V operand type (e4m3, fp16 or bf16: the P
  // that multiplies V), summed on the tensor cores (the Hopper kernel's two-level FP8 mode, from its
  // P·V product; the mma.sync kernels where mma_row_sum_of_rounded_p() says so, by an MMA with a
  // ones column), instead of P in fp32 (the other kernels and modes). Kernel selection sets it
  // with softmax_block_keys.
  bool row_sum_of_rounded_p = false;
  // The running max of the online softmax is raised only when a block's max exceeds it by more than
  // this (log2 units, 0 to 15); P = exp2(S - max) then stays below 2^rescale_threshold (within fp16
  // for any value allowed). 0: raised whenever it grows. Kernel selection sets it with
  // softmax_block_keys.
  float rescale_threshold = 0.0f;
};

// Range of the V codes a P·V mode reads (QuantVParams::fp8_max).
constexpr float fp8_v_max(PVMode mode) { return mode == PVMode::kFp8Fp16Fp32 ? kFp8VMaxFp16Accum : kFp8Max; }

// Keys per online-softmax step of the mma.sync kernels (their key block, attention_config.cuh):
// 128 at head dim 64 in the fp32-accumulating FP16 mode, else 64 (the K quantization block).
constexpr int mma_softmax_block_keys(int head_dim_padded, PVMode mode) {
  return head_dim_padded == 64 && mode == PVMode::kFp16Fp32 ? 2 * kKBlockTokens : kKBlockTokens;
}
// Whether those kernels sum the softmax denominator on the tensor cores, from P as rounded for the
// P·V product (AttentionParams::row_sum_of_rounded_p): head dim 64 in the fp32-accumulating FP16 mode.
constexpr bool mma_row_sum_of_rounded_p(int head_dim_padded, PVMode mode) {
  return head_dim_padded == 64 && mode == PVMode::kFp16Fp32;
}
// Their running-max slack (AttentionParams::rescale_threshold): 8 at head dims 64 and 128 in the
// fp32-accumulating FP16 mode (P below 256, far inside fp16 and bf16), else 0.
constexpr float mma_rescale_threshold(int head_dim_padded, PVMode mode) {
  return head_dim_padded <= 128 && mode == PVMode::kFp16Fp32 ? 8.0f : 0.0f;
}

}  // namespace sageattention
