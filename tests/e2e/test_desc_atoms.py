#!/usr/bin/python3
"""/atoms output of `phasemap -stages descriptors` on the small Cu set (2 frames, 3456 atoms each):
rows in global atom order (frame-major, ids ascending), positions as read, species, timesteps,
column names, and the Steinhardt columns equal to LAMMPS's (1e-6).
usage: test_desc_atoms.py OUT.h5 DUMP.gz"""
import gzip
import sys

import h5py
import numpy as np


def frames(path):
    with gzip.open(path, "rt") as f:
        lines = f.read().split("\n")
    i, out = 0, []
    while i < len(lines):
        if lines[i].startswith("ITEM: TIMESTEP"):
            step, n = int(lines[i + 1]), int(lines[i + 3])
            cols = lines[i + 8].split()[2:]
            data = np.array([l.split() for l in lines[i + 9:i + 9 + n]], dtype=float)
            out.append((step, cols, data[np.argsort(data[:, cols.index("id")])]))
            i += 9 + n
        else:
            i += 1
    return out


def main():
    out, dump = sys.argv[1], sys.argv[2]
    fr = frames(dump)
    f = h5py.File(out, "r")
    a = f["atoms"]
    names = a["descriptor"].attrs["columns"]
    names = (names.decode() if isinstance(names, bytes) else names).split(",")
    want = [f"{p}{l}{s}" for p, s in (("q", ""), ("w", ""), ("w", "hat")) for l in (4, 6, 8, 10, 12)]
    ok = []
    ok.append(("columns", names == want))
    ids = np.concatenate([d[:, c.index("id")] for _, c, d in fr]).astype(np.int64)
    frame = np.concatenate([np.full(len(d), k) for k, (_, _, d) in enumerate(fr)])
    pos = np.vstack([d[:, [c.index(x) for x in "xyz"]] for _, c, d in fr])
    ref = np.vstack([d[:, [c.index(n) for n in want]] for _, c, d in fr])
    X = a["descriptor"][:]
    ok.append(("id", np.array_equal(a["id"][:], ids)))
    ok.append(("frame", np.array_equal(a["frame"][:], frame)))
    ok.append(("position", np.array_equal(a["position"][:], pos)))
    ok.append(("species", np.array_equal(a["species"][:], np.zeros(len(ids)))))
    ok.append(("timestep", list(a["timestep"][:]) == [s for s, _, _ in fr]))
    dev = float(np.abs(X - ref).max())
    ok.append((f"steinhardt vs LAMMPS (max dev {dev:.2e})", dev < 1e-6))
    ok.append(("nframes", int(a.attrs["nframes"]) == len(fr)))
    for name, good in ok:
        print(("ok     " if good else "not ok ") + name)
    sys.exit(0 if all(g for _, g in ok) else 1)


if __name__ == "__main__":
    main()
