#!/usr/bin/env bash
# Brute force's symmetric search of the own block (knn_rows.c) gives the graph of the one-sided
# search, bit for bit: on uniform data (symmetric from the second of several groups of rows) and
# on clustered data (the first group keeps it off), with the float filter, the double filter, the
# AVX2 fallback (two one-sided passes) and some rows searched again (-knn_prebound_rank 14), on 1 and 3
# ranks. Usage: knn_symmetric.sh
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp" <<'PY'
import numpy as np, sys
rng = np.random.default_rng(7)
np.save(sys.argv[1] + "/uniform.npy", rng.random((4500, 16)))
c = rng.normal(size=(6, 16)) * 8.0
np.save(sys.argv[1] + "/clusters.npy", c[rng.integers(0, 6, 4500)] + rng.normal(size=(4500, 16)) * np.r_[np.ones(4), 0.05 * np.ones(12)])
PY
for set in uniform clusters; do
  run() { # name ranks options...
    local name=$1 n=$2; shift 2
    $PM_MPIRUN -n "$n" "$BIN/phasemap" -input "$tmp/$set.npy" -output "$tmp/$set.$name.h5" -stages knn -knn_method brute -knn_k 30 -quiet "$@"
  }
  run ref 1 -knn_symmetric 0 -knn_filter double -knn_prebound 0
  run sym1 1
  run sym3 3
  run double 3 -knn_filter double
  run avx2 1 -knn_simd avx2
  run short 3 -knn_prebound_rank 14
  # pairs of blocks once (the half ring; here forced for small blocks): P = 3 (odd), 2 and 4 (the
  # split step), with the double filter, AVX2 and rows searched again
  run half2 2 -knn_symmetric_min_rows 0
  run half3 3 -knn_symmetric_min_rows 0
  run half4 4 -knn_symmetric_min_rows 0
  run halfdouble 2 -knn_symmetric_min_rows 0 -knn_filter double
  run halfavx2 3 -knn_symmetric_min_rows 0 -knn_simd avx2
  run halfshort 4 -knn_symmetric_min_rows 0 -knn_prebound_rank 14
  for v in sym1 sym3 double avx2 short half2 half3 half4 halfdouble halfavx2 halfshort; do
    /usr/bin/python3 tests/tools/h5same.py "$tmp/$set.ref.h5" "$tmp/$set.$v.h5" --skip ^run/
  done
  echo "ok: $set: the symmetric search and the half ring give the one-sided graph (float, double, AVX2, re-search; 1-4 ranks)"
done
