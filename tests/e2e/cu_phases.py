#!/usr/bin/env python3
"""End to end on real MD data: phasemap, told nothing about phases, runs the whole job
(Lechner-Dellago averaged Steinhardt descriptors -> kNN -> ID -> BMTI -> DPA) on the two Cu
solid-liquid frames and must find exactly two phases that agree with LAMMPS's time-averaged CNA
label (cna_avg == 1: fcc solid) for >= 93 % of the atoms of every frame (the labels themselves
cap the agreement at ~0.9-0.97 because interface atoms are ambiguous; see the data README).
Usage: cu_phases.py NP"""
import gzip
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

DUMP = "tests/data/cu/cu_slab_3456_T1327_small.dump.gz"


def read_frames(path):
    frames = []
    with gzip.open(path, "rt") as g:
        lines = g.read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[i + 1])
            j = i + 2
            while not lines[j].startswith("ITEM: ATOMS"):
                j += 1
            cols = lines[j].split()[2:]
            data = np.array([l.split() for l in lines[j + 1:j + 1 + n]], float)
            data = data[np.argsort(data[:, cols.index("id")])]
            frames.append((cols, data))
            i = j + 1 + n
        else:
            i += 1
    return frames


def main():
    np_ = sys.argv[1] if len(sys.argv) > 1 else "2"
    mpirun = os.environ.get("PM_MPIRUN", "mpirun --oversubscribe").split()
    binary = os.path.join(os.environ.get("BIN", "bin"), "phasemap")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cu.h5")
        cmd = mpirun + ["-n", np_, binary, "-options_file", "inputs/cu_steinhardt.opts", "-output", out, "-quiet"]
        subprocess.run(cmd, check=True)
        with h5py.File(out, "r") as f:
            label, frame, ids = f["clusters/label"][()], f["atoms/frame"][()], f["atoms/id"][()]
            nclus = len(f["clusters/center"][()])
    ok = nclus == 2
    print(f"clusters found: {nclus} (expected 2)")
    for k, (cols, data) in enumerate(read_frames(DUMP)):
        m = frame == k
        ok &= np.array_equal(ids[m], data[:, cols.index("id")].astype(np.int64))
        solid = data[:, cols.index("cna_avg")] == 1
        lab = label[m]
        agree = max(np.mean((lab == c) == solid) for c in np.unique(lab))
        print(f"frame {k}: agreement with cna_avg {agree:.4f} (required >= 0.93)")
        ok &= agree >= 0.93
    print("cu_phases:", "ok" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
