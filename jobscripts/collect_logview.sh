#!/usr/bin/env bash
# Summarise the per-stage times of several -log_view files as one table:
#   jobscripts/collect_logview.sh scaling/strong_P*.logview.txt
# Columns: file, then the max time (s) of each phasemap stage from the "Summary of Stages" table.
set -euo pipefail
printf "%-40s" "run"; for s in Input descriptors knn id density cluster; do printf "%12s" "$s"; done; echo
for f in "$@"; do
  printf "%-40s" "$(basename "$f")"
  for s in Input descriptors knn id density cluster; do
    pat="$s"; [ "$s" = Input ] || pat="Stage $s"
    t=$(awk -v p="$pat" '/Summary of Stages/{on=1} on && index($0, p":"){split($0,a,":"); split(a[2],b," "); print b[1]; exit}' "$f")
    printf "%12s" "${t:--}"
  done
  echo
done
