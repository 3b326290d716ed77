#!/usr/bin/python3
"""Extract what the DPA tests need from the DADApy reference files into raw little-endian arrays
(the C test programs read them without HDF5): usage test_dpa_refdata.py OUTDIR [set ...]."""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "data", "reference")
SETS = ["gmm2d", "swissroll10d", "hypercube5d"]
GROUPS = ["Z1.65", "Z3", "Z1.65_halo", "Z3_halo"]


def main():
    out = sys.argv[1]
    sets = sys.argv[2:] or SETS
    for name in sets:
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        with h5py.File(os.path.join(REF, name + "_dadapy_ref.h5"), "r") as f:
            ind = f["knn/indices"][...].astype("<i8")
            n, ncol = ind.shape
            ind.tofile(os.path.join(d, "ind.i64"))
            f["knn/distances"][...].astype("<f8").tofile(os.path.join(d, "dist.f64"))
            f["density/pak/log_den"][...].astype("<f8").tofile(os.path.join(d, "log_den.f64"))
            f["density/pak/log_den_err"][...].astype("<f8").tofile(os.path.join(d, "err.f64"))
            f["density/kstarnn/kstar"][...].astype("<i8").tofile(os.path.join(d, "kstar.i64"))
            meta = [f"{n} {ncol}"]
            for g in GROUPS:
                grp = f["dpa/" + g]
                grp["cluster_assignment"][...].astype("<i8").tofile(os.path.join(d, g + "_label.i64"))
                grp["cluster_centers"][...].astype("<i8").tofile(os.path.join(d, g + "_center.i64"))
                grp["log_den_bord"][...].astype("<f8").tofile(os.path.join(d, g + "_bord.f64"))
                grp["log_den_bord_err"][...].astype("<f8").tofile(os.path.join(d, g + "_bord_err.f64"))
                grp["bord_indices"][...].astype("<i8").tofile(os.path.join(d, g + "_bord_idx.i64"))
                meta.append(f"{g} {int(grp.attrs['N_clusters'])}")
        with open(os.path.join(d, "meta.txt"), "w") as m:
            m.write("\n".join(meta) + "\n")


if __name__ == "__main__":
    main()
