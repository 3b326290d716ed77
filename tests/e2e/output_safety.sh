#!/usr/bin/env bash
# Output file rules: an existing output is not overwritten without -force; a failed run leaves no
# output and no .partial; a completed file carries the root attributes and 'complete' = 1;
# an unknown option names the closest valid one, a bad enumerated value is reported once; -help
# lists the stage options; scripts/blas-env.sh exports the OPENBLAS_CORETYPE phasemap advises and
# keeps one the user set; OpenBLAS threads beyond the node's cores are lowered, with a warning.
set -uo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
IN=tests/data/reference/hypercube5d.npy
run() { $PM_MPIRUN -n 2 "$BIN/phasemap" "$@" >"$tmp/log" 2>&1; }

run -input $IN -output "$tmp/a.h5" -stages knn,id -knn_k 20 -quiet || { cat "$tmp/log"; fail "plain run failed"; }
[ -f "$tmp/a.h5" ] && [ ! -e "$tmp/a.h5.partial" ] || fail "output or partial file wrong after success"
/usr/bin/python3 - "$tmp/a.h5" <<'PY' || fail "root attributes"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
for a in ("phasemap_version", "git_hash", "options", "mpi_ranks", "input_path", "input_sha256", "created", "blas_core", "complete"):
    assert a in f.attrs, a
core = f.attrs["blas_core"]
core = core.decode() if isinstance(core, bytes) else core
assert len(core) > 0, "empty blas_core"
assert f.attrs["complete"] == 1 and f.attrs["mpi_ranks"] == 2
import hashlib
sha = f.attrs["input_sha256"]
sha = sha.decode() if isinstance(sha, bytes) else sha
assert sha == hashlib.sha256(open("tests/data/reference/hypercube5d.npy", "rb").read()).hexdigest(), sha
PY
run -input $IN -output "$tmp/a.h5" -stages knn,id -knn_k 20 -quiet && fail "overwrote without -force"
grep -q "exists" "$tmp/log" || fail "no 'exists' message"
run -input $IN -output "$tmp/a.h5" -stages knn,id -knn_k 20 -quiet -force || fail "-force did not overwrite"
run -input $IN -output "$tmp/b.h5" -stages knn,id -knn_kk 20 -quiet && fail "misspelled option accepted"
grep -q "did you mean -knn_k" "$tmp/log" || { cat "$tmp/log"; fail "no suggestion for -knn_kk"; }
[ "$(grep -c 'phasemap: error' "$tmp/log")" = 1 ] || fail "error printed more than once"
[ ! -e "$tmp/b.h5" ] && [ ! -e "$tmp/b.h5.partial" ] || fail "failed run left a file"
run -input $IN -output "$tmp/c.h5" -stages knn,id -knn_k 6000 -quiet && fail "k >= N accepted"
[ ! -e "$tmp/c.h5" ] && [ ! -e "$tmp/c.h5.partial" ] || fail "failed run left a file (k >= N)"
run -input $IN -output "$tmp/d.h5" -stages knn,oops -quiet && fail "bad stage accepted"
grep -q "unknown stage 'oops'" "$tmp/log" || fail "bad stage message"
$PM_MPIRUN -n 1 "$BIN/phasemap" -help >"$tmp/help" 2>&1 || fail "-help failed"
for o in -input -output -stages -knn_k -duplicates -density -bmti_alpha -dpa_z -steinhardt_l; do
  grep -q -- "$o" "$tmp/help" || fail "-help does not list $o"
done
# every phasemap option -help lists is known to the misspelling check (src/core/options_known.h)
# (the PETSc objects' own options, _ksp_ / _pc_ / device, are PETSc's to check)
for o in $(grep -oE "^  -[a-z_0-9]+" "$tmp/help" | sed 's/^  //' | grep -vE "_ksp_|_pc_|^-all_|device" | sort -u); do
  grep -q "\"$o\"" src/core/options_known.h || fail "-help lists $o, but src/core/options_known.h does not"
done
run -input $IN -output "$tmp/e.h5" -stages knn -knn_symetric 0 -quiet && fail "misspelled -knn_symmetric accepted"
grep -q "did you mean -knn_symmetric" "$tmp/log" || { cat "$tmp/log"; fail "no suggestion for -knn_symetric"; }
# a bad value of an enumerated option (PETSc raises it on every rank alike): one message, no output
run -input $IN -output "$tmp/f.h5" -stages knn -knn_method fast -quiet && fail "bad -knn_method value accepted"
grep -q "Unknown option fast for -knn_method" "$tmp/log" || { cat "$tmp/log"; fail "no message for -knn_method fast"; }
[ "$(grep -c 'phasemap: error' "$tmp/log")" = 1 ] || { cat "$tmp/log"; fail "bad -knn_method value: error printed more than once"; }
[ ! -e "$tmp/f.h5" ] && [ ! -e "$tmp/f.h5.partial" ] || fail "failed run left a file (-knn_method fast)"
adv=$(env -u OPENBLAS_CORETYPE "$BIN/phasemap" -help 2>&1 | sed -n 's/.*export OPENBLAS_CORETYPE=\([A-Za-z0-9_]*\).*/\1/p' | head -n 1)
got=$(env -u OPENBLAS_CORETYPE bash -c '. scripts/blas-env.sh "$1" 2>/dev/null; echo "${OPENBLAS_CORETYPE:-}"' _ "$BIN/phasemap")
[ "$got" = "$adv" ] || fail "blas-env.sh exported '$got', phasemap advises '$adv'"
got=$(OPENBLAS_CORETYPE=Haswell bash -c '. scripts/blas-env.sh "$1"; echo "$OPENBLAS_CORETYPE"' _ "$BIN/phasemap")
[ "$got" = Haswell ] || fail "blas-env.sh replaced the user's OPENBLAS_CORETYPE=Haswell by '$got'"
OPENBLAS_CORETYPE=Prescott "$BIN/phasemap" -help 2>&1 | grep -q "export OPENBLAS_CORETYPE" && fail "warned although the user set OPENBLAS_CORETYPE"
cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) # the cores this process may run on (its affinity)
if [ "$cores" -ge 2 ]; then # OpenBLAS caps its threads at the cores: 2 ranks oversubscribe only from 2 cores on
  OPENBLAS_NUM_THREADS=$cores run -input $IN -output "$tmp/t.h5" -stages knn,id -knn_k 20 -quiet || { cat "$tmp/log"; fail "run with OPENBLAS_NUM_THREADS = cores failed"; }
  grep -q "OpenBLAS threads; lowered to" "$tmp/log" || { cat "$tmp/log"; fail "2 ranks x cores OpenBLAS threads: no warning"; }
  [ "$(grep -c 'OpenBLAS threads' "$tmp/log")" = 1 ] || fail "thread warning printed more than once"
fi
echo "output_safety: all checks passed"
