// What the Hopper kernel reads besides its two TMA descriptors: plain pointers, strides and sizes,
// filled on the host from AttentionParams (launch.h).
#pragma once

#include <cstdint>

namespace sageattention::sm90 {

struct KernelParams {
  // Raw Q and the output, [batch, tokens, heads, dim] element strides (batch unused for varlen).
  const void* q = nullptr;
  int64_t q_batch_stride = 0, q_token_stride = 0, q_head_stride = 0;
  void* o = nullptr;
  int64_t o_batch_stride = 0, o_token_stride = 0, o_head_stride = 0;
  float* lse = nullptr;
  int64_t lse_batch_stride = 0, lse_head_stride = 0;

  const float* k_scale = nullptr;  // [Bk, Hkv, T / 64 * G]
  const float* k_mean = nullptr;   // [batch, Hkv, Dp] or nullptr
  const float* v_scale = nullptr;  // [batch, Hkv, Dp]
  const float* v_mean = nullptr;   // [batch, Hkv, Dp] or nullptr

  const int32_t* cu_seqlens_q = nullptr;  // varlen when set (then cu_seqlens_k is set too)
  const int32_t* cu_seqlens_k = nullptr;

  int batch = 0, heads_q = 0, heads_kv = 0;
  int head_dim = 0;                 // columns of q/o actually present (<= kHeadDim, multiple of 8)
  int seqlen_q = 0, seqlen_k = 0;   // dense lengths, or the maxima for varlen
  int64_t k_padded_tokens = 0;      // T of quant_layout.h
  int k_groups_per_block = 4;       // G: 4 per-thread, 1 per-warp / per-block
  int q_gran = 2;                   // QuantGranularity as int
  float sm_scale = 1.0f;
  float sm_scale_log2 = 1.0f;       // sm_scale * log2(e), folded into the Q scale

  // Dense inputs: the producer prefetches raw Q tiles by TMA. Varlen: the consumers load Q rows
  // themselves (the total token count, the TMA map's extent, is not known on the host).
  bool q_via_tma = false;
  // Dense outputs whose strides TMA accepts: the output tile is stored by TMA from shared memory
  // (kernels with Traits::kStageO); otherwise each thread stores its accumulator values.
  bool o_via_tma = false;

  int num_m_blocks = 0;             // ceil(seqlen_q / kBlockM)
  int num_tiles = 0;                // num_m_blocks * heads_q * batch
  // Causal: (batch, head) pairs scheduled together, sized so that their K/V fit in 3/4 of L2.
  int causal_head_group = 1;
};

}  // namespace sageattention::sm90
