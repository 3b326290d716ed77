#!/usr/bin/python3
"""Benchmark data for bench_knn.sh (float64 .npy, D = 20).

  lowdim  (a) 6-D Gaussian mixture (5 components, random means and covariances) mapped into
              20-D by a random orthonormal 20x6 map: intrinsic dimension 6
  uniform (c) uniform in [0,1]^20 (the worst case for space partitioning)
Set (b) comes from ../shared/tools/make_synthetic.py --perf N.

usage: bench_knn_data.py lowdim|uniform N OUT.npy
"""
import sys

import numpy as np


def lowdim(n, rng):
    k, d, dim = 5, 6, 20
    means = rng.uniform(-5.0, 5.0, size=(k, d))
    comp = rng.integers(0, k, size=n)
    z = np.empty((n, d))
    for c in range(k):
        a = rng.normal(size=(d, d)) * rng.uniform(0.3, 1.0)
        idx = np.nonzero(comp == c)[0]
        z[idx] = means[c] + rng.normal(size=(idx.size, d)) @ a.T
    q, _ = np.linalg.qr(rng.normal(size=(dim, d)))  # orthonormal columns
    return z @ q.T


def main():
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(20 + n)
    if kind == "lowdim":
        x = lowdim(n, rng)
    elif kind == "uniform":
        x = rng.random((n, 20))
    else:
        sys.exit("unknown kind " + kind)
    np.save(out, np.ascontiguousarray(x, dtype=np.float64))


if __name__ == "__main__":
    main()
