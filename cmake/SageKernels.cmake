# Torch-free CUDA kernel libraries.
#   sage_cuda       quantization + mma.sync kernels, every arch in SAGE_CUDA_ARCH_LIST
#   sage_cuda_sm90  TMA + wgmma kernels, 90a only (when 90a is in the list)
# Source lists live beside this file, one per kernel family, so each family's owner edits one file.
include(${CMAKE_CURRENT_LIST_DIR}/SageKernelsPortable.cmake)  # sets SAGE_PORTABLE_SOURCES
include(${CMAKE_CURRENT_LIST_DIR}/SageKernelsSm90.cmake)      # sets SAGE_SM90_SOURCES

set(SAGE_HAVE_SM90 OFF)
list(FIND SAGE_CUDA_ARCH_LIST "90a" _idx90a)
if(NOT _idx90a EQUAL -1)
  set(SAGE_HAVE_SM90 ON)
endif()

# Archs compiled in, as codes arch * 10 + kind (csrc/dispatch/arch_codes.h): kind 0 = with PTX (runs on
# that arch and later ones, JIT-compiled), 1 = machine code only ("-real") or family-specific ("f"):
# later archs of the same major, 2 = arch-specific ("a"): that arch alone.
set(_arch_codes "")
foreach(_a IN LISTS SAGE_CUDA_ARCH_LIST)
  string(REGEX MATCH "^[0-9]+" _n "${_a}")
  if(_a MATCHES "^[0-9]+a")
    math(EXPR _code "${_n} * 10 + 2")
  elseif(_a MATCHES "^[0-9]+f" OR _a MATCHES "-real$")
    math(EXPR _code "${_n} * 10 + 1")
  else()
    math(EXPR _code "${_n} * 10")
  endif()
  list(APPEND _arch_codes ${_code})
endforeach()
list(REMOVE_DUPLICATES _arch_codes)
# nvcc splits -D values at unescaped commas.
string(REPLACE ";" "\\," SAGE_COMPILED_ARCH_CODES_CSV "${_arch_codes}")

function(sage_cuda_target_options tgt)
  target_include_directories(${tgt} PUBLIC ${PROJECT_SOURCE_DIR}/csrc/include PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
  target_compile_options(${tgt} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo -Xptxas=-warn-spills>)
  set_target_properties(${tgt} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF POSITION_INDEPENDENT_CODE ON)
endfunction()

add_library(sage_cuda STATIC ${SAGE_PORTABLE_SOURCES})
sage_cuda_target_options(sage_cuda)
set_target_properties(sage_cuda PROPERTIES CUDA_ARCHITECTURES "${SAGE_CUDA_ARCH_LIST}")
target_compile_definitions(sage_cuda PRIVATE SAGE_COMPILED_ARCH_CODES=${SAGE_COMPILED_ARCH_CODES_CSV})
string(REPLACE ";" "\\," _dims_csv "${SAGE_HEAD_DIMS}")
target_compile_definitions(sage_cuda PRIVATE SAGE_HEAD_DIMS=${_dims_csv})
find_package(CUDAToolkit REQUIRED)
target_link_libraries(sage_cuda PUBLIC CUDA::cudart sage_core)

if(SAGE_HAVE_SM90 AND SAGE_SM90_SOURCES)
  add_library(sage_cuda_sm90 STATIC ${SAGE_SM90_SOURCES})
  sage_cuda_target_options(sage_cuda_sm90)
  set_target_properties(sage_cuda_sm90 PROPERTIES CUDA_ARCHITECTURES "90a")
  target_link_libraries(sage_cuda_sm90 PUBLIC CUDA::cudart CUDA::cuda_driver)
  target_link_libraries(sage_cuda PUBLIC sage_cuda_sm90)
  target_compile_definitions(sage_cuda PRIVATE SAGE_HAVE_SM90=1)
endif()
