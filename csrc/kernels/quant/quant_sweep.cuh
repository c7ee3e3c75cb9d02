// Shared machinery of the K and V pre-pass kernels. Both need a statistic over the whole sequence
// (K: channel mean; V: channel amax, and mean when smoothing) before they can quantize a single
// token, so each kernel runs two sweeps inside one launch: a statistics sweep over all tokens of
// the sequence, then a quantization sweep that re-reads the tokens and writes the 8-bit output.
// The re-read comes from L2 when the tensor fits there (N = 1k at B=4, H=32, D=128), from DRAM
// when it does not (N >= 4k there): K and V are read twice then, as in the old two-launch K path.
//
// Ownership instead of grid-wide synchronisation: every CTA that quantizes part of a (sequence,
// head[, channel slice]) computes that owner's statistics itself, over all of its tokens, in a
// fixed order. So the op needs no scratch memory, no atomics and no inter-CTA dependency (CUDA-graph
// safe, deterministic), and the CTAs of one owner agree bit for bit. When owners alone do not fill
// the resident CTA slots (kCtasPerSm per SM), an owner's quantization sweep is split over `chunks`
// CTAs (ranges of kTokenPad tokens); each of them repeats the statistics sweep, and since they run
// side by side the repeated reads are served by L2.
//
// Loads are 16 bytes, kLoadsPerThread of them issued before any is used (64 KB in flight per CTA).
// The quantization sweep walks its range backwards: the last tokens of the statistics sweep are
// the ones most likely still in L2; its loads are marked evict-first. The 8-bit outputs are stored
// with the default policy: the attention kernel reads them next, from L2 when they fit.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <optional>

#include "sageattention/constants.h"
#include "sageattention/params.h"
#include "kernels/common/launch_checks.h"
#include "sageattention/quant_layout.h"
#include "sageattention/validate.h"
#include "kernels/common/device_info.h"

namespace sageattention::kernels::quant {

constexpr int kSweepThreads = 512;
constexpr int kWarps = kSweepThreads / 32;
// Resident CTAs per SM the kernels are built for (64 registers per thread): two CTAs let one
// CTA's loads overlap the other's arithmetic and barriers.
constexpr int kCtasPerSm = 2;
constexpr int kLoadsPerThread = 8;
// An owner is split over at most this many CTAs (each re-reads the owner's tokens once).
constexpr int kMaxChunks = 16;

// Eight fp16/bf16 values packed in 16 bytes -> floats (exact).
template <bool kBf16>
__device__ __forceinline__ void unpack8(const uint4& raw, float (&x)[8]) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if constexpr (kBf16) {
      x[2 * i] = __uint_as_float(w[i] << 16);
      x[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
    } else {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
      x[2 * i] = f.x;
      x[2 * i + 1] = f.y;
    }
  }
}

// Statistics sweep: read-only path, normal L2 priority (the quantization sweep re-reads it).
__device__ __forceinline__ uint4 load_first(const char* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }
// Quantization sweep: the last use of these lines, so evict-first: they go before lines that other
// CTAs' quantization sweeps have yet to re-read.
__device__ __forceinline__ uint4 load_last(const char* p) { return __ldcs(reinterpret_cast<const uint4*>(p)); }

// Tokens [begin, end) of a sequence's padded range that one CTA quantizes, in kTokenPad units.
struct TokenRange {
  int begin = 0;
  int end = 0;
};
__device__ __forceinline__ TokenRange chunk_range(int padded_len, int chunk, int chunks) {
  const int64_t units = padded_len / kTokenPad;
  return {static_cast<int>(units * chunk / chunks * kTokenPad),
          static_cast<int>(units * (chunk + 1) / chunks * kTokenPad)};
}

// CTAs per owner: owners x chunks fills the resident CTA slots (one wave), never more chunks than
// kTokenPad units in the longest sequence.
inline int chunks_per_owner(int64_t owners, int max_seqlen) {
  const int64_t units = ceil_div(max_seqlen, kTokenPad);
  int64_t chunks = kCtasPerSm * kernels::sm_count_cached() / (owners > 0 ? owners : 1);
  chunks = chunks < units ? chunks : units;
  chunks = chunks < kMaxChunks ? chunks : kMaxChunks;
  return chunks > 1 ? static_cast<int>(chunks) : 1;
}

// Host checks shared by the K and V launchers: the Status to return without launching (argument
// errors; kSuccess when there is nothing to do; kNotSupported when the sweeps cannot read `x` with
// 16-byte vectors or the grid would not fit), or nothing when the sweep is ready to launch.
template <class Params>
std::optional<Status> status_before_sweep(const Params& p, const StridedTensor& x) {
  if (const Status s = validate(p); s != Status::kSuccess) return s;
  if (p.seq.batch == 0 || p.heads == 0 || p.seq.seqlen == 0) return Status::kSuccess;
  if (p.head_dim % 8 != 0 || !vector_readable(x, p.seq.varlen())) return Status::kNotSupported;
  if (p.seq.batch > 65535 || p.heads > 65535) return Status::kNotSupported;
  return std::nullopt;
}

}  // namespace sageattention::kernels::quant
