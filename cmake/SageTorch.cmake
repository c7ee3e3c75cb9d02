# The torch extension: a shared library of TORCH_LIBRARY ops (loaded with torch.ops.load_library,
# so it does not link against Python) and a generated _build_info.py, both installed into the
# `sageattention` package. CUDA ops are compiled in when torch has CUDA of nvcc's major version.
find_package(Python COMPONENTS Interpreter REQUIRED)
execute_process(
  COMMAND ${Python_EXECUTABLE} -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(torch.__version__.split('+')[0]); print(torch.version.cuda or '')"
  OUTPUT_VARIABLE _torch_info RESULT_VARIABLE _rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "sageattention: cannot import torch with ${Python_EXECUTABLE}; install torch first "
                      "and build with `pip install --no-build-isolation .`")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 _torch_prefix)
list(GET _torch_info 1 SAGE_TORCH_VERSION)
list(LENGTH _torch_info _n)
set(SAGE_TORCH_CUDA_VERSION "")
if(_n GREATER 2)
  list(GET _torch_info 2 SAGE_TORCH_CUDA_VERSION)
endif()
list(APPEND CMAKE_PREFIX_PATH ${_torch_prefix})

set(SAGE_TORCH_CUDA OFF)
if(SAGE_HAVE_CUDA AND NOT SAGE_TORCH_CUDA_VERSION STREQUAL "")
  string(REGEX MATCH "^[0-9]+" _torch_cuda_major "${SAGE_TORCH_CUDA_VERSION}")
  if(_torch_cuda_major STREQUAL SAGE_CUDA_VERSION_MAJOR)
    set(SAGE_TORCH_CUDA ON)
  else()
    message(WARNING "sageattention: torch was built with CUDA ${SAGE_TORCH_CUDA_VERSION} but nvcc is "
                    "${CMAKE_CUDA_COMPILER_VERSION}; the extension is built CPU-only (kernels still compile).")
  endif()
endif()
if(NOT SAGE_TORCH_CUDA)
  # Keep torch's CMake config from searching for a CUDA toolkit the extension will not use.
  set(CAFFE2_USE_CUDA OFF)
  set(USE_CUDA OFF)
endif()
# Torch's CMake config parses TORCH_CUDA_ARCH_LIST (dotted: "8.0;9.0a"; our CMake-style list would make
# it fail) and appends its own -gencode flags to CMAKE_CUDA_FLAGS. The extension's CUDA code lives in
# the kernel targets, which have their own arch list, so hand torch the dotted list and undo its
# global flag changes afterwards.
set(TORCH_CUDA_ARCH_LIST "")
foreach(_a IN LISTS SAGE_CUDA_ARCH_LIST)
  string(REGEX REPLACE "^([0-9]+)([0-9])([a-z]?)$" "\\1.\\2\\3" _dotted "${_a}")
  list(APPEND TORCH_CUDA_ARCH_LIST ${_dotted})
endforeach()
set(_sage_saved_cuda_flags "${CMAKE_CUDA_FLAGS}")
set(_sage_saved_cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")
find_package(Torch REQUIRED)
set(CMAKE_CUDA_FLAGS "${_sage_saved_cuda_flags}")
set(CMAKE_CUDA_ARCHITECTURES "${_sage_saved_cuda_archs}")

add_library(sageattention_ops SHARED
  bindings/torch/tensor_views.cpp
  bindings/torch/ops.cpp
  bindings/torch/backend_cpu.cpp
  bindings/torch/registration.cpp
)
if(SAGE_TORCH_CUDA)
  target_sources(sageattention_ops PRIVATE bindings/torch/backend_cuda.cpp)
  target_link_libraries(sageattention_ops PRIVATE sage_cuda)
endif()
target_include_directories(sageattention_ops PRIVATE ${PROJECT_SOURCE_DIR}/csrc/include ${PROJECT_SOURCE_DIR}/bindings/torch)
# Only the libraries that hold the ATen/c10/dispatcher symbols we use; torch_python is not needed.
target_link_libraries(sageattention_ops PRIVATE sage_core ${TORCH_LIBRARIES})
target_compile_options(sageattention_ops PRIVATE ${TORCH_CXX_FLAGS})
# The extension must share torch's C++ runtime (libstdc++.so.6). A toolchain whose lib directory holds
# only libstdc++.a links a private copy into the .so, with its own locale and iostream state: the
# first error message formatted in it (any TORCH_CHECK) then crashes the process. Such a toolchain
# gets the system's shared libstdc++ named first on the link line, so every reference binds to it.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT APPLE AND NOT WIN32)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                  OUTPUT_VARIABLE _sage_libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT IS_ABSOLUTE "${_sage_libstdcxx}")
    find_library(SAGE_SHARED_LIBSTDCXX NAMES libstdc++.so.6
                 PATHS /usr/lib64 /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib /lib64)
    if(NOT SAGE_SHARED_LIBSTDCXX)
      message(FATAL_ERROR "sageattention: ${CMAKE_CXX_COMPILER} has no shared libstdc++ and none was found "
                          "(set SAGE_SHARED_LIBSTDCXX to libstdc++.so.6, or use a compiler that links it)")
    endif()
    message(STATUS "sageattention: ${CMAKE_CXX_COMPILER} only has a static libstdc++; "
                   "linking ${SAGE_SHARED_LIBSTDCXX} (torch's runtime)")
    target_link_libraries(sageattention_ops PRIVATE ${SAGE_SHARED_LIBSTDCXX})
  endif()
endif()
set_target_properties(sageattention_ops PROPERTIES PREFIX "" OUTPUT_NAME "_sageattention_ops")
if(NOT APPLE AND NOT WIN32)
  # Find libtorch/libc10 next to the installed torch package, never via a build path.
  set_target_properties(sageattention_ops PROPERTIES INSTALL_RPATH "$ORIGIN/../torch/lib" BUILD_WITH_INSTALL_RPATH ON)
endif()

set(SAGE_BUILD_ARCHS "")
if(SAGE_TORCH_CUDA)
  set(SAGE_BUILD_ARCHS ${SAGE_CUDA_ARCH_LIST})
endif()
set(SAGE_BUILD_CUDA_VERSION "")
if(SAGE_TORCH_CUDA)
  set(SAGE_BUILD_CUDA_VERSION "${CMAKE_CUDA_COMPILER_VERSION}")
endif()
list(JOIN SAGE_BUILD_ARCHS "\", \"" SAGE_BUILD_ARCHS_PY)
if(NOT SAGE_BUILD_ARCHS_PY STREQUAL "")
  set(SAGE_BUILD_ARCHS_PY "\"${SAGE_BUILD_ARCHS_PY}\"")
endif()
configure_file(${PROJECT_SOURCE_DIR}/python/sageattention/_build_info.py.in
               ${CMAKE_CURRENT_BINARY_DIR}/_build_info.py @ONLY)

install(TARGETS sageattention_ops LIBRARY DESTINATION sageattention RUNTIME DESTINATION sageattention)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/_build_info.py DESTINATION sageattention)
