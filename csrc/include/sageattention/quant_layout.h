// Where every quantized value and scale lives. Written once, used by the quantization kernels, the
// attention kernels and the CPU reference, so that all three agree by construction.
//
// Sequences. A call has `batch` sequences. Dense inputs: sequence b holds tokens [0, seqlen) of
// batch entry b. Varlen inputs (cu_seqlens != nullptr): sequence b holds packed tokens
// [cu[b], cu[b+1]) of one [total, heads, dim] tensor.
//
// Quantized K / V buffers are laid out per head over a padded token axis of T tokens:
//   dense : [batch, heads, T, ...] with T = round_up(seqlen, kTokenPad), sequence b at token 0 of entry b
//   varlen: [1,     heads, T, ...] with T = varlen_padded_total(total, batch), sequence b at token
//           varlen_padded_start(cu[b], b), which is kTokenPad-aligned and leaves room for
//           round_up(len_b, kTokenPad) tokens before the next sequence. Computing it needs only
//           cu[b] and b: no prefix sum, no host synchronisation.
//   Tokens in [len_b, round_up(len_b, kTokenPad)) after each sequence are written as zeros.
//
//   k8      int8  [Bk, Hkv, T, Dp]       K - mean(K) (or K), quantized; channels >= D are zero
//   k_scale fp32  [Bk, Hkv, T / 64 * G]  G = k_groups_per_block(gran); group index from k_group()
//   k_mean  fp32  [batch, Hkv, Dp]       per-sequence channel mean (zeros when not smoothing)
//   v8      e4m3  [Bk, Hkv, Dp, T]       V transposed; inside each 32-token group, column p holds
//                                        token v_perm_token(p) (the FP8 MMA A-operand order)
//   v_scale fp32  [batch, Hkv, Dp]       per-sequence channel scale amax / 448 (0 for padded channels)
//   v_mean  fp32  [batch, Hkv, Dp]       per-sequence channel mean (zeros when not smoothing)
// with Bk = batch (dense) or 1 (varlen) and Dp = padded_head_dim(D).
#pragma once

#include <cstdint>

#include "sageattention/config.h"
#include "sageattention/constants.h"
#include "sageattention/types.h"

namespace sageattention {

SAGE_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
SAGE_HD int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Native head dims: kernels are instantiated for 64, 128 and 256; other D are zero-padded up.
SAGE_HD int padded_head_dim(int d) { return d <= 64 ? 64 : (d <= 128 ? 128 : 256); }

SAGE_HD int64_t dense_padded_tokens(int64_t seqlen) { return round_up(seqlen, kTokenPad); }
SAGE_HD int64_t varlen_padded_start(int64_t cu_b, int64_t b) {
  return round_up(cu_b, kTokenPad) + b * kTokenPad;
}
SAGE_HD int64_t varlen_padded_total(int64_t total, int64_t batch) {
  return varlen_padded_start(total, batch);
}

// ---- Q groups (rows are counted from the start of their own sequence) ----
SAGE_HD int64_t q_groups(QuantGranularity g, int64_t seqlen) {
  switch (g) {
    case QuantGranularity::kPerBlock: return ceil_div(seqlen, kQBlockRows);
    case QuantGranularity::kPerWarp: return ceil_div(seqlen, kQWarpRows);
    default: return ceil_div(seqlen, kQWarpRows) * kThreadGroupsPerQSlice;
  }
}
SAGE_HD int64_t q_group(QuantGranularity g, int64_t row) {
  switch (g) {
    case QuantGranularity::kPerBlock: return row / kQBlockRows;
    case QuantGranularity::kPerWarp: return row / kQWarpRows;
    default: return (row / kQWarpRows) * kThreadGroupsPerQSlice + row % kThreadGroupsPerQSlice;
  }
}

// ---- K groups (token t on the padded axis; sequences start kTokenPad-aligned) ----
SAGE_HD int k_groups_per_block(QuantGranularity g) {
  return g == QuantGranularity::kPerThread ? kThreadGroupsPerKBlock : 1;
}
SAGE_HD int64_t k_group(QuantGranularity g, int64_t t) {
  const int64_t block = t / kKBlockTokens;
  if (g != QuantGranularity::kPerThread) return block;
  return block * kThreadGroupsPerKBlock + (t % 8) / 2;
}
SAGE_HD int64_t k_scale_count(QuantGranularity g, int64_t padded_tokens) {
  return padded_tokens / kKBlockTokens * k_groups_per_block(g);
}

// ---- FP8 V token permutation inside a 32-token group ----
// The S accumulator gives a thread (quad lane c) the keys {2c, 2c+1, 8+2c, 9+2c} of each 16-key
// half; the e4m3 MMA's A operand wants k-slots {4c..4c+3} of each half. Storing slot p <- token
// v_perm_token(p) lets P go from accumulator registers to A registers with no shuffles.
SAGE_HD int v_perm_token(int p) {
  const int half = p / 16, c = (p % 16) / 4, i = p % 4;
  return half * 16 + (i / 2) * 8 + 2 * c + (i % 2);
}
// Inverse: the slot that holds token t.
SAGE_HD int v_perm_slot(int t) {
  const int half = t / 16, r = t % 16, c = (r % 8) / 2;
  const int i = (r / 8) * 2 + (r % 2);
  return half * 16 + 4 * c + i;
}

// Causal mask, bottom-right aligned (FlashAttention >= 2.1): query i of a sequence with lq queries
// and lk keys sees keys j <= i + lk - lq. Identical to top-left when lq == lk.
SAGE_HD bool causal_visible(int64_t i, int64_t j, int64_t lq, int64_t lk) { return j <= i + lk - lq; }

}  // namespace sageattention
