/* Test helpers of the descriptors tests: a tiny LAMMPS dump reader (plain or gzip, orthogonal or
 * triclinic), a pm_atoms_t built from a rank's block of the atoms, and an all-reduce gather of
 * per-atom rows (each atom is owned by exactly one rank, so x + 0 sums are exact). */
#pragma once
#include "descriptors/desc_impl.h"
#include <zlib.h>
#include <string.h>
#include <stdlib.h>

typedef struct {
  int64_t  natoms, timestep;
  pm_box_t box;
  int      ncol;
  char     cols[64][32];
  double  *v; /* natoms x ncol, file order */
} tdump_t;

static int tdump_col(const tdump_t *D, const char *name)
{
  for (int c = 0; c < D->ncol; c++)
    if (!strcmp(D->cols[c], name)) return c;
  return -1;
}

/* Reads frame `want` (0-based). Returns 0 on success. */
static int tdump_read(const char *path, int want, tdump_t *D)
{
  gzFile f = gzopen(path, "rb");
  char   line[8192];
  int    frame = -1;

  if (!f) return 1;
  memset(D, 0, sizeof *D);
  while (gzgets(f, line, sizeof line)) {
    if (strncmp(line, "ITEM: TIMESTEP", 14)) continue;
    frame++;
    if (!gzgets(f, line, sizeof line)) break;
    D->timestep = atoll(line);
    gzgets(f, line, sizeof line);
    gzgets(f, line, sizeof line);
    D->natoms = atoll(line);
    gzgets(f, line, sizeof line);
    {
      int    tri = strstr(line, "xy") != NULL;
      double lo[3], hi[3], t[3] = {0, 0, 0};
      for (int d = 0; d < 3; d++) {
        gzgets(f, line, sizeof line);
        if (tri) sscanf(line, "%lf %lf %lf", &lo[d], &hi[d], &t[d]);
        else sscanf(line, "%lf %lf", &lo[d], &hi[d]);
      }
      /* LAMMPS bounding box -> lo and edge vectors (xy, xz, yz tilts) */
      {
        double xy = t[0], xz = t[1], yz = t[2];
        double xlo = lo[0] - fmin(fmin(0.0, xy), fmin(xz, xy + xz)), xhi = hi[0] - fmax(fmax(0.0, xy), fmax(xz, xy + xz));
        double ylo = lo[1] - fmin(0.0, yz), yhi = hi[1] - fmax(0.0, yz);
        memset(&D->box, 0, sizeof D->box);
        D->box.lo[0]   = xlo;
        D->box.lo[1]   = ylo;
        D->box.lo[2]   = lo[2];
        D->box.h[0][0] = xhi - xlo;
        D->box.h[1][0] = xy;
        D->box.h[1][1] = yhi - ylo;
        D->box.h[2][0] = xz;
        D->box.h[2][1] = yz;
        D->box.h[2][2] = hi[2] - lo[2];
        D->box.triclinic = tri;
        D->box.periodic[0] = D->box.periodic[1] = D->box.periodic[2] = 1;
      }
    }
    gzgets(f, line, sizeof line);
    {
      char *tok, *save = NULL;
      D->ncol = 0;
      strtok_r(line, " \t\n", &save);
      strtok_r(NULL, " \t\n", &save);
      while ((tok = strtok_r(NULL, " \t\n", &save))) snprintf(D->cols[D->ncol++], 32, "%s", tok);
    }
    if (frame != want) continue;
    D->v = (double *)malloc(sizeof(double) * D->natoms * D->ncol);
    for (int64_t i = 0; i < D->natoms; i++) {
      char *p = line, *e;
      if (!gzgets(f, line, sizeof line)) break;
      for (int c = 0; c < D->ncol; c++) {
        D->v[i * D->ncol + c] = strtod(p, &e);
        p                     = e;
      }
    }
    gzclose(f);
    return 0;
  }
  gzclose(f);
  return 2;
}

static int tcmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* pm_atoms_t holding atoms [start, start+count) of the file order; order = rank of id. */
static pm_atoms_t *tdump_atoms(const tdump_t *D, int64_t start, int64_t count)
{
  pm_atoms_t *A  = (pm_atoms_t *)calloc(1, sizeof *A);
  int         ci = tdump_col(D, "id"), ct = tdump_col(D, "type");
  int         cx = tdump_col(D, "x"), cy = tdump_col(D, "y"), cz = tdump_col(D, "z");

  A->box     = D->box;
  A->natoms  = D->natoms;
  A->n_local = count;
  A->id      = (int64_t *)malloc(sizeof(int64_t) * (count + 1));
  A->order   = (int64_t *)malloc(sizeof(int64_t) * (count + 1));
  A->species = (int *)malloc(sizeof(int) * (count + 1));
  A->pos     = (double *)malloc(sizeof(double) * 3 * (count + 1));
  int64_t *all = (int64_t *)malloc(sizeof(int64_t) * (D->natoms + 1));
  for (int64_t j = 0; j < D->natoms; j++) all[j] = (int64_t)D->v[j * D->ncol + ci];
  qsort(all, (size_t)D->natoms, sizeof *all, tcmp_i64);
  for (int64_t k = 0; k < count; k++) {
    int64_t i = start + k, lo = 0, hi = D->natoms - 1;
    A->id[k]  = (int64_t)D->v[i * D->ncol + ci];
    while (lo < hi) { /* rank of the id among all ids */
      int64_t mid = (lo + hi) / 2;
      if (all[mid] < A->id[k]) lo = mid + 1;
      else hi = mid;
    }
    A->order[k]      = lo;
    A->species[k]    = ct >= 0 ? (int)D->v[i * D->ncol + ct] - 1 : 0;
    A->pos[3 * k]     = D->v[i * D->ncol + cx];
    A->pos[3 * k + 1] = D->v[i * D->ncol + cy];
    A->pos[3 * k + 2] = D->v[i * D->ncol + cz];
  }
  free(all);
  return A;
}

static void tatoms_free(pm_atoms_t *A)
{
  free(A->id);
  free(A->order);
  free(A->species);
  free(A->pos);
  free(A->extra);
  free(A);
}

/* rows (natoms x dim, by order) <- this rank's fr rows; all-reduced over comm. */
static void tgather(MPI_Comm comm, int64_t natoms, int dim, const pm_frame_rows_t *fr, double *rows)
{
  double *loc = (double *)calloc((size_t)natoms * dim + 1, sizeof(double));
  for (int64_t i = 0; i < fr->n; i++) memcpy(loc + fr->order[i] * dim, fr->x + i * dim, sizeof(double) * dim);
  MPI_Allreduce(loc, rows, (int)(natoms * dim), MPI_DOUBLE, MPI_SUM, comm);
  free(loc);
}
