// Persistent tile scheduler and per-sequence geometry. Producer and consumers walk the same tile
// sequence (static stride over a grid of at most one CTA per SM), so they agree without talking.
#pragma once

#include <cstdint>

#include "kernels/common/causal_order.h"
#include "sageattention/quant_layout.h"
#include "kernels/sm90/kernel_params.h"

namespace sageattention::sm90 {

struct TileCoord {
  int m_block, head, batch;
};

template <bool kCausal>
struct TileScheduler {
  // Causal: longest tiles first within groups of heads whose K/V fit in L2 (causal_order.h).
  // Non-causal: consecutive tiles share one head so its K/V stays hot in L2.
  __device__ __forceinline__ static TileCoord coord(const KernelParams& p, int tile) {
    TileCoord t;
    int bh;
    if (kCausal) {
      const kernels::CausalTile c =
          kernels::causal_tile(tile, p.num_m_blocks, p.heads_q * p.batch, p.causal_head_group);
      t.m_block = c.m_block;
      bh = c.pair;
    } else {
      t.m_block = tile % p.num_m_blocks;
      bh = tile / p.num_m_blocks;
    }
    t.head = bh % p.heads_q;
    t.batch = bh / p.heads_q;
    return t;
  }
};

// Where one (sequence, head) lives in every buffer.
struct SeqInfo {
  int lq = 0, lk = 0;
  int64_t q_row0 = 0;     // global token row of query 0 (varlen: cu_q[b]; dense: 0 within batch b)
  int64_t k_tok0 = 0;     // first token of this sequence on the padded K/V axis
  int64_t k_row0 = 0;     // global token row of key 0 in the raw K/V tensors (varlen: cu_k[b])
  int kv_slice = 0;       // bk * Hkv + hkv: the outer TMA coordinate of k8 / v8
  int kv_head = 0;
  int kv_batch = 0;       // bk: the batch coordinate of K/V (dense: b; varlen: 0, one packed entry)
  int64_t k_scale_base = 0;  // index of this sequence's first K scale

  __device__ __forceinline__ SeqInfo(const KernelParams& p, int b, int h) {
    kv_head = h / (p.heads_q / p.heads_kv);
    int bk = b;
    if (p.cu_seqlens_q != nullptr) {
      const int q0 = p.cu_seqlens_q[b], q1 = p.cu_seqlens_q[b + 1];
      const int k0 = p.cu_seqlens_k[b], k1 = p.cu_seqlens_k[b + 1];
      lq = q1 - q0;
      lk = k1 - k0;
      q_row0 = q0;
      k_row0 = k0;
      k_tok0 = varlen_padded_start(k0, b);
      bk = 0;
    } else {
      lq = p.seqlen_q;
      lk = p.seqlen_k;
    }
    kv_batch = bk;
    kv_slice = bk * p.heads_kv + kv_head;
    k_scale_base = static_cast<int64_t>(kv_slice) * (p.k_padded_tokens / kKBlockTokens) * p.k_groups_per_block +
                   k_tok0 / kKBlockTokens * p.k_groups_per_block;
  }

  // Number of kBlockN key tiles that the query rows [m0, m0 + block_m) see.
  template <bool kCausal, int kBlockM, int kBlockN>
  __device__ __forceinline__ int num_kv_tiles(int m0) const {
    int keys = lk;
    if (kCausal) {
      const int last_row = min(m0 + kBlockM, lq) - 1;
      keys = min(lk, max(0, last_row + lk - lq + 1));
    }
    return (keys + kBlockN - 1) / kBlockN;
  }
};

}  // namespace sageattention::sm90
