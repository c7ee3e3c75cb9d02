// Instructions that depend on the nvcc version, not only on the target arch.
#pragma once

// The fp16-accumulating e4m3 mma.sync (PTX ISA 8.7, nvcc 12.8). Built with an older nvcc, the
// kernels of PVMode::kFp8Fp16Fp32 trap and the dispatch refuses that mode.
#if defined(__CUDACC_VER_MAJOR__) && (__CUDACC_VER_MAJOR__ * 100 + __CUDACC_VER_MINOR__ >= 1208)
#define SAGE_NVCC_HAS_FP8_F16_ACCUM_MMA 1
#else
#define SAGE_NVCC_HAS_FP8_F16_ACCUM_MMA 0
#endif
