#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh (each prints a table and writes bench/results/*.json).
# BENCH=regex selects scripts; sizes are reduced by each script's PM_BENCH_* variables (see the
# script headers); PM_BENCH_STUDY=1 also runs the parameter studies (bench/*_study.sh).
set -u
cd "$(dirname "$0")/.."
export BIN="${BIN:-bin}" BB="${BB:-build/bench}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export PATH="/usr/bin:$PATH"  # Debian python3 (numpy, h5py) even where another python comes first
export PM_MPIRUN="mpirun --oversubscribe --bind-to none -mca btl self,vader -mca mpi_yield_when_idle 1"
export PM_GIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
export BENCH_TMP="${BENCH_TMP:-${TMPDIR:-/tmp}/phasemap-bench}"
mkdir -p bench/results "$BENCH_TMP"
# the drivers are built by `make bench`: without them every run would fail after minutes of peers
for d in "$BIN/phasemap" $(for c in bench/*.c; do c=${c##*/}; echo "$BB/${c%.c}"; done); do
  if [ ! -x "$d" ]; then echo "bench/run.sh: $d is missing; run 'make bench' (it builds the drivers first)" >&2; exit 2; fi
done
# where OpenBLAS does not know the processor, the kernels phasemap advises, for phasemap and the
# peers alike (scikit-learn and NumPy load the same OpenBLAS)
. scripts/blas-env.sh "$BIN/phasemap"
status=0
for b in bench/bench_*.sh; do
  if [ -n "${BENCH:-}" ] && ! [[ "$b" =~ $BENCH ]]; then continue; fi
  # parameter studies take much longer than the benchmarks: only on request
  if [[ "$b" == *_study.sh ]] && [ -z "${PM_BENCH_STUDY:-}" ] && [ -z "${BENCH:-}" ]; then
    echo "== $b skipped (set PM_BENCH_STUDY=1 or BENCH=study to run it; over 30 min)"; continue
  fi
  echo "== $b"
  bash "$b" || { echo "bench $b failed"; status=1; }
done
exit $status
