# Hopper kernel harness: correctness vs the CPU reference and float64, kernel-only timing.
if(TARGET sage_cuda_sm90)
  add_executable(sm90_attention ${CMAKE_CURRENT_LIST_DIR}/sm90_attention.cu)
  set_target_properties(sm90_attention PROPERTIES CUDA_ARCHITECTURES "90a")
  target_include_directories(sm90_attention PRIVATE ${PROJECT_SOURCE_DIR}/csrc/include)
  target_link_libraries(sm90_attention PRIVATE sage_cuda sage_cuda_sm90 sage_core)
endif()
