#!/usr/bin/env bash
# Run tests/python against the *installed* sageattention wheel (used by the Docker test stages and
# by the CI jobs). Runs the GPU tests when torch sees a GPU, else only the CPU ones.
#   docker/run_wheel_tests.sh [TESTS_DIR] [-- EXTRA PYTEST ARGS]
set -euo pipefail
PY=${PYTHON:-python}
TESTS=${1:-tests/python}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

# The package must come from site-packages, not from a source tree next to the tests.
"$PY" - <<'PYEOF'
import sageattention, sys, os
path = os.path.dirname(sageattention.__file__)
print("sageattention", getattr(sageattention, "__version__", "?"), "from", path)
if "site-packages" not in path and "dist-packages" not in path and not os.environ.get("SAGE_ALLOW_SOURCE_IMPORT"):
    sys.exit("run_wheel_tests.sh: sageattention is imported from a source tree, not from the installed wheel")
PYEOF

if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "run_wheel_tests.sh: GPU visible: running the whole suite, GPU tests included"
  markers=()
else
  echo "run_wheel_tests.sh: no GPU visible: running the CPU tests (-m 'not gpu')"
  markers=(-m "not gpu")
fi
# -p no:cacheprovider: the test tree may be read-only.
exec "$PY" -m pytest "$TESTS" -p no:cacheprovider -q "${markers[@]}" "$@"
