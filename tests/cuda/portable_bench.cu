// Timing of the portable kernels at the benchmark shapes (B=4, H=32, bf16, NHD): quant_k,
// quant_v, attention_mma alone, and the full call (quantization + attention), with CUDA events,
// median of repeats. TOPS = 4·B·H·N²·D / time (halved for causal).
// Usage: portable_bench [N [pv_mode [causal]]] (pv_mode: the PVMode value; -1 or absent: all).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "sageattention/cuda_api.h"
#include "sageattention/quant_layout.h"

using namespace sageattention;

#define CHECK_CUDA(x)                                                                       \
  do {                                                                                      \
    cudaError_t e_ = (x);                                                                   \
    if (e_ != cudaSuccess) {                                                                \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);  \
      std::exit(2);                                                                         \
    }                                                                                       \
  } while (0)

// Deterministic pseudo-normal-ish fill (sum of uniforms), bf16.
__global__ void fill_bf16(uint16_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;
    float s = 0.f;
    for (int k = 0; k < 4; ++k) {
      h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
      s += (h & 0xFFFF) / 65536.0f;
    }
    const float x = (s - 2.0f) * 1.7f;
    p[i] = uint16_t(__float_as_uint(x) >> 16);
  }
}

template <class F>
static float median_ms(F&& fn, int reps) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  fn();
  fn();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(a));
    fn();
    CHECK_CUDA(cudaEventRecord(b));
    CHECK_CUDA(cudaEventSynchronize(b));
    float ms;
    CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a), cudaEventDestroy(b);
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  // SAGE_BENCH_B / SAGE_BENCH_H: other batch and head counts than the grid's 4 x 32.
  const auto env_int = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::atoi(v) : fallback;
  };
  const int B = env_int("SAGE_BENCH_B", 4), H = env_int("SAGE_BENCH_H", 32);
  std::vector<int> dims = {SAGE_HEAD_DIMS};
  std::vector<int> lens = {1024, 4096, 16384};
  if (argc > 1) lens = {std::atoi(argv[1])};
  // Optional filters (profiling one kernel): P·V mode (PVMode value) and causal (0/1); -1 = all.
  const int only_mode = argc > 2 ? std::atoi(argv[2]) : -1;
  const int only_causal = argc > 3 ? std::atoi(argv[3]) : -1;
  std::printf("%-5s %-6s %-7s %-14s %9s %9s %9s %9s %8s %8s\n", "D", "N", "causal", "mode", "qk_ms", "qv_ms", "attn_ms",
              "full_ms", "kTOPS", "fullTOPS");
  for (int d : dims) {
    if (d > 128) continue;
    for (int n : lens) {
      const int64_t T = dense_padded_tokens(n);
      const size_t elems = size_t(B) * n * H * d;
      uint16_t *q, *k, *v, *o;
      CHECK_CUDA(cudaMalloc(&q, elems * 2));
      CHECK_CUDA(cudaMalloc(&k, elems * 2));
      CHECK_CUDA(cudaMalloc(&v, elems * 2));
      CHECK_CUDA(cudaMalloc(&o, elems * 2));
      fill_bf16<<<1024, 256>>>(q, elems, 1u);
      fill_bf16<<<1024, 256>>>(k, elems, 2u);
      fill_bf16<<<1024, 256>>>(v, elems, 3u);
      int8_t* k8;
      uint8_t* v8;
      float *ks, *km, *vs, *vm, *lse;
      const QuantGranularity gran = QuantGranularity::kPerThread;
      CHECK_CUDA(cudaMalloc(&k8, size_t(B) * H * T * d));
      CHECK_CUDA(cudaMalloc(&v8, size_t(B) * H * T * d));
      CHECK_CUDA(cudaMalloc(&ks, size_t(B) * H * k_scale_count(gran, T) * 4));
      CHECK_CUDA(cudaMalloc(&km, size_t(B) * H * d * 4));
      CHECK_CUDA(cudaMalloc(&vs, size_t(B) * H * d * 4));
      CHECK_CUDA(cudaMalloc(&vm, size_t(B) * H * d * 4));
      CHECK_CUDA(cudaMalloc(&lse, size_t(B) * H * n * 4));
      StridedTensor raw{nullptr, int64_t(n) * H * d, int64_t(H) * d, d};
      Sequences seq{B, n, nullptr, T};
      QuantKParams qk;
      qk.dtype = DType::kBFloat16, qk.k = raw, qk.k.ptr = k, qk.seq = seq, qk.heads = H, qk.head_dim = d;
      qk.head_dim_padded = d, qk.gran = gran, qk.smooth = true, qk.k8 = k8, qk.k_scale = ks, qk.k_mean = km;
      QuantVParams qv;
      qv.dtype = DType::kBFloat16, qv.v = raw, qv.v.ptr = v, qv.seq = seq, qv.heads = H, qv.head_dim = d;
      qv.head_dim_padded = d, qv.smooth = false, qv.v8 = v8, qv.v_scale = vs, qv.v_mean = vm;
      if (cuda::quant_k(qk, nullptr) != Status::kSuccess || cuda::quant_v(qv, nullptr) != Status::kSuccess) {
        std::printf("quant failed\n");
        return 1;
      }
      const float qk_ms = median_ms([&] { cuda::quant_k(qk, nullptr); }, 10);
      const float qv_ms = median_ms([&] { cuda::quant_v(qv, nullptr); }, 10);
      for (bool causal : {false, true})
        for (PVMode mode : {PVMode::kFp8Fp32Fp32, PVMode::kFp8Fp32, PVMode::kFp16Fp32, PVMode::kFp16Fp16Fp32,
                            PVMode::kFp8Fp16Fp32}) {
          if ((only_mode >= 0 && int(mode) != only_mode) || (only_causal >= 0 && int(causal) != only_causal)) continue;
          if (is_fp8(mode) && qv.fp8_max != fp8_v_max(mode)) {  // V codes in the mode's range
            qv.fp8_max = fp8_v_max(mode);
            if (cuda::quant_v(qv, nullptr) != Status::kSuccess) return 1;
          }
          AttentionParams ap;
          ap.dtype = DType::kBFloat16, ap.heads_q = H, ap.heads_kv = H, ap.head_dim = d, ap.head_dim_padded = d;
          ap.seq_q = seq, ap.seq_k = seq, ap.q = raw, ap.q.ptr = q, ap.qk_gran = gran;
          ap.k8 = k8, ap.k_scale = ks, ap.k_mean = km, ap.pv_mode = mode;
          ap.v8 = v8, ap.v_scale = vs, ap.v_mean = nullptr, ap.v = raw, ap.v.ptr = v, ap.v_dtype = DType::kBFloat16;
          ap.o = MutableStridedTensor{o, raw.batch_stride, raw.token_stride, raw.head_stride};
          ap.sm_scale = 1.0f / 11.3137f, ap.causal = causal;
          ap.softmax_block_keys = mma_softmax_block_keys(d, mode);
          ap.row_sum_of_rounded_p = mma_row_sum_of_rounded_p(d, mode);
          ap.rescale_threshold = mma_rescale_threshold(d, mode);
          if (cuda::attention_mma(ap, nullptr) != Status::kSuccess) {
            std::printf("attention failed\n");
            return 1;
          }
          CHECK_CUDA(cudaDeviceSynchronize());
          const int reps = n >= 16384 ? 5 : 20;
          const float attn_ms = median_ms([&] { cuda::attention_mma(ap, nullptr); }, reps);
          const bool fp8 = is_fp8(mode);
          const float full_ms = median_ms(
              [&] {
                cuda::quant_k(qk, nullptr);
                if (fp8) cuda::quant_v(qv, nullptr);
                cuda::attention_mma(ap, nullptr);
              },
              reps);
          const double ops = 4.0 * B * H * double(n) * n * d / (causal ? 2 : 1);
          const char* names[] = {"fp16+fp32acc", "fp16+fp16acc", "fp8+fp32", "fp8+fp32fp32", "fp8+fp16fp32"};
          std::printf("%-5d %-6d %-7s %-14s %9.3f %9.3f %9.3f %9.3f %8.1f %8.1f\n", d, n, causal ? "yes" : "no",
                      names[int(mode)], qk_ms, fp8 ? qv_ms : 0.f, attn_ms, full_ms, ops / attn_ms * 1e-9,
                      ops / full_ms * 1e-9);
        }
      CHECK_CUDA(cudaGetLastError());
      cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(k8), cudaFree(v8);
      cudaFree(ks), cudaFree(km), cudaFree(vs), cudaFree(vm), cudaFree(lse);
    }
  }
  return 0;
}
