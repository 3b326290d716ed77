#!/usr/bin/env bash
# End to end: bin/phasemap -stages knn,density,cluster on the reference sets (PAk density with
# -density_id = the reference id_used) against DADApy's DPA (K, centres, ARI 1, saddles 1e-9), the
# labels identical on 1, 2 and 3 ranks; classic DP on gmm2d (4 clusters, decision graph files).
set -eu
cd "$(dirname "$0")/../.."
BIN="${BIN:-bin}"
MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm_dpa_e2e.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
R=tests/data/reference
idof() { /usr/bin/python3 -c "import h5py; print(repr(float(h5py.File('$R/$1_dadapy_ref.h5')['density/pak'].attrs['id_used'])))"; }
run() { # set np Z halo-flag out
  $MPIRUN -n "$2" "$BIN/phasemap" -input "$R/$1.npy" -output "$5" -force -quiet -stages knn,density,cluster \
    -knn_k 100 -density pak -cluster_density pak -density_id "$(idof "$1")" -dpa_z "$3" $4
}
run gmm2d 1 1.65 "" "$tmp/g1.h5"
run gmm2d 2 1.65 "" "$tmp/g2.h5"
run gmm2d 3 1.65 "" "$tmp/g3.h5"
run swissroll10d 2 1.65 "-dpa_halo" "$tmp/s165h.h5"
run swissroll10d 3 3 "" "$tmp/s3.h5"
for n in 1 3; do # BMTI (default density): its solve rounds with the partition -> same clusters, ARI >= 0.999
  $MPIRUN -n $n "$BIN/phasemap" -input "$R/gmm2d.npy" -output "$tmp/b$n.h5" -force -quiet -stages knn,density,cluster \
    -knn_k 100 -density bmti -density_id "$(idof gmm2d)"
done
$MPIRUN -n 2 "$BIN/phasemap" -input "$R/gmm2d.npy" -output "$tmp/dp.h5" -force -quiet -stages knn,density,cluster \
  -knn_k 100 -density pak -cluster_density pak -density_id "$(idof gmm2d)" -cluster_method dp
/usr/bin/python3 - "$tmp" <<'PY'
import os, sys, h5py, numpy as np
from sklearn.metrics import adjusted_rand_score as ari
t, R = sys.argv[1], "tests/data/reference"
bad = 0
def check(cond, msg):
    global bad
    print(("ok     " if cond else "not ok ") + msg)
    bad += not cond
def vs_dadapy(path, name, grp):
    f, r = h5py.File(path), h5py.File(f"{R}/{name}_dadapy_ref.h5")
    c, g = f["clusters"], r["dpa/" + grp]
    K = int(c.attrs["n_clusters"])
    check(K == int(g.attrs["N_clusters"]), f"{path}: K {K} vs DADApy {int(g.attrs['N_clusters'])}")
    a = ari(g["cluster_assignment"][...], c["label"][...])
    check(a == 1.0, f"{path}: ARI vs DADApy {a}")
    dc = list(g["cluster_centers"][...]); cen = list(c["center"][...])
    check(sorted(dc) == sorted(cen), f"{path}: centres {cen} vs {dc}")
    if sorted(dc) == sorted(cen):
        m = [dc.index(x) for x in cen]
        B = g["log_den_bord"][...][np.ix_(m, m)]
        check(np.abs(c["saddle_log_density"][...] - B).max() <= 1e-9, f"{path}: saddle matrix vs log_den_bord")
        check((c["border_index"][...] == g["bord_indices"][...][np.ix_(m, m)]).all(), f"{path}: border indices")
for n in (1, 2, 3):
    vs_dadapy(f"{t}/g{n}.h5", "gmm2d", "Z1.65")
l1 = h5py.File(f"{t}/g1.h5")["clusters/label"][...]
for n in (2, 3):
    check((h5py.File(f"{t}/g{n}.h5")["clusters/label"][...] == l1).all(), f"gmm2d labels identical on 1 and {n} ranks")
vs_dadapy(f"{t}/s165h.h5", "swissroll10d", "Z1.65_halo")
vs_dadapy(f"{t}/s3.h5", "swissroll10d", "Z3")
b1, b3 = (h5py.File(f"{t}/b{n}.h5")["clusters"] for n in (1, 3))
check(b1.attrs["density"] == b"bmti" and int(b1.attrs["n_clusters"]) == int(b3.attrs["n_clusters"]) and ari(b1["label"][...], b3["label"][...]) >= 0.999,
      f"BMTI density: {int(b1.attrs['n_clusters'])} / {int(b3.attrs['n_clusters'])} clusters on 1 / 3 ranks, ARI {ari(b1['label'][...], b3['label'][...]):.5f}")
d = h5py.File(f"{t}/dp.h5")["clusters"]
truth = h5py.File(f"{R}/gmm2d_truth.h5")["labels"][...]
check(int(d.attrs["n_clusters"]) == 4 and ari(truth, d["label"][...]) > 0.98, f"DP on gmm2d: {int(d.attrs['n_clusters'])} clusters, ARI vs truth {ari(truth, d['label'][...]):.4f}")
check(os.path.getsize(f"{t}/dp_decision_graph.dat") == 96 * 5001, "DP decision graph table: header + one fixed-width line per point")
check(os.path.exists(f"{t}/dp_decision_graph.png") or os.system("command -v gnuplot >/dev/null") != 0, "DP decision graph PNG (gnuplot installed)")
print(f"{bad} failed")
sys.exit(1 if bad else 0)
PY
