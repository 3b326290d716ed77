/* Extended XYZ (as written by ASE): the comment line (Lattice, Properties, pbc) and the columns. */
#include "io/traj_impl.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

#define XYZ_DEFAULT_PROPS "species:S:1:pos:R:3"

/* Next key=value pair of the comment; value unquoted into val. Returns 0 at the end. */
static int next_pair(const char **s, char *key, size_t nk, char *val, size_t nv)
{
  const char *p = *s;
  size_t      k = 0, v = 0;

  while (isspace((unsigned char)*p)) p++;
  if (!*p) return 0;
  while (*p && *p != '=' && !isspace((unsigned char)*p)) {
    if (k + 1 < nk) key[k++] = *p;
    p++;
  }
  key[k] = 0;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '=') {
    p++;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '"' || *p == '\'' || *p == '{') {
      char close = *p == '{' ? '}' : *p;
      p++;
      while (*p && *p != close) {
        if (v + 1 < nv) val[v++] = *p;
        p++;
      }
      if (*p) p++;
    } else
      while (*p && !isspace((unsigned char)*p)) {
        if (v + 1 < nv) val[v++] = *p;
        p++;
      }
  }
  val[v] = 0;
  *s     = p;
  return 1;
}

#define XYZ_ERR(...)                                              \
  do {                                                            \
    PetscCall(PetscSNPrintf(f->err, sizeof f->err, __VA_ARGS__)); \
    PetscFunctionReturn(PETSC_SUCCESS);                           \
  } while (0)

static int parse_numbers(const char *s, double *v, int n)
{
  char *end;
  for (int i = 0; i < n; i++) {
    while (*s == ' ' || *s == ',' || *s == '\t') s++;
    v[i] = strtod(s, &end);
    if (end == s || !isfinite(v[i])) return 1;
    s = end;
  }
  while (*s == ' ' || *s == '\t') s++;
  return *s != 0;
}

PetscErrorCode pm_extxyz_comment(const char *line, pm_frame_rec_t *f, char **props)
{
  char        key[64], val[4096];
  const char *s    = line;
  const char *prop = XYZ_DEFAULT_PROPS;
  char        propbuf[4096];
  int         have_lat = 0, have_pbc = 0;
  double      lat[9], org[3]         = {0, 0, 0};

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&f->box, sizeof f->box));
  while (next_pair(&s, key, sizeof key, val, sizeof val)) {
    if (!strcasecmp(key, "Lattice")) {
      if (parse_numbers(val, lat, 9)) {
        XYZ_ERR("Lattice=\"%.60s\" must hold 9 numbers", val);
      }
      have_lat = 1;
    } else if (!strcasecmp(key, "Properties")) {
      PetscCall(PetscStrncpy(propbuf, val, sizeof propbuf));
      prop = propbuf;
    } else if (!strcasecmp(key, "pbc")) {
      int         d = 0;
      const char *p = val;
      while (*p && d < 3) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        f->box.periodic[d++] = (*p == 'T' || *p == 't' || *p == '1');
        while (*p && *p != ' ' && *p != ',') p++;
      }
      if (d != 3) {
        XYZ_ERR("pbc=\"%.40s\" must hold 3 flags (T or F)", val);
      }
      have_pbc = 1;
    } else if (!strcasecmp(key, "Origin")) {
      if (parse_numbers(val, org, 3)) {
        XYZ_ERR("Origin=\"%.60s\" must hold 3 numbers", val);
      }
    }
  }
  if (have_lat) {
    double(*h)[3] = f->box.h;
    for (int i = 0; i < 9; i++) h[i / 3][i % 3] = lat[i];
    double det = h[0][0] * (h[1][1] * h[2][2] - h[1][2] * h[2][1]) - h[0][1] * (h[1][0] * h[2][2] - h[1][2] * h[2][0]) + h[0][2] * (h[1][0] * h[2][1] - h[1][1] * h[2][0]);
    if (!(det > 0)) {
      XYZ_ERR("zero or negative box: Lattice vectors have volume %g", det);
    }
    for (int d = 0; d < 3; d++) f->box.lo[d] = org[d];
    f->box.triclinic = h[0][1] != 0 || h[0][2] != 0 || h[1][0] != 0 || h[1][2] != 0 || h[2][0] != 0 || h[2][1] != 0;
    if (!have_pbc)
      for (int d = 0; d < 3; d++) f->box.periodic[d] = 1; /* ASE's default with a Lattice */
  } else if (have_pbc && (f->box.periodic[0] || f->box.periodic[1] || f->box.periodic[2])) {
    XYZ_ERR("pbc asks for periodic boundaries but there is no Lattice=\"...\"");
  }
  f->cols_hash = pm_hash_str(prop);
  if (props && !*props) PetscCall(PetscStrallocpy(prop, props));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Properties=name:T:n:... -> one column per component. */
PetscErrorCode pm_extxyz_columns(MPI_Comm comm, const char *path, int64_t line, const char *props, pm_cols_t *c)
{
  char *buf, *tok, *save = NULL, *f[3];
  int   n = 0, nf = 0, ok = 1;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(props, &buf));
  for (tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
    f[nf++] = tok;
    if (nf == 3) {
      int k = atoi(f[2]);
      if (k <= 0 || strlen(f[1]) != 1 || !strchr("SRIL", f[1][0]))
        ok = 0;
      else
        n += k;
      nf = 0;
    }
  }
  PetscCall(PetscFree(buf));
  PetscCheck(ok && nf == 0 && n > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame 0, line %" PRId64 ": Properties=%s is not a list of name:type:count (type S, R, I or L), e.g. species:S:1:pos:R:3", path, line, props);
  c->ncol = n;
  PetscCall(PetscCalloc1(n, &c->names));
  PetscCall(PetscCalloc1(n, &c->groups));
  PetscCall(PetscMalloc1(n, &c->types));
  PetscCall(PetscMalloc1(n, &c->role));
  PetscCall(PetscStrallocpy(props, &buf));
  n = 0;
  for (tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
    f[nf++] = tok;
    if (nf < 3) continue;
    nf    = 0;
    int k = atoi(f[2]);
    for (int j = 0; j < k; j++, n++) {
      char name[PM_NAME_MAX * 2];
      if (k == 1)
        PetscCall(PetscStrncpy(name, f[0], sizeof name));
      else
        PetscCall(PetscSNPrintf(name, sizeof name, "%s[%d]", f[0], j + 1));
      PetscCall(PetscStrallocpy(name, &c->names[n]));
      PetscCall(PetscStrallocpy(f[0], &c->groups[n]));
      c->types[n] = f[1][0];
      c->role[n]  = PM_COL_SKIP;
      if (!strcmp(f[0], "pos") && k == 3 && f[1][0] == 'R')
        c->role[n] = PM_COL_X + j;
      else if (!strcmp(f[0], "species") && k == 1 && f[1][0] == 'S')
        c->role[n] = PM_COL_NAME, c->has_name = 1;
      else if (!strcmp(f[0], "id") && k == 1 && f[1][0] == 'I')
        c->role[n] = PM_COL_ID, c->has_id = 1;
    }
  }
  PetscCall(PetscFree(buf));
  int have_pos = 0;
  for (int i = 0; i < n; i++) have_pos += c->role[i] == PM_COL_X;
  PetscCheck(have_pos && c->has_name, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame 0, line %" PRId64 ": missing required columns: Properties=%s needs species:S:1 and pos:R:3", path, line, props);
  c->pos_mode = PM_POS_PLAIN;
  PetscFunctionReturn(PETSC_SUCCESS);
}
