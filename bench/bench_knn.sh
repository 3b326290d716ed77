#!/usr/bin/env bash
# kNN graph benchmark (issue 4). D = 20, k = 100, data generated here:
#   lowdim  (a) 6-D Gaussian mixture mapped into 20-D by a random orthonormal map
#   perf    (b) ../shared/tools/make_synthetic.py --perf N (5 Gaussians, 6 broad + 14 narrow dirs)
#   uniform (c) uniform in [0,1]^20
# phasemap (bench/bench_knn.c driver, -knn_method auto, one BLAS thread per rank) on 1 and 2 ranks;
# OpenBLAS dgemm of the kernel's tile shape measured in the same run; scikit-learn
# NearestNeighbors (best of auto and brute, n_jobs=2, two BLAS threads) up to 100k points.
# Prints a table, writes bench/results/knn.json. Asserts nothing.
# Environment: PM_BENCH_KNN_SIZES (default "20000 100000 1000000"), PM_BENCH_KNN_SETS
# (default "lowdim perf uniform"), PM_BENCH_KNN_SKLEARN_MAX (default 100000),
# PM_BENCH_KNN_BRUTE_MAX (default 1000000: larger N of a set whose auto choice is brute force is
# skipped; uniform 1M takes ~8 min on 1 rank and 4 on 2; 100000 skips the 1M brute-force runs),
# PM_BENCH_KNN_EXTRA
# (a JSON-lines file of measurements made separately, merged into the report), PM_BENCH_KNN_REPEAT
# (default 3: phasemap runs per configuration up to PM_BENCH_KNN_REPEAT_MAX = 100000 points, the
# fastest reported, and the median beside it; scikit-learn is timed twice, auto and brute, which
# are the same algorithm at D = 20, and its best is reported), PM_BENCH_KNN_REPEAT_SMALL (default 9:
# the runs up to PM_BENCH_KNN_SMALL_MAX = 20000 points, which take well under a second each and
# vary most from run to run on a shared machine), PM_BENCH_KNN_OUT (default bench/results/knn.json).
set -u
cd "$(dirname "$0")/.."
BB="${BB:-build/bench}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
TMP="${BENCH_TMP:-/tmp/phasemap-bench}/knn"
GIT="${PM_GIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
SIZES="${PM_BENCH_KNN_SIZES:-20000 100000 1000000}"
SETS="${PM_BENCH_KNN_SETS:-lowdim perf uniform}"
SK_MAX="${PM_BENCH_KNN_SKLEARN_MAX:-100000}"
BRUTE_MAX="${PM_BENCH_KNN_BRUTE_MAX:-1000000}"
REPEAT="${PM_BENCH_KNN_REPEAT:-3}"          # phasemap runs per configuration up to REP_MAX points:
REP_MAX="${PM_BENCH_KNN_REPEAT_MAX:-100000}" # the fastest is reported (this machine is noisy)
REP_SMALL="${PM_BENCH_KNN_REPEAT_SMALL:-9}"  # ... and more runs of the small sizes
SMALL_MAX="${PM_BENCH_KNN_SMALL_MAX:-20000}"
OUT="${PM_BENCH_KNN_OUT:-bench/results/knn.json}"
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mkdir -p "$TMP" bench/results
LOG="$TMP/knn.jsonl"
: >"$LOG"

data() { # set N -> path of the .npy (generated once)
  local f
  case "$1" in
    perf) f="$TMP/perf_gmm20d_N$2.npy"
          [ -f "$f" ] || "$PY" ../shared/tools/make_synthetic.py --perf "$2" --out "$TMP" >/dev/null 2>&1 ||
                         "$PY" /work/shared/tools/make_synthetic.py --perf "$2" --out "$TMP" >/dev/null ;;
    *) f="$TMP/$1_N$2.npy"; [ -f "$f" ] || "$PY" bench/bench_knn_data.py "$1" "$2" "$f" ;;
  esac
  echo "$f"
}

declare -A auto_method
for set in $SETS; do
  for n in $SIZES; do
    if [ "${auto_method[$set]:-}" = brute ] && [ "$n" -gt "$BRUTE_MAX" ]; then
      echo "# $set N=$n skipped: brute force (PM_BENCH_KNN_BRUTE_MAX=$BRUTE_MAX)"
      continue
    fi
    f=$(data "$set" "$n") || { echo "# data generation failed for $set $n"; continue; }
    reps=1; [ "$n" -le "$REP_MAX" ] && reps="$REPEAT"; [ "$n" -le "$SMALL_MAX" ] && reps="$REP_SMALL"
    for rep in $(seq "$reps"); do # 1 and 2 ranks alternate, so a slow spell of the machine hits both
      for np in 1 2; do
        line=$(OPENBLAS_NUM_THREADS=1 $PM_MPIRUN -n "$np" "$BB/bench_knn" -input "$f" -knn_k 100 -knn_method auto -quiet 2>&1 | grep '^RESULT' | sed 's/^RESULT //')
        if [ -z "$line" ]; then echo "# phasemap failed: $set N=$n np=$np"; continue; fi
        echo "{\"kind\": \"phasemap\", \"set\": \"$set\", ${line#\{}" >>"$LOG"
        echo "# $set N=$n np=$np: $line"
        auto_method[$set]=$(echo "$line" | sed 's/.*"method": "\([a-z]*\)".*/\1/')
      done
    done
    if [ "$n" -le "$SK_MAX" ]; then
      sk=$(OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$PY" bench/bench_knn_sklearn.py "$f" 100 2>/dev/null | grep '^SKLEARN' | sed 's/^SKLEARN //')
      if [ -n "$sk" ]; then
        echo "{\"kind\": \"sklearn\", \"set\": \"$set\", \"n\": $n, ${sk#\{}" >>"$LOG"
        echo "# $set N=$n sklearn: $sk"
      fi
    fi
  done
done
# measurements made separately (e.g. a 1M brute-force run, ~10 min on 2 ranks) in the same JSON-lines
# form, merged into the report
if [ -n "${PM_BENCH_KNN_EXTRA:-}" ] && [ -f "$PM_BENCH_KNN_EXTRA" ]; then cat "$PM_BENCH_KNN_EXTRA" >>"$LOG"; fi
"$PY" bench/bench_knn_report.py "$LOG" "$OUT" "$GIT"
