#!/usr/bin/env bash
# The code Ampere and Ada GPUs run, checked on the H200: builds for sm_80 and sm_89 only, whose PTX
# the driver JIT-compiles here (so the cp.async loaders and the pre-sm_90 branches run, not the TMA
# ones), through the kernel harness and then as a wheel through the GPU suite (its Hopper-kernel
# tests skip: the build has none; sageattn runs the mma.sync kernel). Logs under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT/pre_sm90"
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] pre-sm90: $*" | tee -a "$OUT/steps.log"; }
export CUDA_CACHE_MAXSIZE=4294967296  # the JIT cache: each kernel compiles once per run

SAGE_PORTABLE_ARCHS="80;89" SAGE_PORTABLE_DIMS="64;128;256" SAGE_PORTABLE_BUILD=/tmp/build-pre-sm90 \
  OUT="$OUT/pre_sm90" timeout 300 bash scripts/device_portable.sh check > "$OUT/pre_sm90/harness.log" 2>&1
stamp "harness rc=$? $(tail -1 "$OUT/pre_sm90/harness.log")"

PYTHONPATH=/tmp/tools TORCH_VERSION=2.11 CUDA_VERSION=13.0 TORCH_CUDA_ARCH_LIST="8.0;8.9" MAX_JOBS=16 timeout 300 \
  scripts/build_wheel.sh --out-dir /tmp/dist-pre-sm90 > "$OUT/pre_sm90/wheel_build.log" 2>&1 || { stamp "wheel BUILD FAILED"; exit 1; }
rm -rf /tmp/site-pre-sm90 && python3 -m pip install -q --no-deps --no-index --target /tmp/site-pre-sm90 /tmp/dist-pre-sm90/*.whl
PYTHONPATH=/tmp/site-pre-sm90 python3 -m sageattention > "$OUT/pre_sm90/cli.txt" 2>&1
stamp "wheel: $(grep -E 'kernels for|picks' "$OUT/pre_sm90/cli.txt" | tr -s ' ' | tr '\n' ';')"
PYTHONPATH=/tmp/site-pre-sm90 timeout ${PRE_SM90_TEST_TIMEOUT:-300} python3 -m pytest tests/python -q -p no:cacheprovider -m gpu \
  --junitxml="$OUT/pre_sm90/gpu_tests.xml" > "$OUT/pre_sm90/gpu_tests.log" 2>&1
stamp "GPU tests rc=$? $(tail -1 "$OUT/pre_sm90/gpu_tests.log")"
grep -E "^(FAILED|ERROR)" "$OUT/pre_sm90/gpu_tests.log" | head -30
