#!/usr/bin/env bash
# SOAP benchmark (n_max 8, l_max 6, one species, cutoff 5 A, sigma 0.5 A): the main Cu frame
# (17,280 atoms) tiled REPS x REPS x REPS (default 4: 1,105,920 atoms, the Cu README's numpy
# recipe), built here in BENCH_TMP (not committed); decomposition + neighbour lists + SOAP timed
# on 1 and 2 ranks. Env: BB (bench binaries), PM_MPIRUN, BENCH_TMP, PM_GIT; SOAP_REPS=2 for a
# quick run. Prints a table and writes bench/results/soap.json. Asserts nothing.
set -eu
cd "$(dirname "$0")/.."
BB="${BB:-build/bench}"
BENCH_TMP="${BENCH_TMP:-/tmp/phasemap-bench}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
REPS="${SOAP_REPS:-4}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$BENCH_TMP" bench/results
SRC=/work/shared/data/cu_solid_liquid/cu_slab_17280_T1327.dump.gz
POS="$BENCH_TMP/cu_tiled_${REPS}.bin"
if [ ! -s "$POS" ]; then
  /usr/bin/python3 - "$SRC" "$POS" "$REPS" <<'EOF'
import gzip, sys
import numpy as np
src, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
with gzip.open(src, "rt") as f:
    assert f.readline().startswith("ITEM: TIMESTEP"); f.readline()
    assert f.readline().startswith("ITEM: NUMBER OF ATOMS"); n = int(f.readline())
    assert f.readline().startswith("ITEM: BOX BOUNDS")
    box = np.array([[float(v) for v in f.readline().split()[:2]] for _ in range(3)])
    cols = f.readline().split()[2:]
    ix = [cols.index(c) for c in ("id", "x", "y", "z")]
    rows = np.array([[float(v) for v in f.readline().split()] for _ in range(n)])[:, ix]
rows = rows[np.argsort(rows[:, 0])]
lo, L = box[:, 0], box[:, 1] - box[:, 0]
big = np.vstack([rows[:, 1:4] + np.array([i, j, k]) * L for (i, j, k) in np.ndindex(reps, reps, reps)])
with open(out, "wb") as f:
    np.array([len(big)], dtype=np.int64).tofile(f)
    np.concatenate([lo, lo + reps * L]).astype(np.float64).tofile(f)
    big.astype(np.float64).tofile(f)
print(f"built {out}: {len(big)} atoms")
EOF
fi
declare -A R
for np in 1 2; do
  line=$($PM_MPIRUN -n $np "$BB/bench_soap" -pos "$POS" -soap_nmax 8 -soap_lmax 6 -soap_cutoff 5.0 -soap_sigma 0.5 | grep '^RESULT ' | sed 's/^RESULT //')
  R[$np]="$line"
done
/usr/bin/python3 - "${R[1]}" "${R[2]}" <<'EOF'
import json, sys
r1, r2 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'ranks':>5} {'atoms':>9} {'dim':>4} {'nb/atom':>7} {'total s':>8} {'domain s':>8} {'nlist s':>8} {'soap s':>8} {'cpu s':>7} {'rss MB':>7}")
for r in (r1, r2):
    print(f"{r['ranks']:>5} {r['natoms']:>9} {r['dim']:>4} {r['neighbours_per_atom']:>7.1f} {r['seconds_total']:>8.2f} "
          f"{r['seconds_domain']:>8.2f} {r['seconds_nlist']:>8.2f} {r['seconds_soap']:>8.2f} {r['cpu_seconds_max_rank']:>7.2f} {r['peak_rss_mb_rank0']:>7.0f}")
sp = r1["seconds_total"] / r2["seconds_total"]
print(f"speedup 2 ranks vs 1: {sp:.2f}x (targets: total < 60 s on 2 ranks, speedup >= 1.8); "
      f"cpu-time ratio {r1['cpu_seconds_max_rank'] / r2['cpu_seconds_max_rank']:.2f}x (wall time needs an idle machine)")
import os
load = os.getloadavg()[0]
print(f"machine load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")
json.dump({"bench": "soap", "git": r1["git"], "runs": [r1, r2], "speedup_2_vs_1": sp,
           "cpu_speedup_2_vs_1": r1["cpu_seconds_max_rank"] / r2["cpu_seconds_max_rank"], "load_average_1min": load}, open("bench/results/soap.json", "w"), indent=1)
EOF
