#!/usr/bin/env bash
# A bad frame (two atoms at the same place in frame 1 of 2) handled by one rank group while another
# group works on a good frame: every rank stops, one message naming the frame and both atom ids,
# non-zero exit, no output file. Runs on 2 and 3 ranks (groups of 1+1 and 2+1 ranks).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/bad.dump" <<'PY'
import gzip, sys
lines = gzip.open("tests/data/cu/cu_slab_3456_T1327_small.dump.gz", "rt").read().split("\n")
starts = [i for i, l in enumerate(lines) if l.startswith("ITEM: TIMESTEP")]
a = starts[1] + 9                      # first atom line of frame 1
f0, f1 = lines[a].split(), lines[a + 1].split()
f1[2:5] = f0[2:5]                      # second atom on top of the first
lines[a + 1] = " ".join(f1)
open(sys.argv[1], "w").write("\n".join(lines))
PY
status=0
for n in 2 3; do
  timeout 120 $PM_MPIRUN -n $n "$BIN/phasemap" -input "$tmp/bad.dump" -output "$tmp/o$n.h5" -stages descriptors -steinhardt_cutoff 5.50679 >"$tmp/log$n" 2>&1
  rc=$?
  cnt=$(grep -c "same position" "$tmp/log$n")
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$cnt" -eq 1 ] && grep -q "frame 1" "$tmp/log$n" && [ ! -e "$tmp/o$n.h5" ]; then
    echo "ok     np=$n: exit $rc, one message: $(grep 'same position' "$tmp/log$n")"
  else
    echo "not ok np=$n: exit $rc, $cnt messages"; cat "$tmp/log$n"; status=1
  fi
done
exit $status
