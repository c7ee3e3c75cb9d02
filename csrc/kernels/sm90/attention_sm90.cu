// Host entry points of the Hopper path: argument checks, TMA descriptors for Q, K8 and V (FP8 V8 or
// the caller's 16-bit V), launch.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "sageattention/constants.h"
#include "sageattention/cuda_api.h"
#include "sageattention/quant_layout.h"
#include "kernels/common/causal_order.h"
#include "kernels/common/device_info.h"
#include "kernels/common/tensor_map.h"
#include "kernels/sm90/kernel_traits.h"
#include "kernels/sm90/launch_api.h"

namespace sageattention::cuda {
namespace {

using sm90::KernelParams;
using sm90::LaunchArgs;

bool aligned(const void* p, int bytes) { return (reinterpret_cast<uintptr_t>(p) % bytes) == 0; }

using kernels::tma_stride_bytes;
using kernels::tma_stride_ok;

// 3-D map over a contiguous [outer, mid, inner] uint8 buffer, box [1, box_mid, box_inner].
bool encode_3d(CUtensorMap* map, const void* base, uint64_t inner, uint64_t mid, uint64_t outer, uint32_t box_inner,
               uint32_t box_mid, CUtensorMapSwizzle swizzle) {
  auto fn = kernels::tensor_map_encoder();
  if (fn == nullptr) return false;
  const cuuint64_t dims[3] = {inner, mid, outer};
  const cuuint64_t strides[2] = {inner, inner * mid};  // bytes, dims 1 and 2
  const cuuint32_t box[3] = {box_inner, box_mid, 1};
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 3, const_cast<void*>(base), dims, strides, box, elem_strides,
            CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// D=64 runs with three consumer warpgroups (192-row tiles) from this many query rows on.
// Measured (H200, kernel-only, B=4, H=32): FP8 (session 4) vs two warpgroups +5% at 4k and +9% /
// +12% (non-causal / causal) at 16k, but -3% / -9% at 1k, where 192-row tiles leave a partial last
// tile and fewer tiles per SM; FP16 P·V (session 5) +13% / -1% at 4k, +14% / +7% at 16k. Per-block
// Q groups (128 rows) need 128-row tiles.
#ifndef SAGE_SM90_WIDE_MIN_ROWS
#define SAGE_SM90_WIDE_MIN_ROWS 2048
#endif
int consumer_warpgroups(const AttentionParams& p) {
  const bool wide = p.head_dim_padded == 64 && p.qk_gran != QuantGranularity::kPerBlock &&
                    p.seq_q.seqlen >= SAGE_SM90_WIDE_MIN_ROWS;
  return wide ? 3 : 2;
}
// Query rows per work tile of the kernel instantiation that runs a call (kernel_traits.h).
int tile_rows(const AttentionParams& p) {
  return consumer_warpgroups(p) * sm90::KernelTraits<64>::kRowsPerWarpgroup;
}

// Raw Q [batch, tokens, heads, head_dim] with element strides, box of `rows` rows x head_dim_padded
// columns of one (batch, head); columns past head_dim and rows past seqlen are zero-filled.
bool encode_q(CUtensorMap* map, const AttentionParams& p, int rows) {
  auto fn = kernels::tensor_map_encoder();
  if (fn == nullptr) return false;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(p.head_dim), static_cast<cuuint64_t>(p.seq_q.seqlen),
                              static_cast<cuuint64_t>(p.heads_q), static_cast<cuuint64_t>(p.seq_q.batch)};
  const cuuint64_t strides[3] = {static_cast<cuuint64_t>(p.q.token_stride) * 2,
                                 static_cast<cuuint64_t>(p.q.head_stride) * 2,
                                 static_cast<cuuint64_t>(p.q.batch_stride) * 2};
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(p.head_dim_padded), static_cast<cuuint32_t>(rows), 1, 1};
  const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void*>(p.q.ptr), dims, strides, box, elem_strides,
            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// 16-bit [batch, tokens, heads, head_dim] with element strides, 128B-swizzled boxes of box_columns
// (at most 64: one 128-byte row) x box_rows tokens of one (batch, head). TMA skips (stores) or
// zero-fills (loads) columns past head_dim and tokens past the tensor.
bool encode_16bit_tokens(CUtensorMap* map, const StridedTensor& t, int head_dim, int64_t tokens,
                         int heads, int64_t batch, int box_columns, int box_rows, CUtensorMapL2promotion promotion) {
  auto fn = kernels::tensor_map_encoder();
  if (fn == nullptr) return false;
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(head_dim), static_cast<cuuint64_t>(tokens),
                              static_cast<cuuint64_t>(heads), static_cast<cuuint64_t>(batch)};
  const cuuint64_t strides[3] = {tma_stride_bytes(tokens, t.token_stride), tma_stride_bytes(heads, t.head_stride),
                                 tma_stride_bytes(batch, t.batch_stride)};
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(box_columns), static_cast<cuuint32_t>(box_rows), 1, 1};
  const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  return fn(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 4, const_cast<void*>(t.ptr), dims, strides, box, elem_strides,
            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, promotion,
            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// The dense output, box of one consumer warpgroup's rows x 64 columns.
bool encode_o(CUtensorMap* map, const AttentionParams& p, int box_columns, int box_rows) {
  const StridedTensor o{p.o.ptr, p.o.batch_stride, p.o.token_stride, p.o.head_stride};
  return encode_16bit_tokens(map, o, p.head_dim, p.seq_q.seqlen, p.heads_q, p.seq_q.batch, box_columns,
                             box_rows, CU_TENSOR_MAP_L2_PROMOTION_NONE);
}

// Raw 16-bit V (varlen: one packed entry of v_tokens rows), one 64-column slab x 128 tokens per box.
bool encode_v16(CUtensorMap* map, const AttentionParams& p, int slab_columns) {
  const int64_t batch = p.seq_k.varlen() ? 1 : p.seq_k.batch;
  return encode_16bit_tokens(map, p.v, p.head_dim, p.v_tokens, p.heads_kv, batch, slab_columns, 128,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
}

// FP16 P·V: only "fp32" accumulation runs here; "fp16+fp32" (fp16 accumulation per key block) stays
// on the mma.sync kernel. V is read by TMA straight from the caller's tensor. fp16 Q with bf16 V
// (never produced by the public API, which requires one dtype) has no instantiation: mma.sync.
bool fp16_pv_supported(const AttentionParams& p) {
  if (p.pv_mode != PVMode::kFp16Fp32) return false;
  if (p.dtype == DType::kFloat16 && p.v_dtype == DType::kBFloat16) return false;
  if (p.v.ptr == nullptr || !aligned(p.v.ptr, 16)) return false;
  if (p.v_tokens <= 0 || p.v_tokens > INT32_MAX) return false;  // TMA coordinates are int32
  const int64_t batch = p.seq_k.varlen() ? 1 : p.seq_k.batch;
  return tma_stride_ok(p.v_tokens, p.v.token_stride) && tma_stride_ok(p.heads_kv, p.v.head_stride) &&
         tma_stride_ok(batch, p.v.batch_stride);
}

}  // namespace

bool attention_sm90_supports(const AttentionParams& p, int sm_arch) {
  if (sm_arch != 90) return false;
  if (!is_fp8(p.pv_mode) && !fp16_pv_supported(p)) return false;
  if (p.pv_mode == PVMode::kFp8Fp16Fp32) return false;  // an mma.sync mode (the wgmma path accumulates in fp32)
  const int dp = p.head_dim_padded;
  // Head dim 256: two work tiles per query block, one per half of the output.
  if (dp != 64 && dp != 128 && dp != 256) return false;
  if (p.head_dim <= 0 || p.head_dim > dp || p.head_dim % 8 != 0 || padded_head_dim(p.head_dim) != dp) return false;
  if (p.heads_q <= 0 || p.heads_kv <= 0 || p.heads_q % p.heads_kv != 0) return false;
  if (p.seq_q.varlen() != p.seq_k.varlen() || p.seq_q.batch != p.seq_k.batch) return false;
  // 16-byte Q loads, 4-byte O stores, 16-byte aligned TMA bases.
  if (!aligned(p.q.ptr, 16) || p.q.token_stride % 8 != 0 || p.q.head_stride % 8 != 0) return false;
  if (!p.seq_q.varlen() && p.q.batch_stride % 8 != 0) return false;
  if (!aligned(p.o.ptr, 4) || p.o.token_stride % 2 != 0 || p.o.head_stride % 2 != 0) return false;
  if (!p.seq_q.varlen() && p.o.batch_stride % 2 != 0) return false;
  if (!aligned(p.k8, 16) || (is_fp8(p.pv_mode) && !aligned(p.v8, 16))) return false;
  if (p.seq_k.padded_tokens <= 0 || p.seq_k.padded_tokens % kTokenPad != 0) return false;
  if (p.seq_k.padded_tokens > (int64_t{1} << 31) - kTokenPad) return false;  // TMA coordinates are int32
  return true;
}

Status attention_sm90(const AttentionParams& p, void* stream) {
  if (p.seq_q.batch == 0 || (!p.seq_q.varlen() && p.seq_q.seqlen == 0)) return Status::kSuccess;
  const bool fp8 = is_fp8(p.pv_mode);
  if (p.k8 == nullptr || p.k_scale == nullptr || p.q.ptr == nullptr || p.o.ptr == nullptr ||
      (fp8 && (p.v8 == nullptr || p.v_scale == nullptr)) || (!fp8 && p.v.ptr == nullptr)) {
    return Status::kInvalidArgument;
  }
  if (!attention_sm90_supports(p, 90)) return Status::kNotSupported;

  const int dp = p.head_dim_padded;
  const bool varlen = p.seq_q.varlen();
  const int64_t T = p.seq_k.padded_tokens;
  const int64_t bk = varlen ? 1 : p.seq_q.batch;

  LaunchArgs a{};
  KernelParams& k = a.params;
  k.q = p.q.ptr;
  k.q_batch_stride = p.q.batch_stride;
  k.q_token_stride = p.q.token_stride;
  k.q_head_stride = p.q.head_stride;
  k.o = p.o.ptr;
  k.o_batch_stride = p.o.batch_stride;
  k.o_token_stride = p.o.token_stride;
  k.o_head_stride = p.o.head_stride;
  k.lse = p.lse;
  k.lse_batch_stride = p.lse_batch_stride;
  k.lse_head_stride = p.lse_head_stride;
  k.k_scale = p.k_scale;
  k.k_mean = p.k_mean;
  k.v_scale = fp8 ? p.v_scale : nullptr;  // 16-bit V carries no scale
  k.v_mean = p.v_mean;
  k.cu_seqlens_q = p.seq_q.cu_seqlens;
  k.cu_seqlens_k = p.seq_k.cu_seqlens;
  k.batch = p.seq_q.batch;
  k.heads_q = p.heads_q;
  k.heads_kv = p.heads_kv;
  k.head_dim = p.head_dim;
  k.seqlen_q = p.seq_q.seqlen;
  k.seqlen_k = p.seq_k.seqlen;
  k.k_padded_tokens = T;
  k.k_groups_per_block = k_groups_per_block(p.qk_gran);
  k.q_gran = static_cast<int>(p.qk_gran);
  k.sm_scale = p.sm_scale;
  k.sm_scale_log2 = p.sm_scale * kLog2e;
  const int block_m = tile_rows(p);
  k.num_m_blocks = static_cast<int>(ceil_div(p.seq_q.seqlen, block_m));
  const int64_t tiles = static_cast<int64_t>(k.num_m_blocks) * p.heads_q * p.seq_q.batch * (dp == 256 ? 2 : 1);
  if (tiles > INT32_MAX) return Status::kNotSupported;
  k.num_tiles = static_cast<int>(tiles);
  if (k.num_tiles == 0) return Status::kSuccess;
  if (p.causal) {
    // K and V bytes one (batch, query head) pair reads (varlen: the longest sequence); query heads
    // of one KV head share them.
    const int64_t keys = ceil_div(p.seq_k.seqlen, 128) * 128;
    const int64_t kv_bytes = keys * dp * (fp8 ? 2 : 3) / (p.heads_q / p.heads_kv);
    k.causal_head_group =
        kernels::causal_head_group(kv_bytes, int64_t{p.heads_q} * p.seq_q.batch, kernels::l2_bytes_cached());
  }

  // K8 [Bk*Hkv, T, Dp] and V8 [Bk*Hkv, Dp, T], one 128-key tile per box. Rows of K are Dp bytes
  // (64B or 128B swizzle; D=256: two boxes of 128 columns per tile); rows of V^T are 128 tokens =
  // 128 bytes, a box holds the (at most 128) V columns of one work tile.
  const CUtensorMapSwizzle k_swizzle = dp == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_128B;
  const uint32_t k_box_cols = dp < 128 ? dp : 128;
  if (!encode_3d(&a.tma_k, p.k8, dp, T, bk * p.heads_kv, k_box_cols, 128, k_swizzle)) return Status::kCudaError;
  const bool v_encoded = fp8 ? encode_3d(&a.tma_v, p.v8, T, dp, bk * p.heads_kv, 128, k_box_cols, CU_TENSOR_MAP_SWIZZLE_128B)
                             : encode_v16(&a.tma_v, p, sm90::KernelTraits<64, sm90::PVOperand::kF16>::kVSlabColumns);
  if (!v_encoded) return Status::kCudaError;
  // Dense Q is prefetched by TMA when its strides allow (16-byte multiples, checked above for 8
  // elements; TMA also needs nonzero strides); otherwise consumers load it.
  k.q_via_tma = !varlen && p.q.token_stride > 0 && p.q.head_stride > 0 && p.q.batch_stride > 0 &&
                p.q.batch_stride % 8 == 0 && encode_q(&a.tma_q, p, block_m);
  using OBox = sm90::KernelTraits<64>;
  k.o_via_tma = !varlen && aligned(p.o.ptr, 16) && tma_stride_ok(p.seq_q.seqlen, p.o.token_stride) &&
                tma_stride_ok(p.heads_q, p.o.head_stride) && tma_stride_ok(p.seq_q.batch, p.o.batch_stride) &&
                encode_o(&a.tma_o, p, OBox::kOBoxColumns, OBox::kRowsPerWarpgroup);
  a.num_sms = kernels::sm_count_cached();
  a.stream = static_cast<cudaStream_t>(stream);

  const bool bf16 = p.dtype == DType::kBFloat16;
  if (!fp8) {
    // P·V runs in V's type: fp16 V (fp16 inputs, or V - mean materialised as fp16 by smooth_v) or bf16 V.
    const bool v_bf16 = p.v_dtype == DType::kBFloat16;
    if (dp == 64 && consumer_warpgroups(p) == 3) {
      if (!bf16) return sm90::launch_attention_fp16pv_dispatch<64, __half, __half, 3>(a, p.causal);
      return v_bf16 ? sm90::launch_attention_fp16pv_dispatch<64, __nv_bfloat16, __nv_bfloat16, 3>(a, p.causal)
                    : sm90::launch_attention_fp16pv_dispatch<64, __nv_bfloat16, __half, 3>(a, p.causal);
    }
    if (dp == 64) {
      if (!bf16) return sm90::launch_attention_fp16pv_dispatch<64, __half, __half, 2>(a, p.causal);
      return v_bf16 ? sm90::launch_attention_fp16pv_dispatch<64, __nv_bfloat16, __nv_bfloat16, 2>(a, p.causal)
                    : sm90::launch_attention_fp16pv_dispatch<64, __nv_bfloat16, __half, 2>(a, p.causal);
    }
    if (dp == 256) {
      if (!bf16) return sm90::launch_attention_fp16pv_dispatch<256, __half, __half, 2>(a, p.causal);
      return v_bf16 ? sm90::launch_attention_fp16pv_dispatch<256, __nv_bfloat16, __nv_bfloat16, 2>(a, p.causal)
                    : sm90::launch_attention_fp16pv_dispatch<256, __nv_bfloat16, __half, 2>(a, p.causal);
    }
    if (!bf16) return sm90::launch_attention_fp16pv_dispatch<128, __half, __half, 2>(a, p.causal);
    return v_bf16 ? sm90::launch_attention_fp16pv_dispatch<128, __nv_bfloat16, __nv_bfloat16, 2>(a, p.causal)
                  : sm90::launch_attention_fp16pv_dispatch<128, __nv_bfloat16, __half, 2>(a, p.causal);
  }
  const bool two_level = p.pv_mode == PVMode::kFp8Fp32Fp32;
  if (dp == 64 && consumer_warpgroups(p) == 3) {
    return bf16 ? sm90::launch_attention_dispatch<64, __nv_bfloat16, 3>(a, p.causal, two_level)
                : sm90::launch_attention_dispatch<64, __half, 3>(a, p.causal, two_level);
  }
  if (dp == 64) {
    return bf16 ? sm90::launch_attention_dispatch<64, __nv_bfloat16, 2>(a, p.causal, two_level)
                : sm90::launch_attention_dispatch<64, __half, 2>(a, p.causal, two_level);
  }
  if (dp == 256) {
    return bf16 ? sm90::launch_attention_dispatch<256, __nv_bfloat16, 2>(a, p.causal, two_level)
                : sm90::launch_attention_dispatch<256, __half, 2>(a, p.causal, two_level);
  }
  return bf16 ? sm90::launch_attention_dispatch<128, __nv_bfloat16, 2>(a, p.causal, two_level)
              : sm90::launch_attention_dispatch<128, __half, 2>(a, p.causal, two_level);
}

}  // namespace sageattention::cuda
