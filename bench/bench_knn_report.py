#!/usr/bin/python3
"""Table and JSON for bench_knn.sh from its JSON-lines log (one object per measurement).

usage: bench_knn_report.py LOG.jsonl OUT.json GIT
"""
import json
import sys


def main():
    log, out, git = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = {}
    for line in open(log):
        r = json.loads(line)
        key = (r["set"], r["n"])
        e = rows.setdefault(key, {"set": r["set"], "n": r["n"]})
        if r["kind"] == "sklearn":
            e["sklearn"] = r
        else:
            e["np%d" % r["ranks"]] = r
    table = []
    print("%-8s %8s %6s %9s %9s %8s %9s %9s %9s %8s %8s" % (
        "set", "N", "method", "np1 [s]", "np2 [s]", "2r spdup", "sklearn", "vs skl 2r",
        "kern GF/r", "dgemm GF", "kern/dg"))
    for key in sorted(rows, key=lambda k: ({"lowdim": 0, "perf": 1, "uniform": 2}.get(k[0], 9), k[1])):
        e = rows[key]
        p1, p2, sk = e.get("np1"), e.get("np2"), e.get("sklearn")
        t1 = p1["seconds"] if p1 else None
        t2 = p2["seconds"] if p2 else None
        e["speedup_2ranks"] = t1 / t2 if t1 and t2 else None
        best = min(x for x in (t1, t2) if x) if (t1 or t2) else None
        e["sklearn_best_seconds"] = sk["best_seconds"] if sk else None
        e["ratio_vs_sklearn"] = sk["best_seconds"] / t2 if sk and t2 else None
        p = p2 or p1
        kern = p["kernel_gflops_per_rank"] if p and p["method"] == "brute" else None
        dg = p["dgemm_gflops_per_rank"] if p else None
        e["kernel_over_dgemm"] = kern / dg if kern and dg else None
        f = lambda v, fmt: (fmt % v) if v is not None else "-"
        print("%-8s %8d %6s %9s %9s %8s %9s %9s %9s %8s %8s" % (
            e["set"], e["n"], p["method"] if p else "-", f(t1, "%.2f"), f(t2, "%.2f"),
            f(e["speedup_2ranks"], "%.2f"), f(e["sklearn_best_seconds"], "%.2f"),
            f(e["ratio_vs_sklearn"], "%.1fx"), f(kern, "%.1f"), f(dg, "%.1f"),
            f(e["kernel_over_dgemm"], "%.0f%%" if False else "%.2f")))
        table.append(e)
    json.dump({"bench": "knn", "git": git, "d": 20, "k": 100, "results": table}, open(out, "w"), indent=1)
    print("wrote " + out)


if __name__ == "__main__":
    main()
