#!/usr/bin/env bash
# A/B of the portable (mma.sync) attention kernel on the device machine, in one call (< 300 s):
#   scripts/device_portable_ab.sh [BASE_DIR]      (default BASE_DIR=.wt/base, a copy of main's tree)
# Builds, in parallel, the harness of BASE_DIR and of this tree in up to four variants:
#   new     this tree as committed
#   other   variants of this tree built with extra flags: add a case to flags_of for an
#           experiment macro (e.g. `s1) echo "-DMY_KNOB=1" ;;`)
# (AB_VARIANTS="new ..." picks which), runs portable_check for every variant (in parallel, each
# under timeout), then portable_bench of base and each variant, alternating, AB_ROUNDS times (default 2).
# Logs under $OUT (or ./out-ab); the last lines print kernel TOPS side by side.
set -uo pipefail
ROOT=$PWD
BASE=${1:-.wt/base}
OUT=${OUT:-$ROOT/out-ab}
mkdir -p "$OUT"
VARIANTS=${AB_VARIANTS:-new}
ROUNDS=${AB_ROUNDS:-2}
DIMS="64;128"
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }

[[ -f "$BASE/CMakeLists.txt" ]] || { echo "no base tree at $BASE (carry a copy of main as .wt/base)"; exit 2; }
BASE=$(cd "$BASE" && pwd)

nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

# nvcc splits -D values at commas; escape them where SageKernels.cmake does not (copies only).
for tree in "$ROOT" "$BASE"; do
  if grep -q 'string(REPLACE ";" "," _dims_csv' "$tree/cmake/SageKernels.cmake"; then
    sed -i 's/string(REPLACE ";" "," _dims_csv/string(REPLACE ";" "\\\\," _dims_csv/' "$tree/cmake/SageKernels.cmake"
  fi
done

# The harness reads SAGE_HEAD_DIMS, private to sage_cuda: trees whose portable.cmake does not pass it
# again get it appended (copies only).
for tree in "$ROOT" "$BASE"; do
  if ! grep -q 'SAGE_HEAD_DIMS' "$tree/tests/cuda/portable.cmake"; then
    cat >> "$tree/tests/cuda/portable.cmake" <<'CM'
string(REPLACE ";" "\\," _sage_harness_dims "${SAGE_HEAD_DIMS}")
foreach(_name portable_check portable_bench)
  target_compile_definitions(${_name} PRIVATE SAGE_HEAD_DIMS=${_sage_harness_dims})
endforeach()
CM
  fi
done

NV=$(echo $VARIANTS | wc -w)
JOBS=$(( 16 / (NV + 1) + 2 ))
build() {  # name src flags
  local name=$1 src=$2 flags=$3 dir=$ROOT/build/ab-$1
  { cmake -S "$src" -B "$dir" -G Ninja -DSAGE_BUILD_TORCH=OFF -DSAGE_BUILD_CUDA_TESTS=ON \
      -DSAGE_CUDA_ARCHS=90 -DSAGE_HEAD_DIMS="$DIMS" -DCMAKE_CUDA_FLAGS="$flags" &&
    timeout 220 ninja -C "$dir" -j "$JOBS" portable_check portable_bench; } > "$OUT/build-$name.log" 2>&1
  echo $? > "$OUT/build-$name.rc"
}
flags_of() {
  case $1 in
    new) echo "" ;;
    *) echo "unknown variant $1" >&2; echo "" ;;
  esac
}
build base "$BASE" "" &
for v in $VARIANTS; do build "$v" "$ROOT" "$(flags_of "$v")" & done
wait
ok=""
for n in base $VARIANTS; do
  rc=$(cat "$OUT/build-$n.rc" 2>/dev/null || echo 9)
  if [[ "$rc" == 0 ]]; then ok="$ok $n"; else echo "BUILD FAILED: $n (rc $rc)"; grep -E 'error' -A3 "$OUT/build-$n.log" | head -30; fi
  grep -E 'spill' "$OUT/build-$n.log" | sed -E 's/.*ptxas (warning|info) *: *//' | sort | uniq -c | head -8 | sed "s/^/  $n: /"
done
el "built:$ok"
[[ " $ok " == *" base "* ]] || exit 1

# Correctness (the CPU reference is single-threaded: the checks run side by side).
rc_all=0
for v in $VARIANTS; do
  [[ " $ok " == *" $v "* ]] || continue
  ( timeout 120 "$ROOT/build/ab-$v/tests/cuda/portable_check" > "$OUT/check-$v.log" 2>&1; echo $? > "$OUT/check-$v.rc" ) &
done
wait
for v in $VARIANTS; do
  [[ -f "$OUT/check-$v.rc" ]] || continue
  rc=$(cat "$OUT/check-$v.rc")
  echo "check $v: rc=$rc; $(tail -1 "$OUT/check-$v.log")"
  grep -E 'FAIL' "$OUT/check-$v.log" | head -10
  grep -A1 'accuracy N=4096' "$OUT/check-$v.log" | grep 'attn vs' | sed 's/^/  /'
  [[ "$rc" == 0 ]] || rc_all=1
done
el "checks done"

# Timing: base and each variant alternate, ROUNDS times.
for r in $(seq 1 "$ROUNDS"); do
  for n in $ok; do
    timeout 90 "$ROOT/build/ab-$n/tests/cuda/portable_bench" > "$OUT/bench-$n-$r.log" 2>&1 || echo "bench $n round $r rc=$?"
    echo "# end of $n round $r" >> "$OUT/bench-$n-$r.log"  # never empty: one table column per log
  done
  el "bench round $r"
done

# Kernel TOPS side by side: one row per (D, N, causal, mode), one column per build and round.
echo
printf '%-4s %-6s %-4s %-13s' D N caus mode
for n in $ok; do for r in $(seq 1 "$ROUNDS"); do printf ' %9s' "$n.$r"; done; done; echo
awk 'FNR==1{f++} $1 ~ /^[0-9]+$/ && NF>=10 {k=$1" "$2" "$3" "$4; if(!(k in seen)){seen[k]=++nk; key[nk]=k} v[k,f]=$9} END{
  for(i=1;i<=nk;i++){k=key[i]; split(k,a," "); printf "%-4s %-6s %-4s %-13s", a[1], a[2], a[3], a[4];
    for(j=1;j<=f;j++) printf " %9s", ((k,j) in v ? v[k,j] : "-"); printf "\n"}}' \
  $(for n in $ok; do for r in $(seq 1 "$ROUNDS"); do echo "$OUT/bench-$n-$r.log"; done; done) | tee "$OUT/ab_table.txt"
el "done"
exit $rc_all
