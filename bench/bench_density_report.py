#!/usr/bin/python3
"""Table and JSON of bench/bench_density.sh. Args: runs.jsonl tmpdir out.json git."""
import json, os, sys
import numpy as np
import h5py

log, tmp, out, git = sys.argv[1:5]
runs = [json.loads(l) for l in open(log) if l.strip()]


def truth(n):
    p = os.path.join(tmp, f"perf_gmm20d_N{n}_truth.h5")
    if not os.path.exists(p):
        return None
    with h5py.File(p, "r") as f:
        return f["log_density"][:]


def mse(a, t):
    if t is None or a is None or not np.all(np.isfinite(a)):
        return None
    e = a - t
    e = e - e.mean()
    return float(np.mean(e * e))


rows = []
for r in runs:
    n, t = r["n"], truth(r["n"])
    if r["kind"] == "phasemap":
        with h5py.File(r["h5"], "r") as f:
            names = f["run"].attrs["stage_names"].decode().split(",")
            sec = dict(zip(names, f["run/stage_seconds"][:]))
            rss = dict(zip(names, f["run/stage_peak_rss_bytes"][:]))
            a = dict(f["density/bmti"].attrs)
            ld, kl = f["density/bmti/log_density"][:], f["density/kstarnn/log_density"][:]
        rows.append({"kind": "phasemap", "n": n, "ranks": r["ranks"], "knn_seconds": float(sec["knn"]), "density_seconds": float(sec["density"]),
                     "bmti_assemble_seconds": float(a["assemble_seconds"]), "bmti_solve_seconds": float(a["solve_seconds"]),
                     "bmti_seconds": float(a["total_seconds"]), "iterations": int(a["iterations"]),
                     "solver": f"{a['ksp_type'].decode()}/{a['pc_type'].decode()}", "edges": int(a["n_edges"]),
                     "peak_rss_mib_per_rank": float(max(rss.values())) / 2**20, "mse_bmti": mse(ld, t), "mse_kstarnn": mse(kl, t)})
    else:
        if not os.path.exists(r["json"]):
            continue
        js = json.load(open(r["json"]))["steps"]
        st = js.get(r["step"], {})
        ld = None
        if os.path.exists(r["h5"]):
            with h5py.File(r["h5"], "r") as f:
                ds = "density/bmti/log_den" if r["step"] == "bmti" else "density/bmti_cg/log_den"
                ld = f[ds][:] if ds in f else None
        ok = st.get("status") == "ok" and js.get("kstarnn", {}).get("status") == "ok"
        dens = (js["kstarnn"]["seconds"] + st["seconds"]) if ok else None
        rows.append({"kind": "dadapy", "n": n, "ranks": 1, "solver": "sp_direct" if r["step"] == "bmti" else "sp_cg", "status": st.get("status"),
                     "knn_seconds": js.get("knn", {}).get("seconds"), "density_seconds": dens, "bmti_seconds": st.get("seconds"),
                     "peak_rss_mib_per_rank": st.get("peak_rss_mb"), "mse_bmti": mse(ld, t)})

for r in rows:  # speed-up of phasemap's density stage over DADApy's (k* + BMTI) at the same N
    if r["kind"] != "phasemap":
        continue
    da = [d for d in rows if d["kind"] == "dadapy" and d["n"] == r["n"] and d.get("density_seconds")]
    if da:
        r["dadapy_solver"] = da[0]["solver"]
        r["speedup_vs_dadapy"] = da[0]["density_seconds"] / r["density_seconds"]


def f(v, fmt):
    return "-" if v is None else format(v, fmt)


print(f"{'who':9} {'N':>8} {'P':>2} {'solver':>11} {'knn s':>8} {'density s':>10} {'assemble s':>10} {'solve s':>8} {'its':>4} {'MiB/rank':>9} {'MSE bmti':>9} {'speedup':>8}")
for r in rows:
    print(f"{r['kind']:9} {r['n']:8d} {r['ranks']:2d} {r['solver']:>11} {f(r.get('knn_seconds'), '8.2f')} {f(r.get('density_seconds'), '10.2f')} "
          f"{f(r.get('bmti_assemble_seconds'), '10.2f')} {f(r.get('bmti_solve_seconds'), '8.2f')} {f(r.get('iterations'), '4d')} "
          f"{f(r.get('peak_rss_mib_per_rank'), '9.0f')} {f(r.get('mse_bmti'), '9.4f')} {f(r.get('speedup_vs_dadapy'), '7.1f')}x")
json.dump({"bench": "density", "git": git, "d": 20, "k": 100, "results": rows}, open(out, "w"), indent=1)
print(f"wrote {out}")
