#!/usr/bin/env bash
# The quantization pre-pass (csrc/kernels/quant) on the device machine, in one call:
#   1. build + install the wheel and run the GPU suite and sanitizer (scripts/device_full.sh, its knobs
#      apply; the benchmark is off unless RUN_BENCH=1),
#   2. per-kernel GPU times of whole sageattn calls (bench/profile_call.py, B=4 H=32 D=128 bf16),
#   3. Nsight Compute on the pre-pass kernels of one call at N=1k and 4k: duration, DRAM bytes and
#      throughput, L2 hit rate, achieved occupancy, registers (cold L2: ncu flushes caches per kernel).
# Knobs: SEQLENS (profile_call lengths, default "1024 4096 16384"), NCU=0 to skip step 3.
# Sourced (`. scripts/device_quant.sh` with QUANT_FUNCTIONS_ONLY=1) it only defines ncu_table.
# Logs and CSVs under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export OUT PYTHONUNBUFFERED=1

# Nsight Compute on the pre-pass kernels that command $2... launches; table of the key metrics.
ncu_table() {
  local tag=$1; shift
  local metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum
  metrics+=,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct
  metrics+=,sm__warps_active.avg.pct_of_peak_sustained_active,sm__maximum_warps_per_active_cycle_pct
  metrics+=,launch__registers_per_thread,launch__grid_size,launch__block_size
  timeout 180 ncu --kernel-name regex:"quant|k_mean" --metrics "$metrics" --print-units base --csv "$@" \
    > "$OUT/ncu_$tag.csv" 2> "$OUT/ncu_$tag.err"
  echo "ncu $tag rc=$?"
  python3 - "$OUT/ncu_$tag.csv" <<'EOF2'
import collections, csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head, rows = rows[0], rows[1:]
ix = {k: head.index(k) for k in ("ID", "Kernel Name", "Metric Name", "Metric Value")}
by = collections.OrderedDict()
for r in rows:
    name = r[ix["Kernel Name"]].split("(")[0].replace("sageattention::kernels::", "")[-44:]
    by.setdefault((r[ix["ID"]], name), {})[r[ix["Metric Name"]]] = r[ix["Metric Value"]]
for (i, name), m in by.items():
    g = lambda k: float(m.get(k, "nan").replace(",", ""))
    t = g("gpu__time_duration.sum")
    mb = (g("dram__bytes_read.sum") + g("dram__bytes_write.sum")) / 1e6
    print(f"{i:>3} {name:44s} {t / 1e3:7.1f} us  dram {mb:6.1f} MB {mb / t * 1e3:5.2f} TB/s"
          f" ({g('dram__throughput.avg.pct_of_peak_sustained_elapsed'):4.1f}% peak)  L2 hit {g('lts__t_sector_hit_rate.pct'):4.1f}%"
          f"  warps {g('sm__warps_active.avg.pct_of_peak_sustained_active'):4.1f}% (max {g('sm__maximum_warps_per_active_cycle_pct'):4.1f}%)"
          f"  regs {m.get('launch__registers_per_thread')} grid {m.get('launch__grid_size')}x{m.get('launch__block_size')}")
EOF2
}


[ "${QUANT_FUNCTIONS_ONLY:-0}" = 1 ] && return 0

RUN_BENCH=${RUN_BENCH:-0} bash scripts/device_full.sh || exit 1
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}

timeout 120 python3 bench/profile_call.py --seqlens ${SEQLENS:-1024 4096 16384} > "$OUT/profile.txt" 2>&1
echo "profile_call rc=$? (per-kernel times, us):"
grep -E "^N=|quant_kernel|k_mean|attention_kernel" "$OUT/profile.txt" | awk '/^N=/{print; next} {print "  ", $1, $2, $(NF-1)}'

if [ "${NCU:-1}" = 1 ]; then
  cat > /tmp/quant_one_call.py <<'EOF2'
import torch, sageattention as sa
for n in (1024, 4096):
    q, k, v = (torch.randn(4, 32, n, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    sa.sageattn(q, k, v)
torch.cuda.synchronize()
EOF2
  ncu_table call python3 /tmp/quant_one_call.py
fi
