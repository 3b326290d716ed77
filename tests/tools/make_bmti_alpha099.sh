#!/usr/bin/env bash
# Makes tests/data/reference/gmm2d_bmti_alpha099.h5: DADApy's BMTI with alpha = 0.99 (the k*NN prior
# term active, so the solution has no free constant) on gmm2d, with DADApy's other defaults, run
# through the shared oracle ../shared/tools/dadapy_ref.py; only the small datasets are kept.
# Usage (from the checkout): tests/tools/make_bmti_alpha099.sh [tools dir, default ../shared/tools]
set -eu
cd "$(dirname "$0")/../.."
TOOLS="${1:-../shared/tools}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$TOOLS/dadapy_ref.py" --input tests/data/reference/gmm2d.npy --output "$tmp/full.h5" \
  --steps knn,twonn,kstarnn,bmti --bmti-alpha 0.99 --bmti-err no --bmti-store-graph 0 >/dev/null
/usr/bin/python3 - "$tmp/full.h5" tests/data/reference/gmm2d_bmti_alpha099.h5 <<'PY'
import sys, h5py
src, dst = sys.argv[1], sys.argv[2]
with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
    for k, v in f.attrs.items():
        g.attrs[k] = v
    g.attrs["made_by"] = "tests/tools/make_bmti_alpha099.sh"
    for name in ["density/bmti/log_den", "density/kstarnn/kstar", "density/kstarnn/log_den", "density/kstarnn/log_den_err"]:
        g.create_dataset(name, data=f[name][:])
        for k, v in f[name.rsplit("/", 1)[0]].attrs.items():
            g[name.rsplit("/", 1)[0]].attrs[k] = v
PY
echo "wrote tests/data/reference/gmm2d_bmti_alpha099.h5"
