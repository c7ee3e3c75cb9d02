# Finds nvcc and settles the arch list. Sets SAGE_HAVE_CUDA, SAGE_CUDA_ARCH_LIST (CMake style) and
# SAGE_CUDA_VERSION_MAJOR.
set(SAGE_HAVE_CUDA OFF)
if(NOT SAGE_BUILD_CUDA)
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "sageattention: nvcc not found, building the CPU reference only")
  return()
endif()

if(SAGE_CUDA_ARCHS STREQUAL "")
  # Ask the local GPU first; fall back to the default list.
  execute_process(COMMAND nvidia-smi --query-gpu=compute_cap --format=csv,noheader
                  OUTPUT_VARIABLE _caps RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_rc EQUAL 0 AND NOT _caps STREQUAL "")
    string(REPLACE "\n" ";" _caps "${_caps}")
    set(_archs "")
    foreach(_cap IN LISTS _caps)
      string(REPLACE "." "" _a "${_cap}")
      if(_a STREQUAL "90")
        set(_a "90a")
      endif()
      list(APPEND _archs ${_a})
    endforeach()
    list(REMOVE_DUPLICATES _archs)
    set(SAGE_CUDA_ARCH_LIST ${_archs})
    message(STATUS "sageattention: local GPU arch(s): ${SAGE_CUDA_ARCH_LIST}")
  else()
    set(SAGE_CUDA_ARCH_LIST ${SAGE_DEFAULT_CUDA_ARCHS})
  endif()
else()
  set(SAGE_CUDA_ARCH_LIST ${SAGE_CUDA_ARCHS})
endif()
# Accept TORCH_CUDA_ARCH_LIST style too ("8.0;9.0a" or "8.0 9.0a").
string(REPLACE " " ";" SAGE_CUDA_ARCH_LIST "${SAGE_CUDA_ARCH_LIST}")
string(REPLACE "." "" SAGE_CUDA_ARCH_LIST "${SAGE_CUDA_ARCH_LIST}")

# CMAKE_CUDA_ARCHITECTURES must hold something valid before enable_language.
set(CMAKE_CUDA_ARCHITECTURES ${SAGE_CUDA_ARCH_LIST})
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
string(REGEX MATCH "^[0-9]+" SAGE_CUDA_VERSION_MAJOR "${CMAKE_CUDA_COMPILER_VERSION}")
set(SAGE_HAVE_CUDA ON)
message(STATUS "sageattention: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${SAGE_CUDA_ARCH_LIST}")

if(NOT SAGE_CUDA_JOBS STREQUAL "0")
  set_property(GLOBAL APPEND PROPERTY JOB_POOLS sage_nvcc=${SAGE_CUDA_JOBS})
  set(CMAKE_JOB_POOL_COMPILE sage_nvcc)
endif()
