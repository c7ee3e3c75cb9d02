# Sources of the Hopper (sm_90a) kernel family: one host entry point, one instantiation file per
# (P·V mode, head dim, consumer warpgroups, dtype) so nvcc compiles them in parallel.
set(SAGE_SM90_SOURCES
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d64_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d64_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d64w3_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d64w3_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d128_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d128_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d256_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_d256_bf16.cu
  # FP16 P·V mode: (head dim, q dtype, V dtype)
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64_bf16_vf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64w3_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64w3_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d64w3_bf16_vf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d128_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d128_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d128_bf16_vf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d256_fp16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d256_bf16.cu
  ${PROJECT_SOURCE_DIR}/csrc/kernels/sm90/attention_sm90_fp16pv_d256_bf16_vf16.cu
)
