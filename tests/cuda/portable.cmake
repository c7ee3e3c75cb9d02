# Device harnesses of the portable kernel family (built with -DSAGE_BUILD_CUDA_TESTS=ON).
#   portable_check  kernels vs the CPU reference and float64 attention (exit code = pass/fail)
#   portable_bench  quant / attention / full-call timings at the benchmark shapes
# Both read the compiled head dims from SAGE_HEAD_DIMS (private to sage_cuda, so passed again here).
string(REPLACE ";" "\\," _sage_harness_dims "${SAGE_HEAD_DIMS}")
foreach(_name portable_check portable_bench)
  add_executable(${_name} ${CMAKE_CURRENT_LIST_DIR}/${_name}.cu)
  target_link_libraries(${_name} PRIVATE sage_cuda sage_core)
  set_target_properties(${_name} PROPERTIES CUDA_ARCHITECTURES "${SAGE_CUDA_ARCH_LIST}")
  target_compile_options(${_name} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
  target_compile_definitions(${_name} PRIVATE SAGE_HEAD_DIMS=${_sage_harness_dims})
endforeach()
