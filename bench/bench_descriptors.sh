#!/usr/bin/env bash
# Descriptors benchmark (Steinhardt part): the main Cu frame (17,280 atoms) tiled
# REPS x REPS x REPS (default 4: 1,105,920 atoms, the Cu README's numpy recipe) and written as a
# LAMMPS text dump in BENCH_TMP (built here, not committed). Then
#   phasemap -stages descriptors (Steinhardt l = 4,6,8,10,12, 12 nearest within 5.50679 A)
# on 1 and 2 ranks: "read + Steinhardt" = the Input stage (frame index scan) + the descriptors
# stage (read, decomposition, neighbour lists, q_l, redistribution) without the /atoms output
# (its time is listed apart), from -log_view; plus the whole process wall and CPU time per rank.
# Env: BIN, PM_MPIRUN, BENCH_TMP, PM_GIT; DESC_REPS=2 for a quick run; DESC_WL=1 adds w_l, w^_l.
# Prints a table and writes bench/results/descriptors.json. Asserts nothing.
set -eu
cd "$(dirname "$0")/.."
BIN="${BIN:-bin}"
BENCH_TMP="${BENCH_TMP:-/tmp/phasemap-bench}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none}"
PM_GIT="${PM_GIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
REPS="${DESC_REPS:-4}"
WL="${DESC_WL:-0}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$BENCH_TMP" bench/results
SRC=/work/shared/data/cu_solid_liquid/cu_slab_17280_T1327.dump.gz
DUMP="$BENCH_TMP/cu_tiled_${REPS}.dump"
if [ ! -s "$DUMP" ]; then
  /usr/bin/python3 - "$SRC" "$DUMP" "$REPS" <<'EOF'
import gzip, sys
import numpy as np
src, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
with gzip.open(src, "rt") as f:
    assert f.readline().startswith("ITEM: TIMESTEP"); step = int(f.readline())
    assert f.readline().startswith("ITEM: NUMBER OF ATOMS"); n = int(f.readline())
    assert f.readline().startswith("ITEM: BOX BOUNDS")
    box = np.array([[float(v) for v in f.readline().split()[:2]] for _ in range(3)])
    cols = f.readline().split()[2:]
    ix = [cols.index(c) for c in ("id", "type", "x", "y", "z")]
    rows = np.array([f.readline().split() for _ in range(n)], dtype=float)[:, ix]
lo, hi = box[:, 0], box[:, 1]
L = hi - lo
out_rows = []
for k, (i, j, l) in enumerate(np.ndindex(reps, reps, reps)):
    r = rows.copy()
    r[:, 0] += k * n                       # new ids: copy k of atom id is id + k n
    r[:, 2:5] += np.array([i, j, l]) * L   # shifted by whole box lengths
    out_rows.append(r)
big = np.vstack(out_rows)
with open(out, "w") as f:
    f.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(big)}\nITEM: BOX BOUNDS pp pp pp\n")
    for d in range(3):
        f.write(f"{lo[d]:.17g} {lo[d] + reps * L[d]:.17g}\n")
    f.write("ITEM: ATOMS id type x y z\n")
    np.savetxt(f, big, fmt=["%d", "%d", "%.12g", "%.12g", "%.12g"])
print(f"built {out}: {len(big)} atoms")
EOF
fi
extra=""
[ "$WL" = 1 ] && extra="-steinhardt_wl"
declare -A T
for np in 1 2; do
  out="$BENCH_TMP/desc_np$np.h5"
  log="$BENCH_TMP/desc_np$np.log"
  rm -f "$out"
  t0=$(date +%s.%N)
  rm -f "$BENCH_TMP"/cpu_np$np.*
  # per-rank CPU seconds (user + sys) next to the wall clock: the machine may be shared
  $PM_MPIRUN -n $np sh -c 'exec /usr/bin/time -f "%U %S" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$BENCH_TMP/cpu_np$np" "$BIN/phasemap" -input "$DUMP" -output "$out" -stages descriptors -descriptor steinhardt \
    -steinhardt_l 4,6,8,10,12 -steinhardt_cutoff 5.50679 -steinhardt_nnn 12 $extra -log_view >"$log" 2>&1
  t1=$(date +%s.%N)
  T[$np]="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
  rm -f "$out"
done
/usr/bin/python3 - "$BENCH_TMP" "$REPS" "$WL" "$PM_GIT" "${T[1]}" "${T[2]}" <<'EOF'
import json, re, sys
tmp, reps, wl, git, w1, w2 = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
def parse(np_):
    txt = open(f"{tmp}/desc_np{np_}.log").read()
    st = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^\s*\d+:\s+([^:]+):\s+([0-9.e+-]+)", txt, re.M)}
    ev = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(Pm\w+)\s+\d+\s+[0-9.]+\s+([0-9.e+-]+)", txt, re.M)}
    natoms = int(re.search(r"(\d+) atoms in", txt).group(1))
    rss = re.search(r"descriptors\s+[0-9.]+\s+(\d+)", txt)
    r = {"ranks": np_, "natoms": natoms, "seconds_input": st.get("Input", 0.0), "seconds_descriptors": st.get("Stage descriptors", 0.0),
         "seconds_read": ev.get("PmTrajRead", 0.0), "seconds_domain": ev.get("PmDescDomain", 0.0), "seconds_nlist": ev.get("PmDescNlist", 0.0),
         "seconds_steinhardt": ev.get("PmDescSteinh", 0.0), "seconds_redist": ev.get("PmDescRedist", 0.0), "seconds_write": ev.get("PmDescWrite", 0.0),
         "peak_mib_per_rank": int(rss.group(1)) if rss else None}
    # "read + Steinhardt": frame index scan + the stage without the HDF5 output (reported apart)
    r["seconds_read_plus_steinhardt"] = r["seconds_input"] + r["seconds_descriptors"] - r["seconds_write"]
    cpu = []
    for k in range(np_):
        try:
            u, s_ = open(f"{tmp}/cpu_np{np_}.{k}").read().split()[-2:]
            cpu.append(float(u) + float(s_))
        except (OSError, ValueError):
            pass
    r["cpu_seconds_max_rank"] = max(cpu) if cpu else None
    return r
r1, r2 = parse(1), parse(2)
r1["seconds_wall_process"], r2["seconds_wall_process"] = w1, w2
print(f"{'ranks':>5} {'atoms':>8} {'scan':>6} {'read':>6} {'domain':>6} {'nlist':>6} {'q_l':>6} {'redist':>6} {'write':>6} {'read+St':>8} {'wall':>6} {'cpu/rk':>6} {'MiB/rk':>6}")
for r in (r1, r2):
    print(f"{r['ranks']:>5} {r['natoms']:>8} {r['seconds_input']:>6.2f} {r['seconds_read']:>6.2f} {r['seconds_domain']:>6.2f} {r['seconds_nlist']:>6.2f} "
          f"{r['seconds_steinhardt']:>6.2f} {r['seconds_redist']:>6.2f} {r['seconds_write']:>6.2f} {r['seconds_read_plus_steinhardt']:>8.2f} "
          f"{r['seconds_wall_process']:>6.2f} {r['cpu_seconds_max_rank'] or 0:>6.2f} {r['peak_mib_per_rank'] or 0:>6}")
sp = r1["seconds_read_plus_steinhardt"] / r2["seconds_read_plus_steinhardt"]
cpu_sp = (r1["cpu_seconds_max_rank"] / r2["cpu_seconds_max_rank"]) if r1["cpu_seconds_max_rank"] and r2["cpu_seconds_max_rank"] else None
print(f"speedup 2 ranks vs 1 (read + Steinhardt, wall): {sp:.2f}x; whole-process CPU of the busiest rank: "
      f"{cpu_sp or 0:.2f}x; targets: < 20 s on 2 cores for 1.1M atoms, speedup >= 1.8"
      f"{' (w_l included)' if wl else ''}. Wall times need an otherwise idle machine (load now: {open('/proc/loadavg').read().split()[0]})")
json.dump({"bench": "descriptors", "git": git, "reps": reps, "steinhardt_l": [4, 6, 8, 10, 12], "wl": wl, "cutoff": 5.50679, "nnn": 12,
           "runs": [r1, r2], "speedup_2_vs_1": sp, "cpu_speedup_2_vs_1": cpu_sp, "loadavg": open("/proc/loadavg").read().split()[0]}, open("bench/results/descriptors.json", "w"), indent=1)
EOF
