#!/usr/bin/python3
"""Makes tests/data/reference/bmti_two_components.h5 for the test bmti_two_components: the first
1500 points of gmm2d and a copy shifted by 1000 in x (two far-apart clusters, two graph
components); DADApy's kNN graph (maxk 100), TwoNN id, k* and k*NN density of the 3000 points, and
DADApy's BMTI (alpha = 1, sp_direct) of one copy alone, which each component must equal after
removing the mean. Run from the checkout with the shared oracle:
  /usr/bin/python3 tests/tools/make_bmti_two_components.py [tools dir, default ../shared/tools]
"""
import os
import sys

import h5py
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "tools"))
import dadapy_ref  # noqa: E402

dadapy = dadapy_ref.import_dadapy()
A = np.load(os.path.join(root, "tests", "data", "reference", "gmm2d.npy"))[:1500]
X = np.vstack([A, A + np.array([1000.0, 0.0])])
dx = dadapy.Data(coordinates=X, maxk=100, n_jobs=1, verbose=False)
dx.compute_id_2NN()
dx.compute_kstar()
kl, ke = dx.compute_density_kstarNN()
da = dadapy.Data(coordinates=A, maxk=100, n_jobs=1, verbose=False)
da.compute_distances()
da.intrinsic_dim = dx.intrinsic_dim
da.compute_kstar()
da.compute_density_BMTI(delta_F_inv_cov="uncorr", solver="sp_direct", sp_direct_perm_spec="NATURAL", alpha=1)
out = os.path.join(root, "tests", "data", "reference", "bmti_two_components.h5")
with h5py.File(out, "w") as f:
    f.attrs["made_by"] = "tests/tools/make_bmti_two_components.py"
    f.attrs["id"] = float(dx.intrinsic_dim)
    f.create_dataset("X", data=X)
    f.create_dataset("dist_indices", data=np.asarray(dx.dist_indices, dtype=np.int32), compression="gzip")
    f.create_dataset("kstar", data=np.asarray(dx.kstar, dtype=np.int32))
    f.create_dataset("kstarnn_log_den", data=np.asarray(kl))
    f.create_dataset("kstarnn_log_den_err", data=np.asarray(ke))
    f.create_dataset("bmti_one_copy", data=np.asarray(da.log_den))
print("wrote", out)
