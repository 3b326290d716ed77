#!/usr/bin/env bash
# Density stage benchmark (issue 5): the 20-D timing set of ../shared/tools/make_synthetic.py
# --perf N (generated here, with --truth up to 50k points), k = 100, the whole pipeline
# knn,id,density with -density bmti (default solver) on 1 and 2 ranks; side by side in the same run
# with DADApy's compute_kstar + compute_density_BMTI through ../shared/tools/dadapy_ref.py: its
# default sparse direct solver at N <= PM_BENCH_DENSITY_DADAPY_DIRECT_MAX (20000) and
# solver="sp_cg" above, up to PM_BENCH_DENSITY_DADAPY_MAX (50000). Reports the density stage
# (k*, gradients, BMTI) seconds, BMTI assembly / solve seconds and iterations, peak memory per rank,
# and the MSE of each log density against the exact truth (after removing the mean offset).
# Prints a table, writes bench/results/density.json. Asserts nothing.
# Environment: PM_BENCH_DENSITY_SIZES (default "20000 50000 1000000"), PM_BENCH_DENSITY_RANKS
# (default "1 2"), PM_BENCH_DENSITY_BIG (default 200000: sizes above it run only on
# PM_BENCH_DENSITY_BIG_RANKS, default "2", since the exact 20-D kNN graph alone takes ~20 min there).
set -u
cd "$(dirname "$0")/.."
BIN="${BIN:-bin}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
TMP="${BENCH_TMP:-/tmp/phasemap-bench}/density"
SIZES="${PM_BENCH_DENSITY_SIZES:-20000 50000 1000000}"
RANKS="${PM_BENCH_DENSITY_RANKS:-1 2}"
BIG="${PM_BENCH_DENSITY_BIG:-200000}"
BIG_RANKS="${PM_BENCH_DENSITY_BIG_RANKS:-2}"
DA_DIRECT_MAX="${PM_BENCH_DENSITY_DADAPY_DIRECT_MAX:-20000}"
DA_MAX="${PM_BENCH_DENSITY_DADAPY_MAX:-50000}"
TOOLS=../shared/tools
[ -d "$TOOLS" ] || TOOLS=/work/shared/tools
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$TMP" bench/results
LOG="$TMP/density.jsonl"
: >"$LOG"

for n in $SIZES; do
  X="$TMP/perf_gmm20d_N$n.npy"
  truth=""
  [ "$n" -le "$DA_MAX" ] && truth="--truth"
  if [ ! -f "$X" ] || { [ -n "$truth" ] && [ ! -f "$TMP/perf_gmm20d_N${n}_truth.h5" ]; }; then
    "$PY" "$TOOLS/make_synthetic.py" --perf "$n" --out "$TMP" $truth >/dev/null || { echo "make_synthetic failed for N=$n"; exit 1; }
  fi
  ranks="$RANKS"
  [ "$n" -gt "$BIG" ] && ranks="$BIG_RANKS"
  for p in $ranks; do
    out="$TMP/pm_N${n}_np$p.h5"
    rm -f "$out"
    $PM_MPIRUN -n "$p" "$BIN/phasemap" -input "$X" -output "$out" -stages knn,id,density -density bmti -knn_k 100 -force \
      >"$TMP/pm_N${n}_np$p.log" 2>&1 || { echo "phasemap failed at N=$n np=$p (see $TMP/pm_N${n}_np$p.log)"; continue; }
    echo "{\"kind\": \"phasemap\", \"n\": $n, \"ranks\": $p, \"h5\": \"$out\"}" >>"$LOG"
  done
  if [ "$n" -le "$DA_MAX" ]; then
    if [ "$n" -le "$DA_DIRECT_MAX" ]; then step=bmti; else step=bmticg; fi
    "$PY" "$TOOLS/dadapy_ref.py" --input "$X" --output "$TMP/dadapy_N$n.h5" --steps "knn,twonn,kstarnn,$step" --isolate-steps \
      --step-timeout 900 --bmti-err no --bmti-store-graph 0 --json "$TMP/dadapy_N$n.json" >"$TMP/dadapy_N$n.log" 2>&1 ||
      echo "dadapy_ref failed at N=$n (see $TMP/dadapy_N$n.log)"
    echo "{\"kind\": \"dadapy\", \"n\": $n, \"step\": \"$step\", \"h5\": \"$TMP/dadapy_N$n.h5\", \"json\": \"$TMP/dadapy_N$n.json\"}" >>"$LOG"
  fi
done
"$PY" bench/bench_density_report.py "$LOG" "$TMP" bench/results/density.json "${PM_GIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
