// Pipeline bookkeeping: ring position + phase as one object, and the named-barrier IDs.
#pragma once

#include <cstdint>

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

}  // namespace sageattention::sm90
