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
# Probe errors (off by default: ~2-5 min more at 1M on 2 cores): PM_BENCH_DENSITY_PROBE=1 times
# -bmti_errors probe (default probes) on PM_BENCH_DENSITY_PROBE_RANKS (default 2) ranks at
# PM_BENCH_DENSITY_PROBE_SIZES (default: the largest size), through build/tests/mpi/test_bmti_driver
# fed with the graph, k* and k*NN density of the phasemap run above at that size (no second kNN);
# adds "probe" rows (probe wall s, CPU s per rank, solves, CG iterations, peak MiB per rank) to
# bench/results/density.json. E.g. PM_BENCH_DENSITY_PROBE=1 PM_BENCH_DENSITY_SIZES=1000000 BENCH=density bench/run.sh
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
rc=$?
[ "${PM_BENCH_DENSITY_PROBE:-0}" = 1 ] || exit $rc
PSIZES="${PM_BENCH_DENSITY_PROBE_SIZES:-$(for n in $SIZES; do echo "$n"; done | sort -n | tail -1)}"
PRANKS="${PM_BENCH_DENSITY_PROBE_RANKS:-2}"
DRIVER="${TB:-build/tests}/mpi/test_bmti_driver"
PLOG="$TMP/probe.jsonl"
: >"$PLOG"
for n in $PSIZES; do
  h5=""
  for p in $RANKS $BIG_RANKS; do [ -f "$TMP/pm_N${n}_np$p.h5" ] && h5="$TMP/pm_N${n}_np$p.h5"; done
  [ -n "$h5" ] || { echo "probe: no phasemap output for N=$n (add $n to PM_BENCH_DENSITY_SIZES)"; continue; }
  raw="$TMP/probe_N$n"
  mkdir -p "$raw/out"
  # driver inputs: neighbour rows with column 0 = self, coordinates, k*, k*NN log density and error
  "$PY" - "$h5" "$TMP/perf_gmm20d_N$n.npy" "$raw" <<'PYEOF' || { echo "probe: cannot prepare N=$n"; continue; }
import sys, numpy as np, h5py
h5, xf, d = sys.argv[1:4]
with h5py.File(h5, "r") as f:
    ki = f["graph/knn_index"]
    N, k = ki.shape
    with open(d + "/ind.bin", "wb") as o:
        for c0 in range(0, N, 100000):
            b = ki[c0:c0 + 100000]
            rows = np.empty((b.shape[0], k + 1), "<i8")
            rows[:, 0] = np.arange(c0, c0 + b.shape[0])
            rows[:, 1:] = b
            rows.tofile(o)
    f["density/kstarnn/kstar"][:].astype("<i8").tofile(d + "/kstar.bin")
    f["density/kstarnn/log_density"][:].astype("<f8").tofile(d + "/kl.bin")
    f["density/kstarnn/error"][:].astype("<f8").tofile(d + "/ke.bin")
    idv = float(f["density"].attrs["id_used"])
X = np.load(xf, mmap_mode="r")
np.ascontiguousarray(X, dtype="<f8").tofile(d + "/x.bin")
open(d + "/args", "w").write(f"-dir {d} -N {N} -ncol {k + 1} -D {X.shape[1]} -id {idv!r}\n")
PYEOF
  /usr/bin/time -f "%e %M" -o "$raw/time" $PM_MPIRUN -n "$PRANKS" "$DRIVER" $(cat "$raw/args") -out "$raw/out" -bmti_errors probe -info :sys \
    >"$TMP/probe_N$n.log" 2>&1 || { echo "probe failed at N=$n (see $TMP/probe_N$n.log)"; continue; }
  "$PY" - "$TMP/probe_N$n.log" "$raw/time" "$n" "$PRANKS" >>"$PLOG" <<'PYEOF'
import json, re, sys
log, tf, n, p = sys.argv[1:5]
t = open(log).read()
m = re.search(r"errors \(probe\) ([0-9.]+) s", t)
info = re.findall(r"BMTI probe: (\d+) sketch \((\d+) kept\) and (\d+) Hutchinson vectors, (\d+) solves, (\d+) iterations \(rtol ([0-9.e+-]+)\), ([0-9.]+) CPU s", t)
wall, rss = open(tf).read().split()[-2:]
print(json.dumps({"kind": "probe", "n": int(n), "ranks": int(p), "probe_seconds": float(m.group(1)) if m else None,
                  "probe_cpu_seconds_per_rank": max(float(i[6]) for i in info) if info else None,
                  "solves": int(info[0][3]) if info else None, "iterations": int(info[0][4]) if info else None,
                  "rtol": float(info[0][5]) if info else None, "driver_wall_seconds": float(wall), "peak_rss_mib_per_rank": int(rss) / 1024}))
PYEOF
done
"$PY" - "$PLOG" bench/results/density.json <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = json.load(open(sys.argv[2]))
d["probe"] = rows
json.dump(d, open(sys.argv[2], "w"), indent=1)
print("\n-bmti_errors probe (default probes): N, ranks, probe wall s, CPU s per rank, solves, CG iterations, peak MiB/rank")
for r in rows:
    print(r["n"], r["ranks"], r["probe_seconds"], r["probe_cpu_seconds_per_rank"], r["solves"], r["iterations"], round(r["peak_rss_mib_per_rank"]))
PYEOF
