#!/usr/bin/env bash
# A/B of the Hopper kernel between this tree and another checkout, in one device call: builds both
# (sm_90a harness, tests/cuda/sm90_attention.cu from THIS tree for both, so the same cases and
# benchmarks run), checks this tree's kernels (SANITIZE=1: also check-small under memcheck,
# racecheck and synccheck), then alternates the benchmark REPS times. Every GPU command runs under
# `timeout`, so a kernel that hangs costs minutes of device time, not the whole call.
#   scripts/device_ab.sh OTHER_DIR [bench-short|bench-causal|bench-d64|bench-fp16|bench] [REPS]
# OTHER_DIR is usually a git worktree under an ignored folder (carry it): e.g.
#   git worktree add .wt/base main   # then run with carry [".wt/base"]
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out_ab}
mkdir -p "$OUT"
other=${1:?other tree}; cmd=${2:-bench-short}; reps=${3:-2}
T0=$(date +%s)
for d in . "$other"; do
  name=$([ "$d" = . ] && echo new || echo old)
  rm -rf /tmp/ab_$name && mkdir -p /tmp/ab_$name/tests
  cp -r "$d/csrc" "$d/scripts" /tmp/ab_$name/ && cp -r ./tests/cuda /tmp/ab_$name/tests/
  (cd /tmp/ab_$name && OUT=$OUT/$name bash scripts/device_sm90.sh build > "$OUT/$name.build.log" 2>&1) &
done
wait
echo "[$(( $(date +%s) - T0 ))s] built"
grep -hE "spill stores|C75|BUILD FAILED" "$OUT"/*.build.log | sort | uniq -c
timeout 120 /tmp/ab_new/build_sm90/sm90_attention check > "$OUT/check_new.log" 2>&1
rc=$?
echo "check rc=$rc $(tail -1 "$OUT/check_new.log")"
grep -E "FAIL" "$OUT/check_new.log" | head
if [ $rc = 124 ]; then echo "check timed out (hang?): no benchmark"; exit 1; fi
if [ "${SANITIZE:-0}" = 1 ]; then
  for tool in memcheck racecheck synccheck; do
    timeout 120 compute-sanitizer --tool $tool /tmp/ab_new/build_sm90/sm90_attention check-small > "$OUT/$tool.log" 2>&1
    echo "$tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/$tool.log")"
  done
fi
for rep in $(seq "$reps"); do
  for name in old new; do
    echo "== $name rep $rep"
    timeout 120 /tmp/ab_$name/build_sm90/sm90_attention "$cmd" 20 2>&1 | grep -E "^(128|64) "
  done
done
echo "[$(( $(date +%s) - T0 ))s] done"
