# Sources of the portable kernel family (quantization pre-pass, mma.sync attention, dispatch).
set(SAGE_PORTABLE_SOURCES
  ${PROJECT_SOURCE_DIR}/csrc/dispatch/compiled_archs.cu
  ${PROJECT_SOURCE_DIR}/csrc/dispatch/placeholder_portable.cu
)
