#!/usr/bin/env bash
# Bad-input end-to-end case: tests/bad_inputs/run_case.sh CASE   (CASE=list prints the cases)
# Generates the bad file for CASE in a temporary directory, runs
#   $PM_MPIRUN -n 2 $BIN/phasemap -input <bad file> -output $tmp/out.h5 -stages knn,id -quiet [extra]
# and checks: exit code non-zero (and not a timeout), the expected message fragment appears
# exactly once on stderr, one "phasemap: error" line in all, and neither out.h5 nor
# out.h5.partial exists afterwards.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN="${BIN:-bin}"
PM_MPIRUN="${PM_MPIRUN:-mpirun --oversubscribe --bind-to none -mca btl self,vader -mca mpi_yield_when_idle 1}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
CASES="missing directory garbage_h5 garbage_npy wrong_dataset not2d_npy not2d_h5 n_lt_3 d_zero
nan_npy inf_h5 nan_text ragged_text malformed_text truncated_npy fortran_npy dtype_npy object_npy
string_h5 empty_text knn_k_ge_n knn_k_lt_2"

case="${1:-}"
if [ "$case" = list ] || [ -z "$case" ]; then echo $CASES; exit 0; fi
[ -x "$BIN/phasemap" ] || { echo "FAIL: $BIN/phasemap not built (make)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL [$case]: $*"; echo "--- stderr:"; cat "$tmp/err" 2>/dev/null; exit 1; }

# gen <file> <python statements using np, h5py, f (the path)>
gen() { $PY - "$tmp/$1" <<PYEOF || fail "cannot generate $1"
import sys, numpy as np, h5py
f = sys.argv[1]
rng = np.random.default_rng(7)
$2
PYEOF
}

extra=()
case "$case" in
missing)        in="$tmp/nope.npy"; expect="input file '$in' does not exist; check the -input path" ;;
directory)      in="$tmp/dir.npy"; mkdir "$in"; expect="is a directory, not a file" ;;
garbage_h5)     in="$tmp/g.h5"; head -c 4096 /dev/urandom >"$in"; expect="cannot be opened as an HDF5 file" ;;
garbage_npy)    in="$tmp/g.npy"; printf 'these are not the numbers you are looking for\n' >"$in"; expect="not a NumPy .npy file" ;;
wrong_dataset)  in="$tmp/w.h5"; extra=(-input_dataset /features)
                gen w.h5 "h5py.File(f, 'w')['X'] = rng.random((50, 3))"; expect="no dataset '/features'; the file holds /X (50 x 3)" ;;
not2d_npy)      in="$tmp/v.npy"; gen v.npy "np.save(f, rng.random(50))"; expect="shape (50,) (1-D); a feature matrix must be 2-D" ;;
not2d_h5)       in="$tmp/c.h5"; gen c.h5 "h5py.File(f, 'w')['X'] = rng.random((10, 5, 3))"; expect="shape (10, 5, 3) (3-D)" ;;
n_lt_3)         in="$tmp/two.npy"; gen two.npy "np.save(f, rng.random((2, 4)))"; expect="2 rows (points); phasemap needs at least 3" ;;
d_zero)         in="$tmp/d0.npy"; gen d0.npy "np.save(f, np.zeros((20, 0)))"; expect="0 columns (features)" ;;
nan_npy)        in="$tmp/nan.npy"; gen nan.npy "x = rng.random((200, 4)); x[17, 3] = np.nan; x[150, 0] = np.nan; np.save(f, x)"
                expect="row 17, column 3 (both 0-based, X[17, 3] in NumPy) is NaN" ;;
inf_h5)         in="$tmp/inf.h5"; gen inf.h5 "x = rng.random((200, 4)); x[120, 2] = np.inf; h5py.File(f, 'w')['X'] = x"
                expect="row 120, column 2 (both 0-based, X[120, 2] in NumPy) is +Inf" ;;
nan_text)       in="$tmp/nan.txt"; gen nan.txt "x = rng.random((200, 4)); x[150, 1] = np.nan; np.savetxt(f, x, header='features')"
                expect="line 152, column 2 (1-based; data row 150, column 1 0-based): 'nan' is not a finite number" ;;
ragged_text)    in="$tmp/r.csv"; gen r.csv "open(f, 'w').write('# a, b, c\n' + '1,2,3\n' * 120 + '4,5\n' + '6,7,8\n' * 10)"
                expect="ragged rows: line 122 has 2 values but the first data row (line 2) has 3" ;;
malformed_text) in="$tmp/m.txt"; gen m.txt "open(f, 'w').write('1 2 3\n' * 90 + '1 2.5.1 3\n' + '1 2 3\n' * 9)"
                expect="line 91, column 2 (1-based): cannot read a number from '2.5.1'" ;;
truncated_npy)  in="$tmp/t.npy"; gen t.npy "np.save(f, rng.random((100, 8))); b = open(f, 'rb').read(); open(f, 'wb').write(b[:-100])"
                expect="the .npy file is truncated: its header announces 100 x 8 float64 values (6400 bytes) but only 6300 bytes" ;;
fortran_npy)    in="$tmp/fo.npy"; gen fo.npy "np.save(f, np.asfortranarray(rng.random((30, 4))))"; expect="Fortran (column-major) order; save it in C order: numpy.save(f, numpy.ascontiguousarray(X))" ;;
dtype_npy)      in="$tmp/i.npy"; gen i.npy "np.save(f, np.arange(40).reshape(10, 4))"; expect="dtype '<i8' (int64) is not supported" ;;
object_npy)     in="$tmp/o.npy"; gen o.npy "np.save(f, np.array([[1, 'a'], [2, None], [3, 4.0]], dtype=object), allow_pickle=True)"; expect="object array" ;;
string_h5)      in="$tmp/s.h5"; gen s.h5 "h5py.File(f, 'w')['X'] = np.array([[b'a', b'b']] * 5)"; expect="dataset '/X' holds strings, not numbers" ;;
empty_text)     in="$tmp/e.txt"; printf '# only a comment\n\n' >"$in"; expect="no data rows" ;;
knn_k_ge_n)     in="$tmp/ten.npy"; gen ten.npy "np.save(f, rng.random((10, 3)))"; extra=(-knn_k 10)
                expect="-knn_k 10 must be below the number of points, 10" ;;
knn_k_lt_2)     in="$tmp/ten.npy"; gen ten.npy "np.save(f, rng.random((10, 3)))"; extra=(-knn_k 1)
                expect="-knn_k 1: at least 2 neighbours are needed" ;;
*) echo "unknown case '$case'; cases: $CASES"; exit 2 ;;
esac

out="$tmp/out.h5"
timeout 120 $PM_MPIRUN -n 2 "$BIN/phasemap" -input "$in" -output "$out" -stages knn,id -quiet "${extra[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
[ "$rc" -ne 0 ] || fail "exit code 0"
[ "$rc" -ne 124 ] || fail "timed out (hang?)"
n=$(grep -oF -- "$expect" "$tmp/err" | wc -l)
[ "$n" -eq 1 ] || fail "expected message fragment seen $n times on stderr (want 1): $expect"
n=$(grep -c "phasemap: error" "$tmp/err")
[ "$n" -eq 1 ] || fail "'phasemap: error' printed $n times (want 1)"
[ ! -e "$out" ] || fail "output file left behind"
[ ! -e "$out.partial" ] || fail "partial output file left behind"
echo "ok [$case] exit $rc: $(grep 'phasemap: error' "$tmp/err")"
