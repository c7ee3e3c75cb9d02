// Order in which causal query tiles are handed out, shared by the mma.sync and Hopper kernels.
// The last query tiles of a head see the most keys, so they go first (longest processing time
// first): the last tiles to start are then the short ones and every SM runs out of work at about the
// same time. Taken over all heads at once, that order would have the CTAs running together each
// on a different head, each reading its K/V from DRAM; so heads are taken in groups whose K/V fit in
// L2 together, longest tiles first inside each group. Torch- and CUDA-runtime-free (unit-tested).
#pragma once

#include <algorithm>
#include <cstdint>

#include "sageattention/config.h"

namespace sageattention::kernels {

// (sequence, query head) pairs per group: as many as keep the group's K/V in three quarters of
// `l2_bytes`, in equal groups (each group ends in its own tail of short tiles). kv_bytes_per_pair:
// the K and V bytes one pair reads (query heads of one KV head share them).
inline int causal_head_group(int64_t kv_bytes_per_pair, int64_t pairs, int64_t l2_bytes) {
  const int64_t fit = std::max<int64_t>(1, l2_bytes * 3 / 4 / std::max<int64_t>(1, kv_bytes_per_pair));
  const int64_t groups = std::max<int64_t>(1, (pairs + fit - 1) / fit);
  return static_cast<int>(std::max<int64_t>(1, (pairs + groups - 1) / groups));
}

struct CausalTile {
  int m_block;  // query tile within its head
  int pair;     // sequence * heads + head
};

// The index-th causal tile of `pairs` pairs of `m_blocks` query tiles each, in groups of `group`
// pairs; pairs of one group alternate, the last query tile of each first.
// (index < m_blocks * pairs <= INT32_MAX: the launchers check.)
SAGE_HD CausalTile causal_tile(int index, int m_blocks, int pairs, int group) {
  const int group_tiles = group * m_blocks;
  const int g = index / group_tiles;
  const int first_pair = g * group;
  const int group_pairs = pairs - first_pair < group ? pairs - first_pair : group;
  const int within = index - g * group_tiles;
  return {m_blocks - 1 - within / group_pairs, first_pair + within % group_pairs};
}

}  // namespace sageattention::kernels
