# Sources of the portable kernel family (quantization pre-pass, mma.sync attention, dispatch).
# One attention instantiation per (head dim, P·V mode) file, so builds parallelise; only the head
# dims in SAGE_HEAD_DIMS are compiled.
set(SAGE_PORTABLE_SOURCES
  ${PROJECT_SOURCE_DIR}/csrc/dispatch/compiled_archs.cu
  ${PROJECT_SOURCE_DIR}/csrc/dispatch/sm90_built.cu
  ${PROJECT_SOURCE_DIR}/csrc/dispatch/attention_mma.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/quant/quant_k.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/quant/quant_v.cu
)
foreach(_dim IN LISTS SAGE_HEAD_DIMS)
  foreach(_mode fp16fp32 fp16fp16fp32)
    list(APPEND SAGE_PORTABLE_SOURCES ${PROJECT_SOURCE_DIR}/csrc/kernels/sm80/attention_d${_dim}_${_mode}.cu)
  endforeach()
  foreach(_mode fp8fp32 fp8fp32fp32 fp8fp16fp32)
    list(APPEND SAGE_PORTABLE_SOURCES ${PROJECT_SOURCE_DIR}/csrc/kernels/sm89/attention_d${_dim}_${_mode}.cu)
  endforeach()
endforeach()
