# shellcheck shell=bash
# Sourced as ". scripts/blas-env.sh [PHASEMAP]" by bench/run.sh, scripts/demo.sh and the job
# scripts. Where OPENBLAS_CORETYPE is unset and phasemap (default bin/phasemap, run once on its
# own with -help) warns that OpenBLAS runs kernels for a narrower vector extension than this
# processor has (a processor model newer than the library: src/core/blas.c), this exports the
# OPENBLAS_CORETYPE it advises and says so. Anything else (a value already set, no advice, a
# phasemap that fails to start) leaves the environment as it is; safe under set -euo pipefail.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "${1:-bin/phasemap}" ]; then
  pm_blas_core=$(timeout 30 "${1:-bin/phasemap}" -help </dev/null 2>&1 | sed -n 's/.*export OPENBLAS_CORETYPE=\([A-Za-z0-9_]*\).*/\1/p' | head -n 1 || true)
  if [ -n "$pm_blas_core" ]; then
    export OPENBLAS_CORETYPE="$pm_blas_core"
    echo "blas-env: OpenBLAS does not know this processor; exported OPENBLAS_CORETYPE=$pm_blas_core" >&2
  fi
  unset pm_blas_core
fi
