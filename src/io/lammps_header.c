/* LAMMPS text dump: frame headers (timestep, atom count, box) and the ITEM: ATOMS column table. */
#include "io/traj_impl.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

uint64_t pm_hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* Exactly n numbers separated by blanks; returns 0 on success. */
static int parse_doubles(const char *s, double *v, int n)
{
  char *end;
  for (int i = 0; i < n; i++) {
    v[i] = strtod(s, &end);
    if (end == s || (*end && *end != ' ' && *end != '\t') || !isfinite(v[i])) return 1;
    s = end;
  }
  while (*s == ' ' || *s == '\t') s++;
  return *s != 0;
}

static int parse_int64(const char *s, int64_t *v)
{
  char *end;
  while (*s == ' ' || *s == '\t') s++;
  *v = strtoll(s, &end, 10);
  if (end == s) return 1;
  while (*end == ' ' || *end == '\t') end++;
  return *end != 0;
}

#define HDR_ERR(...)                                              \
  do {                                                            \
    PetscCall(PetscSNPrintf(f->err, sizeof f->err, __VA_ARGS__)); \
    f->err_line = r->lineno - 1;                                  \
    PetscFunctionReturn(PETSC_SUCCESS);                           \
  } while (0)

static PetscErrorCode next_or_truncated(pm_lreader_t *r, const char *path, pm_frame_rec_t *f, char **line)
{
  size_t  len;
  int64_t at;

  PetscFunctionBeginUser;
  PetscCall(pm_lreader_next(r, path, line, &len, &at));
  if (!*line) {
    f->truncated = 1;
    f->err_line  = r->lineno;
    PetscCall(PetscSNPrintf(f->err, sizeof f->err, "the file ends inside the frame header"));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Box from the 3 lines after ITEM: BOX BOUNDS; `kind` 0 orthogonal, 1 xy xz yz, 2 abc origin. */
static PetscErrorCode parse_box(pm_lreader_t *r, const char *path, pm_frame_rec_t *f, int kind)
{
  double v[3][4], t[3] = {0, 0, 0};
  int    nv = kind == 0 ? 2 : kind == 1 ? 3
                                        : 4;
  char  *line;

  PetscFunctionBeginUser;
  for (int d = 0; d < 3; d++) {
    PetscCall(next_or_truncated(r, path, f, &line));
    if (!line) PetscFunctionReturn(PETSC_SUCCESS);
    if (parse_doubles(line, v[d], nv)) HDR_ERR("BOX BOUNDS line '%.60s' must hold %d numbers", line, nv);
  }
  PetscCall(PetscMemzero(f->box.h, sizeof f->box.h));
  if (kind == 2) { /* general triclinic: edge vectors and origin */
    for (int d = 0; d < 3; d++) {
      for (int e = 0; e < 3; e++) f->box.h[d][e] = v[d][e];
      f->box.lo[d] = v[d][3];
    }
    double det = v[0][0] * (v[1][1] * v[2][2] - v[1][2] * v[2][1]) - v[0][1] * (v[1][0] * v[2][2] - v[1][2] * v[2][0]) + v[0][2] * (v[1][0] * v[2][1] - v[1][1] * v[2][0]);
    if (!(det > 0)) HDR_ERR("zero or negative box: the cell vectors a, b, c have volume %g", det);
    f->box.triclinic = 1;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (kind == 1) { /* bounding box -> lo/hi (LAMMPS Howto triclinic) */
    double xy = v[0][2], xz = v[1][2], yz = v[2][2];
    t[0]      = fmin(fmin(0.0, xy), fmin(xz, xy + xz));
    double tx = fmax(fmax(0.0, xy), fmax(xz, xy + xz));
    v[0][0] -= t[0];
    v[0][1] -= tx;
    v[1][0] -= fmin(0.0, yz);
    v[1][1] -= fmax(0.0, yz);
    f->box.h[1][0]   = xy;
    f->box.h[2][0]   = xz;
    f->box.h[2][1]   = yz;
    f->box.triclinic = 1;
  }
  for (int d = 0; d < 3; d++) {
    if (!(v[d][1] > v[d][0])) {
      PetscCall(PetscSNPrintf(f->err, sizeof f->err, "zero or negative box: %c from %.17g to %.17g", "xyz"[d], v[d][0], v[d][1]));
      f->err_line = r->lineno - 3 + d;
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    f->box.lo[d]   = v[d][0];
    f->box.h[d][d] = v[d][1] - v[d][0];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode box_kind(const char *line, pm_frame_rec_t *f, int *kind)
{
  char        buf[256], *tok, *save = NULL;
  int         nflag = 0;
  const char *rest  = line + strlen("ITEM: BOX BOUNDS");

  PetscFunctionBeginUser;
  *kind = 0;
  for (int d = 0; d < 3; d++) f->box.periodic[d] = 1; /* old dumps carry no flags */
  PetscCall(PetscStrncpy(buf, rest, sizeof buf));
  for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
    if (!strcmp(tok, "xy") || !strcmp(tok, "xz") || !strcmp(tok, "yz"))
      *kind = 1;
    else if (!strcmp(tok, "abc") || !strcmp(tok, "origin"))
      *kind = 2;
    else if (nflag < 3)
      f->box.periodic[nflag++] = (tok[0] == 'p' && tok[1] == 'p');
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The ITEM: TIMESTEP line was just read from r; consume the header up to ITEM: ATOMS. */
static int item_is(const char *s, const char *item)
{
  size_t n = strlen(item);
  if (strncmp(s, item, n)) return 0;
  for (s += n; *s; s++)
    if (*s != ' ' && *s != '\t') return 0;
  return 1;
}

/* The line starts a frame: ITEM: TIMESTEP, or ITEM: UNITS / ITEM: TIME, which LAMMPS writes before
 * it (dump_modify units yes / time yes). */
int pm_lammps_frame_item(const char *s) { return item_is(s, "ITEM: TIMESTEP") || item_is(s, "ITEM: TIME") || item_is(s, "ITEM: UNITS"); }

PetscErrorCode pm_lammps_header(pm_lreader_t *r, const char *path, pm_frame_rec_t *f, const char *first, char **colline)
{
  char *line;
  int   have_n = 0, have_box = 0, is_ts = item_is(first, "ITEM: TIMESTEP");

  PetscFunctionBeginUser;
  while (!is_ts) { /* skip the UNITS / TIME blocks up to ITEM: TIMESTEP */
    PetscCall(next_or_truncated(r, path, f, &line));
    if (line) PetscCall(next_or_truncated(r, path, f, &line));
    if (!line) PetscFunctionReturn(PETSC_SUCCESS);
    is_ts = item_is(line, "ITEM: TIMESTEP");
    if (!is_ts && !pm_lammps_frame_item(line)) HDR_ERR("expected ITEM: TIMESTEP, found '%.60s'", line);
  }
  PetscCall(next_or_truncated(r, path, f, &line));
  if (!line) PetscFunctionReturn(PETSC_SUCCESS);
  if (parse_int64(line, &f->timestep)) HDR_ERR("ITEM: TIMESTEP value '%.40s' is not an integer", line);
  for (;;) {
    PetscCall(next_or_truncated(r, path, f, &line));
    if (!line) PetscFunctionReturn(PETSC_SUCCESS);
    if (!strncmp(line, "ITEM: NUMBER OF ATOMS", 21)) {
      PetscCall(next_or_truncated(r, path, f, &line));
      if (!line) PetscFunctionReturn(PETSC_SUCCESS);
      if (parse_int64(line, &f->natoms) || f->natoms <= 0) HDR_ERR("NUMBER OF ATOMS '%.40s' is not a positive integer", line);
      have_n = 1;
    } else if (!strncmp(line, "ITEM: BOX BOUNDS", 16)) {
      int kind;
      PetscCall(box_kind(line, f, &kind));
      PetscCall(parse_box(r, path, f, kind));
      if (f->err[0]) PetscFunctionReturn(PETSC_SUCCESS);
      have_box = 1;
    } else if (!strncmp(line, "ITEM: ATOMS", 11)) {
      const char *c = line + 11;
      while (*c == ' ' || *c == '\t') c++;
      if (!have_n || !have_box) HDR_ERR("ITEM: ATOMS comes before %s", have_n ? "ITEM: BOX BOUNDS" : "ITEM: NUMBER OF ATOMS");
      f->cols_hash    = pm_hash_str(c);
      f->atoms_offset = r->buf_off + (int64_t)r->beg;
      f->atoms_line   = r->lineno;
      f->atoms_nb     = r->nbno;
      if (colline && !*colline) PetscCall(PetscStrallocpy(c, colline));
      PetscFunctionReturn(PETSC_SUCCESS);
    } else if (!strncmp(line, "ITEM: TIME", 10) || !strncmp(line, "ITEM: UNITS", 11)) {
      PetscCall(next_or_truncated(r, path, f, &line));
      if (!line) PetscFunctionReturn(PETSC_SUCCESS);
    } else
      HDR_ERR("unexpected line '%.60s' in the frame header (expected ITEM: NUMBER OF ATOMS, BOX BOUNDS or ATOMS)", line);
  }
}

static const char *const pos_sets[4][3] = {
    {"x", "y", "z"}, {"xu", "yu", "zu"}, {"xs", "ys", "zs"}, {"xsu", "ysu", "zsu"}};

PetscErrorCode pm_lammps_columns(MPI_Comm comm, const char *path, int64_t line, const char *colline, pm_cols_t *c)
{
  char *buf, *tok, *save = NULL;
  int   n = 0, found = -1;

  PetscFunctionBeginUser;
  PetscCall(PetscStrallocpy(colline, &buf));
  for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) n++;
  PetscCall(PetscFree(buf));
  PetscCheck(n > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: frame 0, line %" PRId64 ": ITEM: ATOMS names no columns", path, line);
  c->ncol = n;
  PetscCall(PetscCalloc1(n, &c->names));
  PetscCall(PetscMalloc1(n, &c->role));
  PetscCall(PetscStrallocpy(colline, &buf));
  n = 0;
  for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
    PetscCall(PetscStrallocpy(tok, &c->names[n]));
    c->role[n] = PM_COL_SKIP;
    if (!strcmp(tok, "id"))
      c->role[n] = PM_COL_ID, c->has_id = 1;
    else if (!strcmp(tok, "type"))
      c->role[n] = PM_COL_TYPE, c->has_type = 1;
    else if (!strcmp(tok, "element"))
      c->role[n] = PM_COL_NAME, c->has_name = 1;
    n++;
  }
  PetscCall(PetscFree(buf));
  for (int s = 0; s < 4 && found < 0; s++) { /* first complete set wins: x y z, xu.., xs.., xsu.. */
    int idx[3] = {-1, -1, -1};
    for (int d = 0; d < 3; d++)
      for (int i = 0; i < n; i++)
        if (!strcmp(c->names[i], pos_sets[s][d])) idx[d] = i;
    if (idx[0] >= 0 && idx[1] >= 0 && idx[2] >= 0) {
      found = s;
      for (int d = 0; d < 3; d++) c->role[idx[d]] = PM_COL_X + d;
    }
  }
  PetscCheck(found >= 0, comm, PETSC_ERR_FILE_UNEXPECTED,
             "%s: frame 0, line %" PRId64 ": missing required columns: ITEM: ATOMS has none of the position sets x y z, xu yu zu, xs ys zs, xsu ysu zsu; dump them with 'dump custom ... id type x y z'",
             path, line);
  c->pos_mode = found == 0 ? PM_POS_PLAIN : found == 1 ? PM_POS_UNWRAPPED
                                        : found == 2   ? PM_POS_SCALED
                                                       : PM_POS_SCALED_UNWRAPPED;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cols_destroy(pm_cols_t *c)
{
  PetscFunctionBeginUser;
  for (int i = 0; i < c->ncol; i++) {
    if (c->names) PetscCall(PetscFree(c->names[i]));
    if (c->groups) PetscCall(PetscFree(c->groups[i]));
  }
  PetscCall(PetscFree(c->names));
  PetscCall(PetscFree(c->groups));
  PetscCall(PetscFree(c->types));
  PetscCall(PetscFree(c->role));
  PetscCall(PetscMemzero(c, sizeof *c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
