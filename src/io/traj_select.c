/* -frames start:stop:step (python slice over the complete frames) and -columns (extra columns). */
#include "io/traj_impl.h"
#include <stdlib.h>
#include <string.h>

static PetscErrorCode parse_part(pm_traj_t *t, const char *spec, const char *s, size_t n, int *given, int64_t *v)
{
  char buf[64], *end;
  PetscFunctionBeginUser;
  *given = 0;
  PetscCheck(n < sizeof buf, t->comm, PETSC_ERR_USER_INPUT, "-frames %s: use start:stop:step with integers, e.g. 0:10:2 or ::5", spec);
  memcpy(buf, s, n);
  buf[n] = 0;
  if (pm_line_is_blank(buf)) PetscFunctionReturn(PETSC_SUCCESS);
  *v = strtoll(buf, &end, 10);
  while (*end == ' ') end++;
  PetscCheck(end != buf && !*end, t->comm, PETSC_ERR_USER_INPUT, "-frames %s: '%s' is not an integer; use start:stop:step, e.g. 0:10:2 or ::5", spec, buf);
  *given = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_traj_select_frames(pm_traj_t *t, const char *spec)
{
  int64_t     n = t->nframes_file, v[3] = {0, 0, 1}, start, stop, step, cnt = 0;
  int         g[3] = {0, 0, 0}, np = 0;
  const char *s = spec;

  PetscFunctionBeginUser;
  while (np < 3) {
    const char *c = strchr(s, ':');
    size_t      l = c ? (size_t)(c - s) : strlen(s);
    PetscCall(parse_part(t, spec, s, l, &g[np], &v[np]));
    np++;
    if (!c) break;
    s = c + 1;
    PetscCheck(np < 3 || !strchr(s, ':'), t->comm, PETSC_ERR_USER_INPUT, "-frames %s: at most start:stop:step", spec);
  }
  if (np == 1 && g[0]) { /* a single frame index */
    int64_t k = v[0] < 0 ? v[0] + n : v[0];
    PetscCheck(k >= 0 && k < n, t->comm, PETSC_ERR_USER_INPUT, "-frames %s: the file has %" PRId64 " complete frames (0..%" PRId64 ")", spec, n, n - 1);
    PetscCall(PetscMalloc1(1, &t->sel));
    t->sel[0] = k;
    t->nsel   = 1;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  step = g[2] ? v[2] : 1;
  PetscCheck(step != 0, t->comm, PETSC_ERR_USER_INPUT, "-frames %s: step must not be 0", spec);
  if (step > 0) {
    start = !g[0] ? 0 : v[0] < 0 ? PetscMax(v[0] + n, 0)
                                 : PetscMin(v[0], n);
    stop  = !g[1] ? n : v[1] < 0 ? PetscMax(v[1] + n, 0)
                                 : PetscMin(v[1], n);
    for (int64_t k = start; k < stop; k += step) cnt++;
  } else {
    start = !g[0] ? n - 1 : v[0] < 0 ? PetscMax(v[0] + n, -1)
                                     : PetscMin(v[0], n - 1);
    stop  = !g[1] ? -1 : v[1] < 0 ? PetscMax(v[1] + n, -1)
                                  : PetscMin(v[1], n - 1);
    for (int64_t k = start; k > stop; k += step) cnt++;
  }
  PetscCheck(cnt > 0, t->comm, PETSC_ERR_USER_INPUT, "-frames %s selects none of the %" PRId64 " complete frames of %s (python slice: start:stop:step, stop excluded)", spec, n, t->path);
  PetscCall(PetscMalloc1(cnt, &t->sel));
  for (int64_t i = 0; i < cnt; i++) t->sel[i] = start + i * step;
  t->nsel = cnt;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int find_col(const pm_cols_t *c, const char *name)
{
  for (int i = 0; i < c->ncol; i++)
    if (!strcmp(c->names[i], name)) return i;
  return -1;
}

static PetscErrorCode add_col(pm_traj_t *t, int i, const char *item)
{
  pm_cols_t *c = &t->cols;
  PetscFunctionBeginUser;
  PetscCheck(c->role[i] == PM_COL_SKIP, t->comm, PETSC_ERR_USER_INPUT, "-columns: column '%s' is %s; select other columns", c->names[i], c->role[i] >= PM_COL_EXTRA ? "selected twice" : "already read as id, type, species or position");
  PetscCheck(!c->types || c->types[i] != 'S', t->comm, PETSC_ERR_USER_INPUT, "-columns: column '%s' of %s holds strings, not numbers", c->names[i], t->path);
  c->role[i] = PM_COL_EXTRA + t->n_extra++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Items separated by commas; an item is a column name, a range first:last of columns in file
 * order, or (xyz) the name of a multi-component property (all its components). */
PetscErrorCode pm_traj_select_columns(pm_traj_t *t, const char *spec)
{
  pm_cols_t *c = &t->cols;
  char      *buf, *item, *save = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(spec, &buf));
  for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(item, ':');
    int   a, b;
    while (*item == ' ') item++;
    if (colon) *colon = 0;
    a = find_col(c, item);
    b = colon ? find_col(c, colon + 1) : a;
    if (a < 0 && !colon && c->groups) { /* a whole xyz property */
      int any = 0;
      for (int i = 0; i < c->ncol; i++)
        if (!strcmp(c->groups[i], item)) {
          PetscCall(add_col(t, i, item));
          any = 1;
        }
      if (any) continue;
    }
    PetscCheck(a >= 0 && b >= 0, t->comm, PETSC_ERR_USER_INPUT, "-columns: %s has no column '%s'; its columns are: %.600s", t->path, a < 0 ? item : colon + 1, t->colline);
    PetscCheck(b >= a, t->comm, PETSC_ERR_USER_INPUT, "-columns: '%s' comes after '%s' in %s; give ranges as first:last in file order", item, colon + 1, t->path);
    for (int i = a; i <= b; i++) PetscCall(add_col(t, i, item));
  }
  PetscCall(PetscFree(buf));
  PetscCall(PetscMalloc2(t->n_extra + 1, &t->extra_names, t->n_extra + 1, &t->extra_ptr));
  for (int i = 0; i < c->ncol; i++)
    if (c->role[i] >= PM_COL_EXTRA) {
      t->extra_names[c->role[i] - PM_COL_EXTRA] = c->names[i];
      t->extra_ptr[c->role[i] - PM_COL_EXTRA]   = c->names[i];
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}
