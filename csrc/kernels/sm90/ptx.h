// Thin PTX wrappers for the Hopper kernels: mbarriers, TMA, wgmma fences and descriptors, named
// barriers, register reallocation, fast math. One instruction each; no policy here.
#pragma once

#include <cstdint>

#include "kernels/common/ptx.cuh"

namespace sageattention::sm90 {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarrier ----
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  kernels::mbarrier_init(smem_addr(bar), static_cast<int>(count));
}
// Makes the mbarrier inits visible to the async proxy (TMA) and to the other threads of the CTA.
__device__ __forceinline__ void fence_barrier_init() { kernels::fence_mbarrier_init(); }
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) { kernels::mbarrier_arrive(smem_addr(bar)); }
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  kernels::mbarrier_arrive_expect_tx(smem_addr(bar), bytes);
}
// Blocks until the phase of parity `phase` has completed. The suspend-time hint lets the hardware
// park the warp inside try_wait instead of spinning through the retry branch. (kernels::mbarrier_wait,
// the mma.sync kernels' wait, passes no hint: that is the form measured there.)
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t phase) {
  asm volatile(
      "{\n.reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1, %2;\n"
      "@!done bra WAIT_%=;\n}\n" ::"r"(smem_addr(bar)),
      "r"(phase), "r"(0x989680) : "memory");
}

// ---- TMA (bulk tensor copies global -> shared, completion counted on an mbarrier) ----
using kernels::tma_prefetch_descriptor;
__device__ __forceinline__ void tma_load_3d(void* dst, const void* map, uint64_t* bar, int c0, int c1, int c2) {
  kernels::tma_load_3d(smem_addr(dst), map, smem_addr(bar), c0, c1, c2);
}
__device__ __forceinline__ void tma_load_4d(void* dst, const void* map, uint64_t* bar, int c0, int c1, int c2,
                                            int c3) {
  kernels::tma_load_4d(smem_addr(dst), map, smem_addr(bar), c0, c1, c2, c3);
}

// ---- TMA stores (shared -> global, bulk async-groups of the issuing thread) ----
__device__ __forceinline__ void tma_store_4d(const void* map, const void* src, int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_addr(src)), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}
__device__ __forceinline__ void bulk_commit_group() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// The issuing thread's stores have finished reading shared memory (the source may be rewritten).
__device__ __forceinline__ void bulk_wait_group_read_all() {
  asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
}
// ... and have completed (before the CTA exits).
__device__ __forceinline__ void bulk_wait_group_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }

// Shared-memory load that stays after the preceding barrier (volatile: never hoisted or merged).
__device__ __forceinline__ float ld_shared_volatile(const float* p) {
  float v;
  asm volatile("ld.volatile.shared.f32 %0, [%1];\n" : "=f"(v) : "r"(smem_addr(p)) : "memory");
  return v;
}

// 4-byte global -> shared copy that bypasses registers (completion: cp_async_wait_all).
__device__ __forceinline__ void cp_async_f32(float* smem_dst, const float* gmem_src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(smem_addr(smem_dst)), "l"(gmem_src) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
__device__ __forceinline__ void st_shared_u32(void* p, uint32_t v) {
  asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(smem_addr(p)), "r"(v));
}
__device__ __forceinline__ float2 ld_shared_f32x2(const float* p) {
  float2 v;
  asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(smem_addr(p)));
  return v;
}

// ---- fences and barriers ----
// Generic-proxy shared-memory writes (Q8 stores) must be fenced before wgmma (async proxy) reads them.
__device__ __forceinline__ void fence_view_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// ---- wgmma bookkeeping ----
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads/writes of an accumulator register across wgmma issue/wait.
__device__ __forceinline__ void reg_fence(float& r) { asm volatile("" : "+f"(r)::"memory"); }
__device__ __forceinline__ void reg_fence(int32_t& r) { asm volatile("" : "+r"(r)::"memory"); }
__device__ __forceinline__ void reg_fence(uint32_t& r) { asm volatile("" : "+r"(r)::"memory"); }
template <typename T, int N>
__device__ __forceinline__ void reg_fence(T (&a)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) reg_fence(a[i]);
}

// Shared-memory matrix descriptor for a K-major operand laid out by TMA with a swizzle of
// `swizzle_bytes` (64 or 128) per row: 8-row core groups are 8 * swizzle_bytes apart (SBO); the
// leading offset is unused for swizzled K-major tiles whose k-step fits in one swizzle row.
__device__ __forceinline__ uint64_t make_smem_desc(uint32_t smem_byte_addr, int swizzle_bytes) {
  const uint64_t layout = swizzle_bytes == 128 ? 1ull : 2ull;  // 1: 128B swizzle, 2: 64B swizzle
  const uint64_t sbo = static_cast<uint64_t>(8 * swizzle_bytes) >> 4;
  return (static_cast<uint64_t>(smem_byte_addr >> 4) & 0x3FFF) | (1ull << 16) | (sbo << 32) | (layout << 62);
}
// The same descriptor `byte_offset` bytes further on (k-steps, ring stages). The start-address field
// is addr >> 4 in the low word and shared addresses stay below 2^18, so a 32-bit add of the low word
// cannot carry out of the field: the main loop then needs no descriptor arithmetic beyond one IADD.
__device__ __forceinline__ uint64_t smem_desc_advance(uint64_t desc, uint32_t byte_offset) {
  const uint32_t lo = static_cast<uint32_t>(desc) + (byte_offset >> 4);
  return (desc & 0xFFFFFFFF00000000ull) | lo;
}

// ---- register reallocation between warpgroup roles ----
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N)); }
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N)); }

// ---- math ----
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
// Two floats -> two e4m3 bytes (lo in the low byte), round to nearest even, saturating.
__device__ __forceinline__ uint16_t pack_e4m3x2(float lo, float hi) {
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ uint32_t pack_e4m3x4(float b0, float b1, float b2, float b3) {
  return static_cast<uint32_t>(pack_e4m3x2(b0, b1)) | (static_cast<uint32_t>(pack_e4m3x2(b2, b3)) << 16);
}

}  // namespace sageattention::sm90
