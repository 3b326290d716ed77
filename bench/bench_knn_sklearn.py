#!/usr/bin/python3
"""scikit-learn NearestNeighbors baseline for bench_knn.sh: best of algorithm 'auto' and 'brute'
(n_jobs=2; the caller sets two BLAS threads), k+1 neighbours of every point (the point itself
included, as phasemap's column 0). Prints one JSON line.

usage: bench_knn_sklearn.py X.npy K
"""
import json
import sys
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors


def run(x, k, algorithm):
    t, c = time.perf_counter(), time.process_time()  # process time sums every thread
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm, n_jobs=2).fit(x)
    nn.kneighbors(x)
    return time.perf_counter() - t, time.process_time() - c, nn._fit_method


def main():
    x = np.load(sys.argv[1])
    k = int(sys.argv[2])
    res = {}
    t_auto, c_auto, chosen = run(x, k, "auto")
    res["auto_seconds"], res["auto_cpu_seconds"], res["auto_algorithm"] = t_auto, c_auto, chosen
    if chosen == "brute":  # 'auto' already is brute force (D > 15): one run serves both
        res["brute_seconds"], res["brute_cpu_seconds"] = t_auto, c_auto
    else:
        res["brute_seconds"], res["brute_cpu_seconds"], _ = run(x, k, "brute")
    res["best_seconds"] = min(res["auto_seconds"], res["brute_seconds"])
    res["best_cpu_seconds"] = min(res["auto_cpu_seconds"], res["brute_cpu_seconds"])
    print("SKLEARN " + json.dumps(res))


if __name__ == "__main__":
    main()
