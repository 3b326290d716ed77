/* Parse a block of atom lines (whole lines of one frame) into ids, species, positions, extras. */
#include "io/traj_impl.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define PARSE_ERR(...)                                 \
  do {                                                 \
    p->err_line = line_no;                             \
    PetscSNPrintf(p->err, sizeof p->err, __VA_ARGS__); \
    return 1;                                          \
  } while (0)

static int name_index(const pm_traj_t *t, const char *s, size_t n)
{
  for (int i = 0; i < t->nspecies; i++)
    if (strlen(t->names[i]) == n && !strncmp(t->names[i], s, n)) return i;
  return -1;
}

static int collect_name(pm_parsed_t *p, const char *s, size_t n, int64_t line_no)
{
  for (int i = 0; i < p->nnames; i++)
    if (strlen(p->names[i]) == n && !strncmp(p->names[i], s, n)) return 0;
  if (p->nnames == PM_SPECIES_MAX) PARSE_ERR("more than %d species names in frame 0; phasemap supports at most %d species", PM_SPECIES_MAX, PM_SPECIES_MAX);
  memcpy(p->names[p->nnames], s, n);
  p->names[p->nnames++][n] = 0;
  return 0;
}

/* One atom line; returns non-zero after recording an error. */
static int parse_line(const pm_traj_t *t, const pm_frame_rec_t *f, char *s, int64_t line_no, int collect, pm_parsed_t *p)
{
  const pm_cols_t *c = &t->cols;
  int64_t          a = p->n, type = 1;
  double           v[3] = {0, 0, 0};
  const char      *nm   = NULL;
  size_t           nn   = 0;

  for (int i = 0; i < c->ncol; i++) {
    char *tok, *end;
    int   role;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) PARSE_ERR("%d values on the line, expected %d (%s)", i, c->ncol, t->colline);
    tok = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    role = c->role[i];
    if (role == PM_COL_SKIP || (collect && role != PM_COL_NAME && role != PM_COL_TYPE)) continue; /* the species scan of frame 0 reads only names/types */
    if (role == PM_COL_NAME) {
      nm = tok;
      nn = (size_t)(s - tok);
      if (nn >= PM_NAME_MAX) PARSE_ERR("species name '%.*s' is longer than %d characters", (int)nn, tok, PM_NAME_MAX - 1);
    } else if (role == PM_COL_ID || role == PM_COL_TYPE) {
      long long iv = strtoll(tok, &end, 10);
      if (end != s || end == tok) PARSE_ERR("column '%s' value '%.*s' is not an integer", c->names[i], (int)(s - tok), tok);
      if (role == PM_COL_ID)
        p->id[a] = iv;
      else
        type = iv;
    } else {
      double x;
      if (c->types && c->types[i] == 'L' && s - tok == 1 && strchr("TFtf", *tok))
        x = (*tok == 'T' || *tok == 't');
      else {
        x = strtod(tok, &end);
        if (end != s || end == tok || !isfinite(x)) PARSE_ERR("column '%s' value '%.*s' is not a number", c->names[i], (int)(s - tok), tok);
      }
      if (role >= PM_COL_EXTRA)
        p->extra[a * t->n_extra + role - PM_COL_EXTRA] = x;
      else
        v[role - PM_COL_X] = x;
    }
  }
  while (*s == ' ' || *s == '\t') s++;
  if (*s) PARSE_ERR("more than %d values on the line (%s)", c->ncol, t->colline);
  if (c->has_type && type < 1) PARSE_ERR("atom type %lld must be 1 or more", (long long)type);
  if (collect) {
    if (t->species_by_type)
      p->type[a] = (int)(type > INT32_MAX ? INT32_MAX : type);
    else if (nm && collect_name(p, nm, nn, line_no))
      return 1;
    p->n++;
    return 0;
  }
  if (t->species_by_type) {
    if (type > t->nspecies)
      PARSE_ERR("unknown atom type %lld: %s", (long long)type, t->species_given ? "-species names fewer types; add names to -species" : "frame 0 has fewer types; name every type with -species");
    p->type[a] = (int)type - 1;
  } else if (nm) {
    int k = name_index(t, nm, nn);
    if (k < 0) PARSE_ERR("unknown species '%.*s': %s", (int)nn, nm, t->species_given ? "it is not in -species; add it there" : "frame 0 has no such atom; list every species with -species");
    p->type[a] = k;
  } else
    p->type[a] = 0;
  if (t->cols.pos_mode == PM_POS_SCALED || t->cols.pos_mode == PM_POS_SCALED_UNWRAPPED) {
    const pm_box_t *b = &f->box; /* r = lo + s h (rows of h are the edge vectors) */
    for (int d = 0; d < 3; d++) p->pos[3 * a + d] = b->lo[d] + v[0] * b->h[0][d] + v[1] * b->h[1][d] + v[2] * b->h[2][d];
  } else
    for (int d = 0; d < 3; d++) p->pos[3 * a + d] = v[d];
  p->n++;
  return 0;
}

/* Grow the arrays of p to hold at least n atoms. */
static PetscErrorCode reserve(const pm_traj_t *t, pm_parsed_t *p, int64_t n)
{
  int64_t  cap = PetscMax(n, 2 * p->cap), ne = t->n_extra;
  int64_t *id;
  int     *type;
  double  *pos, *extra;

  PetscFunctionBeginUser;
  if (n <= p->cap && p->id) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc4(cap + 1, &id, cap + 1, &type, 3 * cap + 1, &pos, cap * ne + 1, &extra));
  if (p->id) {
    PetscCall(PetscArraycpy(id, p->id, p->n));
    PetscCall(PetscArraycpy(type, p->type, p->n));
    PetscCall(PetscArraycpy(pos, p->pos, 3 * p->n));
    PetscCall(PetscArraycpy(extra, p->extra, p->n * ne));
    PetscCall(PetscFree4(p->id, p->type, p->pos, p->extra));
  }
  p->id    = id;
  p->type  = type;
  p->pos   = pos;
  p->extra = extra;
  p->cap   = cap;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pm_parsed_init(pm_parsed_t *p)
{
  PetscMemzero(p, sizeof *p);
  p->err_line = -1;
}

/* Append the atoms of a block of whole lines (text[len] must be writable); stops at the first problem. */
PetscErrorCode pm_traj_parse_block(const pm_traj_t *t, const pm_frame_rec_t *f, char *text, size_t len, int collect, pm_parsed_t *p)
{
  int64_t nl = 0, line_no = p->nlines;
  char   *s = text, *end = text + len;

  PetscFunctionBeginUser;
  if (p->err_line >= 0) PetscFunctionReturn(PETSC_SUCCESS);
  for (char *q = text; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++) nl++;
  if (len && text[len - 1] != '\n') nl++;
  PetscCall(reserve(t, p, p->n + nl));
  while (s < end) {
    char *q = memchr(s, '\n', (size_t)(end - s)), *next;
    if (!q) q = end;
    next = q + 1;
    *q   = 0;
    if (q > s && q[-1] == '\r') q[-1] = 0;
    if (!pm_line_is_blank(s) && parse_line(t, f, s, line_no, collect, p)) break;
    line_no++;
    s = next;
  }
  p->nlines += nl;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void pm_parsed_free(pm_parsed_t *p)
{
  if (p->id) PetscFree4(p->id, p->type, p->pos, p->extra);
  p->id = NULL;
}
