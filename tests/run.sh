#!/usr/bin/env bash
# Runs every test listed in tests/list.d/*.list: lines "<name> <ranks> <command...>", ranks = 1,2,3
# (run under mpirun with that many ranks) or - (the command launches mpirun itself, e.g. e2e scripts).
# Environment: BIN (phasemap binary dir), TB (test binaries). A hang is a failure (timeout).
# Filter: TESTS=regex runs only matching names. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
export BIN="${BIN:-bin}" TB="${TB:-build/tests}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export PATH="/usr/bin:$PATH"  # Debian python3 (numpy, h5py) even where another python comes first
export PM_MPIRUN="mpirun --oversubscribe --bind-to none -mca btl self,vader -mca mpi_yield_when_idle 1"
if [ -n "${PM_ASAN:-}" ]; then
  # Open MPI's dlopen'ed components leak by design and cannot be suppressed by name, so LeakSanitizer
  # is off; our own heap goes through PetscMalloc, whose -malloc_dump report fails the test instead.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1"
  export PETSC_OPTIONS="${PETSC_OPTIONS:-} -malloc_debug -malloc_dump"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
PM_TIMEOUT="${PM_TIMEOUT:-600}"
mkdir -p tests/out
pass=0; fail=0; failed=()
for list in tests/list.d/*.list; do
  while read -r name ranks cmd; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ -n "${TESTS:-}" ] && ! [[ "$name" =~ $TESTS ]]; then continue; fi
    for n in $(echo "$ranks" | tr , ' '); do
      log="tests/out/$name.np$n.log"
      if [ "$n" = - ]; then run=""; else run="$PM_MPIRUN -n $n"; fi
      t0=$(date +%s.%N)
      if NP="$n" timeout "$PM_TIMEOUT" bash -c "$run $cmd" >"$log" 2>&1 </dev/null &&
         { [ -z "${PM_ASAN:-}" ] || ! grep -qE '^\[ *[0-9]+\] *[0-9]+ bytes ' "$log"; }; then
        pass=$((pass + 1)); printf "ok     %-40s np=%s %6.1fs\n" "$name" "$n" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
      else
        fail=$((fail + 1)); failed+=("$name np=$n"); printf "not ok %-40s np=%s (%s)\n" "$name" "$n" "$log"
        grep -E "not ok|error|Error" "$log" | head -5 | sed 's/^/       /'
      fi
    done
  done < "$list"
done
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
