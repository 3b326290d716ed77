#!/usr/bin/env bash
# make demo: run the main job on bundled data and print its summary.
#  1. the 4-Gaussian reference set (5000 x 2): kNN graph, intrinsic dimension, density, phases;
#  2. the Cu solid-liquid LAMMPS frames: averaged Steinhardt descriptors -> graph -> phases.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
NP=${NP:-2}
. scripts/blas-env.sh bin/phasemap   # OPENBLAS_CORETYPE where OpenBLAS does not know the processor
OUT=${DEMO_OUT:-demo-out}
mkdir -p "$OUT"
MPIRUN="mpirun --oversubscribe --bind-to none -n $NP"
echo "== demo 1: feature matrix tests/data/reference/gmm2d.npy on $NP ranks"
$MPIRUN bin/phasemap -options_file inputs/demo.opts -output "$OUT/gmm2d.h5"
if [ -z "${DEMO_SKIP_CU:-}" ]; then
  echo
  echo "== demo 2: LAMMPS trajectory tests/data/cu/cu_slab_3456_T1327_small.dump.gz on $NP ranks"
  $MPIRUN bin/phasemap -options_file inputs/cu_steinhardt.opts -output "$OUT/cu.h5" -force
fi
echo
echo "demo outputs in $OUT/ (h5dump -H $OUT/gmm2d.h5 shows the layout; docs/FORMAT.md explains it)"
