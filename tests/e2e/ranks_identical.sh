#!/usr/bin/env bash
# The output of 1, 2 and 3 ranks is identical in every dataset (attributes differ by design:
# rank count, timings). Usage: ranks_identical.sh NAME "<phasemap options>" [h5same args...]
set -euo pipefail
name=$1; opts=$2; shift 2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for n in 1 2 3; do
  $PM_MPIRUN -n $n "$BIN/phasemap" $opts -output "$tmp/$name.np$n.h5" -quiet
done
/usr/bin/python3 tests/tools/h5same.py "$tmp/$name.np1.h5" "$tmp/$name.np2.h5" "$@"
/usr/bin/python3 tests/tools/h5same.py "$tmp/$name.np1.h5" "$tmp/$name.np3.h5" "$@"
