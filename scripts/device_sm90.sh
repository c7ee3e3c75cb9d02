#!/usr/bin/env bash
# Hopper kernel on the device machine: build (sm_90a only, parallel), resource report, SASS census,
# correctness suite, kernel-only timing. Logs under $OUT (or ./out_sm90).
#   scripts/device_sm90.sh [check|bench|all|sanitize] [bench iters]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out_sm90}
mkdir -p "$OUT"
what=${1:-all}
iters=${2:-20}
B=build_sm90
mkdir -p $B
NVCC="nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -O3 --expt-relaxed-constexpr -lineinfo -Icsrc/include -Icsrc"
pids=()
for f in csrc/kernels/sm90/*.cu tests/cuda/sm90_attention.cu; do
  o=$B/$(basename "$f" .cu).o
  $NVCC -Xptxas -v -c "$f" -o "$o" > "$B/$(basename "$f" .cu).log" 2>&1 &
  pids+=($!)
done
for f in csrc/reference/*.cpp csrc/common/*.cpp; do
  g++ -std=c++17 -O2 -ffp-contract=off -Icsrc/include -Icsrc -c "$f" -o "$B/$(basename "$f" .cpp).o" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
cat $B/*.log > "$OUT/ptxas.log"
if [ $fail -ne 0 ]; then echo "BUILD FAILED"; grep -B2 -A5 error "$OUT/ptxas.log" | head -60; exit 1; fi
nvcc -gencode arch=compute_90a,code=sm_90a $B/*.o -o $B/sm90_attention -lcuda -lpthread || exit 1
grep -E "spill|C7520|C7508" "$OUT/ptxas.log" | sort | uniq -c | head -20
if command -v cuobjdump > /dev/null; then
  cuobjdump -sass $B/attention_sm90_d128_bf16.o > "$OUT/d128_bf16.sass" 2>/dev/null
  echo "SASS census (d128 bf16, all 4 variants):"
  grep -oE "IGMMA[^ ]*|QGMMA[^ ]*|WARPGROUP.ARRIVE|LDL|STL|MUFU.EX2" "$OUT/d128_bf16.sass" | sort | uniq -c
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > "$OUT/gpu.txt" 2>&1
if [ "$what" = check ] || [ "$what" = all ] || [ "$what" = final ]; then
  $B/sm90_attention check 2>&1 | tee "$OUT/check.log"
fi
if [ "$what" = sanitize ] || [ "$what" = final ]; then
  compute-sanitizer --tool memcheck $B/sm90_attention check-small 2>&1 | tail -30 | tee "$OUT/memcheck.log"
fi
if [ "$what" = bench ] || [ "$what" = all ] || [ "$what" = final ]; then
  $B/sm90_attention bench "$iters" 2>&1 | tee "$OUT/bench.log"
fi
if [ "$what" = profile ]; then
  # ncu on one launch (D=128, N=${PROF_N:-8192}, non-causal); hardware counters, clocks untouched.
  ncu --clock-control none -k regex:attention_kernel -c 1 --section SpeedOfLight --section ComputeWorkloadAnalysis \
      --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section SourceCounters \
      --section LaunchStats --section Occupancy \
      $B/sm90_attention profile ${PROF_D:-128} ${PROF_N:-8192} 0 > "$OUT/ncu.txt" 2>&1
  grep -vE "^\s*$|----" "$OUT/ncu.txt" | head -${PROF_LINES:-150}
fi
if [ "$what" = stalls ]; then
  # Warp stall breakdown and per-SASS-instruction stall samples of one launch.
  ncu --clock-control none -k regex:attention_kernel -c 1 \
      --metrics regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed_pipe_xu.sum,smsp__cycles_elapsed.avg \
      $B/sm90_attention profile ${PROF_D:-128} ${PROF_N:-8192} 0 > "$OUT/stalls.txt" 2>&1
  grep -E "stalled|pipe_xu|elapsed" "$OUT/stalls.txt" | awk '$NF+0 > 0.05 || /xu|elapsed/' 
  ncu --clock-control none -k regex:attention_kernel -c 1 --section SourceCounters --section WarpStateStats \
      --page source --print-source sass --csv $B/sm90_attention profile ${PROF_D:-128} ${PROF_N:-8192} 0 > "$OUT/source.csv" 2>&1
  ls -la "$OUT/source.csv"; head -c 600 "$OUT/source.csv"
fi
# Variants: VARIANTS="name:-DFLAG ..." builds the kernels again with extra flags and runs a short bench.
for v in ${VARIANTS:-}; do
  name=${v%%:*}; flags=${v#*:}; flags=${flags//,/ }
  VB=build_sm90_$name; mkdir -p $VB; vp=()
  for f in csrc/kernels/sm90/*.cu; do
    $NVCC $flags -c "$f" -o "$VB/$(basename "$f" .cu).o" & vp+=($!)
  done
  for p in "${vp[@]}"; do wait "$p"; done
  nvcc -gencode arch=compute_90a,code=sm_90a $VB/*.o $B/sm90_attention.o $B/attention.o $B/attention_float64.o $B/quantize.o $B/status.o -o $VB/sm90_attention -lcuda -lpthread || continue
  echo "== variant $name ($flags)"
  if [ "${CHECK_VARIANTS:-0}" = 1 ]; then $VB/sm90_attention check > "$OUT/check_$name.log" 2>&1; echo "check rc=$? $(tail -1 "$OUT/check_$name.log")"; fi
  $VB/sm90_attention bench-short "$iters" 2>&1 | tee "$OUT/bench_$name.log"
done
