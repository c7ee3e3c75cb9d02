// Bit-level checks of the scalar numerics shared by kernels and reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "sageattention/quant_layout.h"
#include "sageattention/quant_math.h"

namespace sageattention {
namespace {

TEST(E4m3, DecodesEveryFiniteCodeAndRoundTrips) {
  for (int code = 0; code < 256; ++code) {
    const uint8_t b = static_cast<uint8_t>(code);
    const float f = e4m3_to_float(b);
    if ((code & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(f));
      continue;
    }
    EXPECT_LE(std::fabs(f), kFp8Max);
    if (code == 0x80) continue;  // -0 encodes back as -0 (0x80)
    EXPECT_EQ(float_to_e4m3(f), b) << code;
  }
  EXPECT_EQ(e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x01), std::ldexp(1.0f, -9));
}

TEST(E4m3, RoundsToNearestEvenAndSaturates) {
  EXPECT_EQ(float_to_e4m3(1000.0f), 0x7E);
  EXPECT_EQ(float_to_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(float_to_e4m3(INFINITY), 0x7E);
  EXPECT_EQ(float_to_e4m3(std::nanf("")), 0x7F);
  // 1.0625 is halfway between 1.0 (even mantissa) and 1.125: goes to 1.0.
  EXPECT_EQ(e4m3_to_float(float_to_e4m3(1.0625f)), 1.0f);
  EXPECT_EQ(e4m3_to_float(float_to_e4m3(1.1875f)), 1.25f);  // halfway, to the even 1.25
}

TEST(E4m3, FastValueRoundingMatchesBitConversion) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> exponent(-14.0f, 9.5f);
  for (int i = 0; i < 2000000; ++i) {
    const float x = std::exp2(exponent(rng)) * (i % 2 ? 1.0f : -1.0f);
    ASSERT_EQ(round_to_e4m3_value(x), e4m3_to_float(float_to_e4m3(x))) << x;
  }
  for (int code = 0; code < 0x7E; ++code) {  // every midpoint between neighbouring codes
    const float lo = e4m3_to_float(uint8_t(code)), hi = e4m3_to_float(uint8_t(code + 1));
    const float mid = 0.5f * (lo + hi);
    EXPECT_EQ(round_to_e4m3_value(mid), e4m3_to_float(float_to_e4m3(mid)));
  }
}

TEST(Half, FastValueRoundingMatchesBitConversion) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {  // every finite positive half and the midpoints above it
    const float f = half_bits_to_float(uint16_t(h));
    EXPECT_EQ(float_to_half_bits(f), h);
    const float next = half_bits_to_float(uint16_t(h + 1));
    const float mid = 0.5f * (f + next);
    if (h + 1 < 0x7C00) ASSERT_EQ(round_to_half_value_saturate(mid), half_bits_to_float(float_to_half_bits(mid))) << h;
  }
  EXPECT_EQ(round_to_half_value_saturate(1e6f), kFp16Max);
  EXPECT_EQ(round_to_half_value_saturate(-70000.0f), -kFp16Max);
}

TEST(Int8, QuantizationErrorIsAtMostHalfAStep) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int i = 0; i < 10000; ++i) {
    const float amax = std::fabs(normal(rng)) + 1e-3f;
    const float x = std::fmax(-amax, std::fmin(amax, normal(rng)));
    const int8_t q = quantize_int8(x, int8_inv_scale(amax));
    EXPECT_LE(std::fabs(x - q * int8_scale(amax)), int8_scale(amax) * 0.5f * (1 + 1e-5f));
    EXPECT_GE(q, -127);
  }
  EXPECT_EQ(int8_inv_scale(0.0f), 0.0f);
  EXPECT_EQ(quantize_int8(0.0f, int8_inv_scale(0.0f)), 0);
}

TEST(Layout, VPermutationIsABijectionMatchingTheMmaFragments) {
  bool seen[32] = {};
  for (int p = 0; p < 32; ++p) {
    const int t = v_perm_token(p);
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 32);
    EXPECT_FALSE(seen[t]);
    seen[t] = true;
    EXPECT_EQ(v_perm_slot(t), p);
  }
  // Quad lane c owns accumulator columns {2c, 2c+1, 8+2c, 9+2c}; they must land in A slots 4c..4c+3.
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(v_perm_slot(2 * c), 4 * c);
    EXPECT_EQ(v_perm_slot(2 * c + 1), 4 * c + 1);
    EXPECT_EQ(v_perm_slot(8 + 2 * c), 4 * c + 2);
    EXPECT_EQ(v_perm_slot(9 + 2 * c), 4 * c + 3);
  }
}

TEST(Layout, VarlenPaddedStartsLeaveRoomForEachSequence) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 1000; ++trial) {
    int64_t cu = 0;
    for (int b = 0; b < 8; ++b) {
      const int64_t len = rng() % 300;
      const int64_t start = varlen_padded_start(cu, b);
      EXPECT_EQ(start % kTokenPad, 0);
      EXPECT_GE(varlen_padded_start(cu + len, b + 1), start + round_up(len, kTokenPad));
      cu += len;
    }
    EXPECT_GE(varlen_padded_total(cu, 8), varlen_padded_start(cu, 8));
  }
}

TEST(Layout, GroupsMatchTheAccumulatorOwnership) {
  // per-thread Q: rows r and r+8 of a 16-row slice share a group; 8 groups per slice.
  EXPECT_EQ(q_group(QuantGranularity::kPerThread, 3), q_group(QuantGranularity::kPerThread, 11));
  EXPECT_NE(q_group(QuantGranularity::kPerThread, 3), q_group(QuantGranularity::kPerThread, 4));
  EXPECT_EQ(q_group(QuantGranularity::kPerThread, 16), 8);
  // per-thread K: columns {2c, 2c+1} + 8j of a 64-key block share a group.
  EXPECT_EQ(k_group(QuantGranularity::kPerThread, 2), k_group(QuantGranularity::kPerThread, 59));
  EXPECT_EQ(k_group(QuantGranularity::kPerThread, 64), 4);
  EXPECT_EQ(q_groups(QuantGranularity::kPerBlock, 129), 2);
}

}  // namespace
}  // namespace sageattention
