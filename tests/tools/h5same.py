#!/usr/bin/env python3
"""Compare every dataset of two phasemap output files (attributes are not compared: rank count
and timings differ by design). Usage: h5same.py A.h5 B.h5 [--tol PATTERN=TOL ...] [--skip PATTERN]
Without a tolerance a dataset must be bitwise identical. PATTERN is a regex on the dataset path.
Exit 1 and print the differences if anything differs."""
import re
import sys

import h5py
import numpy as np


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    a, b = sys.argv[1], sys.argv[2]
    tols, skips = [], []
    args = sys.argv[3:]
    while args:
        opt = args.pop(0)
        if opt == "--tol":
            pat, tol = args.pop(0).rsplit("=", 1)
            tols.append((re.compile(pat), float(tol)))
        elif opt == "--skip":
            skips.append(re.compile(args.pop(0)))
        else:
            sys.exit(f"h5same: unknown argument {opt}")
    bad = 0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        names = sorted(set(da) | set(db))
        for n in names:
            if any(s.search(n) for s in skips):
                continue
            if n not in da or n not in db:
                print(f"MISSING {n} in {'A' if n not in da else 'B'}")
                bad += 1
                continue
            x, y = da[n][()], db[n][()]
            if x.shape != y.shape:
                print(f"SHAPE {n}: {x.shape} vs {y.shape}")
                bad += 1
                continue
            tol = next((t for p, t in tols if p.search(n)), None)
            if tol is None or x.dtype.kind not in "fc":
                same = np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
                if not same:
                    print(f"DIFF {n}: {np.sum(x != y)} elements differ")
                    bad += 1
            else:
                d = np.max(np.abs(x - y) / np.maximum(1.0, np.abs(y))) if x.size else 0.0
                if not d <= tol:
                    print(f"DIFF {n}: max rel diff {d:.3g} > {tol:g}")
                    bad += 1
        print(f"h5same: {len(names)} datasets, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
