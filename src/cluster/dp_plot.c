/* Decision graph of classic density peaks: <stem>_decision_graph.dat (one fixed-width line per point,
 * written collectively with MPI-IO at offset header + index * line, so no rank gathers the points) and
 * <stem>_decision_graph.png drawn by gnuplot on rank 0 when gnuplot is installed. <stem> is -output
 * without its .h5 extension. */
#include "cluster_impl.h"
#include <stdio.h>
#include <string.h>

#define DG_LINE 96

static PetscErrorCode stem_of(const char *output, char *stem, size_t len)
{
  char *dot;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(stem, output[0] ? output : "phasemap", len));
  dot = strrchr(stem, '.');
  if (dot && (!strcmp(dot, ".h5") || !strcmp(dot, ".hdf5"))) *dot = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One line: fixed width, space padded, newline at the end. */
static void format_line(char *l, const char *text)
{
  size_t n = strlen(text);
  memset(l, ' ', DG_LINE);
  memcpy(l, text, n < DG_LINE - 1 ? n : DG_LINE - 1);
  l[DG_LINE - 1] = '\n';
}

static PetscErrorCode write_table(const pm_cluster_t *cl, const char *path)
{
  char    *buf, text[DG_LINE + 64];
  MPI_File fh;
  int      rank, rc;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(cl->comm, &rank));
  PetscCall(PetscMalloc1((size_t)cl->n_local * DG_LINE + 1, &buf));
  for (pm_gidx_t i = 0; i < cl->n_local; i++) {
    snprintf(text, sizeof text, "%14" PRId64 " %+.12e %+.12e %14" PRId64 " %10" PRId64, cl->row_start + i, cl->dp_log_den[i], cl->delta[i], cl->ref[i], cl->res->label[i]);
    format_line(buf + i * DG_LINE, text);
  }
  rc = MPI_File_open(cl->comm, path, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
  PetscCheck(rc == MPI_SUCCESS, cl->comm, PETSC_ERR_FILE_OPEN, "cannot create the decision graph table %s; check the directory of -output", path);
  PetscCallMPI(MPI_File_set_size(fh, 0));
  if (rank == 0) {
    format_line(text, "# index log_density delta nearest_higher_index label");
    PetscCallMPI(MPI_File_write_at(fh, 0, text, DG_LINE, MPI_CHAR, MPI_STATUS_IGNORE));
  }
  {
    MPI_Datatype lt;
    PetscCallMPI(MPI_Type_contiguous(DG_LINE, MPI_CHAR, &lt));
    PetscCallMPI(MPI_Type_commit(&lt));
    PetscCheck(cl->n_local < INT32_MAX, cl->comm, PETSC_ERR_SUP, "decision graph: too many points per rank");
    PetscCallMPI(MPI_File_write_at_all(fh, (MPI_Offset)(cl->row_start + 1) * DG_LINE, buf, (int)cl->n_local, lt, MPI_STATUS_IGNORE));
    PetscCallMPI(MPI_Type_free(&lt));
  }
  PetscCallMPI(MPI_File_close(&fh));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: PNG through gnuplot if it is on the PATH; otherwise a one-line note. */
static PetscErrorCode plot_png(const pm_cluster_t *cl, const char *dat, const char *png)
{
  FILE *fp;
  char  found[PM_PATH_MAX] = "";
  int   rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(cl->comm, &rank));
  if (rank != 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscPOpen(PETSC_COMM_SELF, NULL, "command -v gnuplot", "r", &fp));
  if (!fgets(found, sizeof found, fp)) found[0] = 0;
  PetscCall(PetscPClose(PETSC_COMM_SELF, fp));
  if (!found[0]) {
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "cluster: gnuplot not found; decision graph written as %s only\n", dat));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscPOpen(PETSC_COMM_SELF, NULL, "gnuplot", "w", &fp));
  fprintf(fp, "set terminal pngcairo size 900,700\nset output '%s'\n", png);
  fprintf(fp, "set title 'density peaks decision graph (%" PRId64 " centres)'\nset xlabel 'log density'\nset ylabel 'delta'\n", cl->res->K);
  fprintf(fp, "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2\n", cl->delta_cut_used, cl->delta_cut_used);
  fprintf(fp, "plot '%s' using 2:3 with dots lc rgb '#404040' title 'points', '' using ($5 >= 0 && $4 < 0 || $3 > %g && $2 > %g ? $2 : 1/0):3 with points pt 7 lc rgb 'red' title 'centres'\n", dat, cl->delta_cut_used, cl->rho_cut_used);
  PetscCall(PetscPClose(PETSC_COMM_SELF, fp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_cluster_write_decision_graph(const pm_cluster_t *cl)
{
  char stem[PM_PATH_MAX], dat[PM_PATH_MAX + 32], png[PM_PATH_MAX + 32];

  PetscFunctionBeginUser;
  PetscCall(stem_of(cl->output, stem, sizeof stem));
  PetscCall(PetscSNPrintf(dat, sizeof dat, "%s_decision_graph.dat", stem));
  PetscCall(PetscSNPrintf(png, sizeof png, "%s_decision_graph.png", stem));
  PetscCall(write_table(cl, dat));
  PetscCall(plot_png(cl, dat, png));
  PetscFunctionReturn(PETSC_SUCCESS);
}
