// Pipeline bookkeeping: ring position + phase as one object, and the named-barrier IDs.
#pragma once

#include <cstdint>

#include "kernels/sm90/ptx.h"

namespace sageattention::sm90 {

// Position in a ring of kStages mbarrier-guarded buffers. `phase` is the parity of the current lap;
// advancing past the last stage flips it, so no call site toggles parity by hand.
template <int kStages>
struct PipelineState {
  int index = 0;
  uint32_t phase = 0;
  __device__ __forceinline__ void advance() {
    if (++index == kStages) {
      index = 0;
      phase ^= 1u;
    }
  }
};

// Hardware named barriers (0 is __syncthreads); "+ i" ids exist for consumer warpgroups 0..2.
enum class NamedBarrier : int {
  kQ8ReadyWg0 = 1,  // + i: consumer warpgroup i wrote its Q8 rows; its wgmma may read them
  kBlockAmax = 4,   // per-block Q groups: both consumer warpgroups exchanged their warp amax
  // Ping-pong of two consumer warpgroups on the tensor cores: warpgroup i waits on kMmaTurnWg0 + i
  // before issuing its wgmmas and then signals the other's, so one warpgroup's GEMMs run while the
  // other does its softmax.
  kMmaTurnWg0 = 5,
  kEpilogueWg0 = 8,  // + i: consumer warpgroup i staged its V scale/mean vectors for the epilogue
  // Two consumer warpgroups also take turns on the softmax, so one runs its exp2 stream with the
  // schedulers and the MUFU to itself while the other waits for its scores or issues GEMMs.
  kSoftmaxTurnWg0 = 11,
  kSoftmaxTurnWg1 = 12,
};

// Tensor-core turns of two consumer warpgroups (ping-pong, kernel_traits.h kMmaTurns): warpgroup cw
// waits on kMmaTurnWg0 + cw before issuing its wgmmas and passes the turn to the other after them.
// Disabled (three warpgroups), neither touches a barrier.
template <bool kEnabled>
struct MmaTurns {
  int cw;  // this consumer warpgroup (0 or 1)

  __device__ __forceinline__ void wait() const {
    if constexpr (kEnabled) named_barrier_sync(static_cast<int>(NamedBarrier::kMmaTurnWg0) + cw, 256);
  }
  __device__ __forceinline__ void pass() const {
    if constexpr (kEnabled) named_barrier_arrive(static_cast<int>(NamedBarrier::kMmaTurnWg0) + (1 - cw), 256);
  }
};

// Softmax turns of two consumer warpgroups (kernel_traits.h kSoftmaxTurns): warpgroup cw waits on
// kSoftmaxTurnWg0 + cw before its exp stream and then signals the other's. The stream is tied to the
// barriers by data, not by position (ptxas moves register-only arithmetic freely across
// bar.sync/bar.arrive): wait() returns a token (1.0f) loaded after the barrier, which the caller
// multiplies into its score scale, and pass() computes its barrier id from every packed P register.
// Disabled, wait() returns 1 and neither touches a barrier.
template <bool kEnabled>
struct SoftmaxTurns {
  const float* token;  // shared memory, 1.0f
  int cw;              // this consumer warpgroup (0 or 1)

  __device__ __forceinline__ float wait() const {
    if constexpr (kEnabled) {
      named_barrier_sync(static_cast<int>(NamedBarrier::kSoftmaxTurnWg0) + cw, 256);
      return ld_shared_volatile(token);
    }
    return 1.0f;
  }
  template <int kSteps>
  __device__ __forceinline__ void pass(const uint32_t (&packed_p)[kSteps][4]) const {
    if constexpr (kEnabled) {
      uint32_t bits = 0;  // P >= 0: no sign bit is set, so bits >> 31 is 0, computed from every P register
#pragma unroll
      for (int ks = 0; ks < kSteps; ++ks) bits |= packed_p[ks][0] | packed_p[ks][1] | packed_p[ks][2] | packed_p[ks][3];
      named_barrier_arrive(static_cast<int>(NamedBarrier::kSoftmaxTurnWg0) + (1 - cw) + static_cast<int>(bits >> 31), 256);
    }
  }
};

}  // namespace sageattention::sm90
