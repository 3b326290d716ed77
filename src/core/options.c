/* Options hygiene: an option nobody queried is an error that names the closest valid option. */
#include <phasemap/core.h>
#include <string.h>
#include <stdlib.h>
#include "core/options_known.h"

static int edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  int    row[128], prev, tmp;

  if (lb >= sizeof row / sizeof row[0]) return 1000;
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    prev   = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int best = prev + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      tmp    = row[j];
      row[j] = best;
      prev   = tmp;
    }
  }
  return row[lb];
}

PetscErrorCode pm_options_check_unused(MPI_Comm comm)
{
  PetscInt N;
  char   **names, **values;
  char     msg[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(NULL, &N, &names, &values));
  if (N > 0) {
    const char *best = NULL;
    int         bd   = 1 << 30;
    for (int i = 0; pm_options_known[i]; i++) {
      int d = edit_distance(names[0], pm_options_known[i] + 1);
      if (d < bd) {
        bd   = d;
        best = pm_options_known[i];
      }
    }
    if (best && bd <= 3 + (int)strlen(names[0]) / 4)
      PetscCall(PetscSNPrintf(msg, sizeof msg, "unknown option -%s; did you mean %s? (phasemap -help lists every option)", names[0], best));
    else PetscCall(PetscSNPrintf(msg, sizeof msg, "unknown option -%s (phasemap -help lists every option)", names[0]));
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &N, &names, &values));
  PetscCheck(msg[0] == 0, comm, PETSC_ERR_USER_INPUT, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_parse_int_list(MPI_Comm comm, const char *opt, const char *s, int max, int *vals, int *n)
{
  const char *p = s;

  PetscFunctionBeginUser;
  *n = 0;
  while (*p) {
    char *end;
    long  v = strtol(p, &end, 10);
    PetscCheck(end != p, comm, PETSC_ERR_USER_INPUT, "%s: cannot read an integer list from '%s'; give e.g. 4,6,8", opt, s);
    PetscCheck(*n < max, comm, PETSC_ERR_USER_INPUT, "%s: at most %d values allowed", opt, max);
    vals[(*n)++] = (int)v;
    p            = end;
    if (*p == ',') p++;
    else PetscCheck(*p == 0, comm, PETSC_ERR_USER_INPUT, "%s: unexpected '%c' in '%s'; give e.g. 4,6,8", opt, *p, s);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
