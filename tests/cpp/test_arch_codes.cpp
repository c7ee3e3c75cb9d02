// Which GPUs a build's code runs on (dispatch/arch_codes.h): what keeps the FP8 kernels of an
// "80;90a" build from running sm_80 PTX (whose FP8 path traps) on sm_120.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "dispatch/arch_codes.h"

namespace sageattention::cuda {
namespace {

bool runs(std::initializer_list<int> codes, int min_arch, int sm_arch) {
  const std::vector<int> list(codes);
  return any_arch_code_runs(list.data(), static_cast<int>(list.size()), min_arch, sm_arch);
}

TEST(ArchCodes, PtxRunsOnItsArchAndLaterOnes) {
  EXPECT_TRUE(arch_code_runs_on(800, 80));
  EXPECT_TRUE(arch_code_runs_on(800, 86));
  EXPECT_TRUE(arch_code_runs_on(890, 120));
  EXPECT_FALSE(arch_code_runs_on(890, 86));
}

TEST(ArchCodes, ArchSpecificCodeRunsOnItsArchAlone) {
  EXPECT_TRUE(arch_code_runs_on(902, 90));
  EXPECT_FALSE(arch_code_runs_on(902, 100));
  EXPECT_FALSE(arch_code_runs_on(902, 120));
}

TEST(ArchCodes, FamilyCodeRunsOnLaterArchsOfItsMajor) {
  EXPECT_TRUE(arch_code_runs_on(1001, 103));
  EXPECT_FALSE(arch_code_runs_on(1001, 120));
  EXPECT_TRUE(arch_code_runs_on(891, 89));
  EXPECT_FALSE(arch_code_runs_on(891, 90));
}

TEST(ArchCodes, Fp8CodeForTheGpu) {
  // FP8 needs code for sm_89+ (min_arch 89); every kernel needs code for sm_80+ (min_arch 80).
  EXPECT_TRUE(runs({800, 890, 902}, 89, 120));   // sm_89 PTX, JIT-compiled
  EXPECT_FALSE(runs({800, 902}, 89, 120));       // an "80;90a" build on sm_120
  EXPECT_TRUE(runs({800, 902}, 89, 90));
  EXPECT_FALSE(runs({800, 902}, 89, 89));
  EXPECT_TRUE(runs({800, 902}, 80, 120));        // FP16 P·V from the sm_80 PTX
  EXPECT_FALSE(runs({902}, 80, 86));
  EXPECT_FALSE(runs({800, 890}, 80, 75));
}

}  // namespace
}  // namespace sageattention::cuda
