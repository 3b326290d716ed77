#!/usr/bin/env bash
# DPA vs DADApy on every reference set (Z 1.65/3, with/without halo, PAk density) on 1, 2 and 3 ranks;
# each run also checks the serial twin and a random row permutation (tests/mpi/test_dpa.c).
set -eu
cd "$(dirname "$0")/../.."
TB="${TB:-build/tests}"
MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm_dpa_ref.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tests/e2e/test_dpa_refdata.py "$tmp"
for set in gmm2d swissroll10d hypercube5d; do
  for np in 1 2 3; do
    echo "== $set np=$np"
    $MPIRUN -n $np "$TB/mpi/test_dpa" "$tmp/$set"
  done
done
