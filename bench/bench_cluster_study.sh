#!/usr/bin/env bash
# "Beyond DADApy" study (issue 6): on the 20-D mixture of 5 Gaussians (make_synthetic.py --perf N),
# run phasemap (knn k=100, id, all four densities), then DPA on each estimator for several Z, and
# report the number of clusters and the adjusted Rand index against the generating components.
# Env: STUDY_N (default "5000 20000 50000 100000"), STUDY_Z (default "1.65 2 3 4"), BIN, BB, PM_MPIRUN,
# BENCH_TMP, STUDY_NP (ranks, default 2). Writes bench/results/cluster_study.json. Asserts nothing.
set -eu
cd "$(dirname "$0")/.."
BIN="${BIN:-bin}"; BB="${BB:-build/bench}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
T="${BENCH_TMP:-/tmp/phasemap-bench}/cluster_study"
NS="${STUDY_N:-5000 20000 50000 100000}"; ZS="${STUDY_Z:-1.65 2 3 4}"; NP="${STUDY_NP:-2}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$T" bench/results
rows="$T/rows.txt"; : > "$rows"
for N in $NS; do
  [ -s "$T/perf_gmm20d_N$N.npy" ] || /usr/bin/python3 ../shared/tools/make_synthetic.py --perf "$N" --out "$T" >/dev/null
  out="$T/pm_N$N.h5"
  if [ ! -s "$out" ]; then
    $PM_MPIRUN -n "$NP" "$BIN/phasemap" -input "$T/perf_gmm20d_N$N.npy" -output "$out" -force -quiet \
      -stages knn,id,density -knn_k 100 -density knn,kstarnn,pak,bmti >"$T/pm_N$N.log" 2>&1
  fi
  raw="$T/raw_N$N"; mkdir -p "$raw"
  /usr/bin/python3 - "$out" "$raw" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); d = sys.argv[2]
ind = f["graph/knn_index"][...].astype("<i8"); n, k = ind.shape
np.hstack([np.arange(n, dtype="<i8")[:, None], ind]).tofile(d + "/ind.i64")
f["density/kstarnn/kstar"][...].astype("<i8").tofile(d + "/kstar.i64")
for e in ("knn", "kstarnn", "pak", "bmti"):
    f[f"density/{e}/log_density"][...].astype("<f8").tofile(f"{d}/{e}_log_den.f64")
    f[f"density/{e}/error"][...].astype("<f8").tofile(f"{d}/{e}_err.f64")
open(d + "/meta.txt", "w").write(f"{n} {k + 1}\n")
PY
  for den in knn kstarnn pak bmti; do
    for Z in $ZS; do
      r=$($PM_MPIRUN -n "$NP" "$BB/bench_cluster_raw" -dir "$raw" -den "$den" -dpa_z "$Z" -out "$raw/lab_${den}_$Z.i64" | grep '^RESULT')
      echo "$N $den $Z $r" >> "$rows"
    done
  done
done
/usr/bin/python3 - "$rows" "$T" <<'PY'
import json, sys, numpy as np
from sklearn.metrics import adjusted_rand_score as ari
res = []
for line in open(sys.argv[1]):
    w = line.split(); N, den, Z = int(w[0]), w[1], w[2]
    K, Kpre, sec = int(w[5]), int(w[7]), float(w[9])
    lab = np.fromfile(f"{sys.argv[2]}/raw_N{N}/lab_{den}_{Z}.i64", dtype="<i8")
    truth = np.load(f"{sys.argv[2]}/perf_gmm20d_N{N}_labels.npy")
    res.append(dict(N=N, density=den, Z=float(Z), clusters=K, clusters_before_merging=Kpre, ari=float(ari(truth, lab)), seconds=sec))
Ns = sorted({r["N"] for r in res}); combos = sorted({(r["density"], r["Z"]) for r in res})
print(f"{'density':>8} {'Z':>5} " + " ".join(f"{'K@'+str(n):>8} {'ARI':>6}" for n in Ns))
for den, Z in combos:
    cells = []
    for n in Ns:
        r = [x for x in res if x["N"] == n and x["density"] == den and x["Z"] == Z][0]
        cells.append(f"{r['clusters']:>8} {r['ari']:>6.3f}")
    print(f"{den:>8} {Z:>5.2f} " + " ".join(cells))
json.dump({"bench": "cluster_study", "truth_clusters": 5, "runs": res}, open("bench/results/cluster_study.json", "w"), indent=1)
PY
