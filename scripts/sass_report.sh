#!/usr/bin/env bash
# Compiles every mma.sync attention instantiation of a source tree for sm_90a (no GPU needed) and
# prints per file the spill bytes ptxas reports and an md5 of the SASS with addresses stripped, so
# two trees' machine code can be compared ("unchanged" claims, spill changes).
# Usage: scripts/sass_report.sh [tree=.] [outdir=/tmp/sass_report] [jobs=2]
set -euo pipefail
TREE=${1:-.}; OUT=${2:-/tmp/sass_report}; JOBS=${3:-2}
mkdir -p "$OUT"
ls "$TREE"/csrc/kernels/sm80/attention_d*.cu "$TREE"/csrc/kernels/sm89/attention_d*.cu |
  xargs -P "$JOBS" -I{} sh -c 'b=$(basename {} .cu); nvcc -O3 -DNDEBUG --generate-code=arch=compute_90a,code=sm_90a \
    --expt-relaxed-constexpr -Xptxas=-v,-warn-spills -std=c++17 -I'"$TREE"'/csrc/include -I'"$TREE"'/csrc \
    -cubin -o '"$OUT"'/$b.cubin {} > '"$OUT"'/$b.log 2>&1'
for log in "$OUT"/*.log; do
  b=$(basename "$log" .log)
  spills=$(grep -o '[0-9]* bytes spill stores, [0-9]* bytes spill loads' "$log" | sort -u |
           sed 's/ bytes spill stores, /\//; s/ bytes spill loads//' | tr '\n' ' ')
  sass=$(cuobjdump -sass "$OUT/$b.cubin" | sed -E 's#/\*[0-9a-f]{4,6}\*/##g' | md5sum | cut -c1-8)
  printf '%-32s sass %s  spills (store/load B per kernel) %s\n' "$b" "$sass" "$spills"
done
