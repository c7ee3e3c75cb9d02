#!/usr/bin/env bash
# Build, check and time the portable kernel family on the device machine, in one call.
#   scripts/device_portable.sh [check|sanitize|bench|all]   (default all); logs under $OUT (or ./out-portable)
# Builds only the portable targets for plain sm_90 (the mma.sync kernels do not need 90a, and this
# keeps the Hopper family out of the build), with all cores.
set -uo pipefail
MODE=${1:-all}
OUT=${OUT:-$PWD/out-portable}
mkdir -p "$OUT"
ARCHS=${SAGE_PORTABLE_ARCHS:-90}
DIMS=${SAGE_PORTABLE_DIMS:-64;128;256}
BUILD=${SAGE_PORTABLE_BUILD:-build-portable}

# nvcc splits -D values at commas; escape them if SageKernels.cmake does not (device copy only).
if grep -q 'string(REPLACE ";" "," _dims_csv' cmake/SageKernels.cmake; then
  sed -i 's/string(REPLACE ";" "," _dims_csv/string(REPLACE ";" "\\\\," _dims_csv/' cmake/SageKernels.cmake
fi

nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
nvcc --version | tail -1 | tee -a "$OUT/gpu.txt"

t0=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DSAGE_BUILD_TORCH=OFF -DSAGE_BUILD_CUDA_TESTS=ON \
  -DSAGE_CUDA_ARCHS="$ARCHS" -DSAGE_HEAD_DIMS="$DIMS" -DCMAKE_CUDA_FLAGS="${SAGE_PORTABLE_CUDA_FLAGS:-}" > "$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
ninja -C "$BUILD" -j 16 portable_check portable_bench > "$OUT/build.log" 2>&1 || { grep -E 'error' -A3 "$OUT/build.log" | head -60; exit 1; }
grep -E 'spill' "$OUT/build.log" | sort | uniq | head -20
echo "build: $(( $(date +%s) - t0 )) s"

rc=0
if [[ "$MODE" == check || "$MODE" == all ]]; then
  "$BUILD/tests/cuda/portable_check" 2>&1 | tee "$OUT/check.log"
  rc=${PIPESTATUS[0]}
fi
if [[ "$MODE" == sanitize || "$MODE" == all ]]; then
  SAGE_CHECK_QUICK=1 timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 \
    "$BUILD/tests/cuda/portable_check" > "$OUT/memcheck.log" 2>&1
  echo "memcheck rc=$? ($(grep -c 'Invalid' "$OUT/memcheck.log") invalid accesses; $(tail -1 "$OUT/memcheck.log"))"
fi
if [[ "$MODE" == bench || "$MODE" == all ]]; then
  "$BUILD/tests/cuda/portable_bench" 2>&1 | tee "$OUT/bench.log"
fi
exit $rc
