// The causal tile order (kernels/common/causal_order.h): every tile exactly once, longest first
// inside each head group, and groups sized to the L2 budget.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/common/causal_order.h"

namespace sageattention::kernels {
namespace {

TEST(CausalOrder, VisitsEveryTileOnceLongestFirstWithinGroups) {
  for (int m_blocks : {1, 2, 3, 8, 33}) {
    for (int pairs : {1, 2, 5, 7, 128}) {
      for (int group : {1, 2, 3, 4, 64, 128, 1000}) {
        if (group > pairs && group != 1000) continue;
        const int g = group > pairs ? pairs : group;
        std::vector<int> seen(m_blocks * pairs, 0);
        int prev_group = -1, prev_m = m_blocks;
        for (int i = 0; i < m_blocks * pairs; ++i) {
          const CausalTile t = causal_tile(i, m_blocks, pairs, g);
          ASSERT_GE(t.m_block, 0);
          ASSERT_LT(t.m_block, m_blocks);
          ASSERT_GE(t.pair, 0);
          ASSERT_LT(t.pair, pairs);
          ++seen[t.pair * m_blocks + t.m_block];
          const int t_group = t.pair / g;
          ASSERT_GE(t_group, prev_group) << "groups are visited in order";
          if (t_group == prev_group) ASSERT_LE(t.m_block, prev_m) << "longest first within a group";
          prev_group = t_group, prev_m = t.m_block;
        }
        for (int n : seen) ASSERT_EQ(n, 1) << m_blocks << " " << pairs << " " << g;
      }
    }
  }
}

TEST(CausalOrder, GroupsFitThreeQuartersOfL2InEqualParts) {
  constexpr int64_t kL2 = 50 << 20;
  // 1k keys, D=128, FP16 P·V (3 bytes per key and channel): 384 KB per pair, 100 fit.
  EXPECT_EQ(causal_head_group(1024 * 128 * 3, 128, kL2), 64);  // two equal groups of 64
  EXPECT_EQ(causal_head_group(1024 * 128 * 3, 64, kL2), 64);
  // 16k keys: 6 MB per pair, 6 fit; 128 pairs in 22 groups of at most 6.
  EXPECT_EQ(causal_head_group(16384 * 128 * 3, 128, kL2), 6);
  // A pair larger than L2 still forms a group of one; degenerate sizes stay >= 1.
  EXPECT_EQ(causal_head_group(int64_t{1} << 40, 7, kL2), 1);
  EXPECT_EQ(causal_head_group(0, 3, kL2), 3);
  EXPECT_EQ(causal_head_group(1, 0, kL2), 1);
}

}  // namespace
}  // namespace sageattention::kernels
