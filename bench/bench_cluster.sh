#!/usr/bin/env bash
# Clustering benchmark: DPA on N points (default 1,000,000) of 5 Gaussians in 3-D generated inside
# bench_cluster, after the exact kNN graph (k = 30) and the density (default BMTI; CLUSTER_DENSITY=
# kstarnn|pak|knn for a quicker run). Timed on 1 and 2 ranks: cluster-stage wall and CPU seconds, the
# DPA steps, pointer-jumping rounds, peak memory. Env: CLUSTER_N, CLUSTER_K, CLUSTER_DENSITY, BB,
# PM_MPIRUN, PM_GIT. Prints a table and writes bench/results/cluster.json. Asserts nothing.
set -eu
cd "$(dirname "$0")/.."
BB="${BB:-build/bench}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
N="${CLUSTER_N:-1000000}"
K="${CLUSTER_K:-30}"
DEN="${CLUSTER_DENSITY:-bmti}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p bench/results
LOG="${BENCH_TMP:-/tmp/phasemap-bench}/cluster_bench.log"
mkdir -p "$(dirname "$LOG")"; : > "$LOG"
for np in 1 2; do
  $PM_MPIRUN -n $np "$BB/bench_cluster" -n "$N" -k "$K" -density "$DEN" -cluster_density "$DEN" -quiet | tee -a "$LOG" | grep '^RESULT ' || true
done
R1=$(grep '^RESULT ' "$LOG" | sed -n 1p | sed 's/^RESULT //')
R2=$(grep '^RESULT ' "$LOG" | sed -n 2p | sed 's/^RESULT //')
/usr/bin/python3 - "$R1" "$R2" <<'PY'
import json, sys
runs = [json.loads(a) for a in sys.argv[1:]]
print(f"{'ranks':>5} {'N':>8} {'density':>8} {'knn s':>7} {'dens s':>7} {'DPA s':>7} {'DPA cpu':>7} {'peaks':>6} {'assign':>6} {'saddle':>6} {'merge':>6} {'rounds':>6} {'K':>4} {'K pre':>6} {'ARI':>6} {'RSS MB':>7}")
for r in runs:
    print(f"{r['ranks']:>5} {r['n']:>8} {r['density']:>8} {r['seconds_knn']:>7.1f} {r['seconds_density']:>7.1f} {r['seconds_cluster']:>7.2f} "
          f"{r['cpu_seconds_cluster_max_rank']:>7.2f} {r['seconds_peaks']:>6.2f} {r['seconds_assign']:>6.2f} {r['seconds_saddles']:>6.2f} "
          f"{r['seconds_merge']:>6.2f} {r['pointer_jumping_rounds']:>6} {r['clusters']:>4} {r['clusters_before_merging']:>6} {r['ari_vs_truth']:>6.3f} {r['peak_rss_mb_max_rank']:>7.0f}")
print("target: clustering stage < 10 s at N = 1M on 2 cores (wall time is only meaningful on an idle machine; see cpu)")
json.dump({"bench": "cluster", "git": runs[0]["git"], "runs": runs}, open("bench/results/cluster.json", "w"), indent=1)
PY
