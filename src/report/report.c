/* Per-stage timing and memory of a run, printed on rank 0 and stored under /run. */
#include <phasemap/report.h>

#define PM_REPORT_MAX 16

struct pm_report {
  MPI_Comm  comm;
  PetscBool quiet;
  int       n;
  char      name[PM_REPORT_MAX][32];
  double    t0[PM_REPORT_MAX], seconds[PM_REPORT_MAX], rss[PM_REPORT_MAX];
  pm_gidx_t n_points;
  int       dim;
};

PetscErrorCode pm_report_create(MPI_Comm comm, pm_report_t **rep)
{
  PetscFunctionBeginUser;
  PetscCall(PetscNew(rep));
  (*rep)->comm = comm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_set_from_options(pm_report_t *rep)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-quiet", &rep->quiet, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_stage_begin(pm_report_t *rep, const char *name)
{
  PetscFunctionBeginUser;
  PetscCheck(rep->n < PM_REPORT_MAX, rep->comm, PETSC_ERR_PLIB, "too many report stages");
  PetscCall(PetscStrncpy(rep->name[rep->n], name, sizeof rep->name[0]));
  rep->t0[rep->n] = pm_time();
  if (!rep->quiet) PetscCall(PetscPrintf(rep->comm, "phasemap: stage %s ...\n", name));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_stage_end(pm_report_t *rep, const char *name)
{
  double loc[2], glob[2];

  PetscFunctionBeginUser;
  loc[0] = pm_time() - rep->t0[rep->n];
  loc[1] = pm_peak_rss_bytes();
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_MAX, rep->comm));
  rep->seconds[rep->n] = glob[0];
  rep->rss[rep->n]     = glob[1];
  if (!rep->quiet) PetscCall(PetscPrintf(rep->comm, "phasemap: stage %s done in %.2f s (peak memory %.0f MiB per rank)\n", name, glob[0], glob[1] / 1048576.0));
  rep->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_set_input(pm_report_t *rep, pm_gidx_t n, int dim)
{
  PetscFunctionBeginUser;
  rep->n_points = n;
  rep->dim      = dim;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_write(const pm_report_t *rep, pm_output_t *out)
{
  char    names[PM_REPORT_MAX * 33] = "";
  int64_t dims[1]                   = {rep->n};

  PetscFunctionBeginUser;
  for (int i = 0; i < rep->n; i++) {
    if (i) PetscCall(PetscStrlcat(names, ",", sizeof names));
    PetscCall(PetscStrlcat(names, rep->name[i], sizeof names));
  }
  if (rep->n == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(pm_output_attr_string(out, "/run", "stage_names", names));
  PetscCall(pm_output_write_small(out, "/run/stage_seconds", PM_T_DOUBLE, 1, dims, rep->seconds));
  PetscCall(pm_output_write_small(out, "/run/stage_peak_rss_bytes", PM_T_DOUBLE, 1, dims, rep->rss));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_summary(const pm_report_t *rep, const char *output)
{
  double total = 0.0;
  int    size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(rep->comm, &size));
  PetscCall(PetscPrintf(rep->comm, "\nphasemap %s: %" PRId64 " points x %d features on %d ranks\n", PM_VERSION, rep->n_points, rep->dim, size));
  PetscCall(PetscPrintf(rep->comm, "  %-12s %10s %14s\n", "stage", "seconds", "peak MiB/rank"));
  for (int i = 0; i < rep->n; i++) {
    PetscCall(PetscPrintf(rep->comm, "  %-12s %10.2f %14.0f\n", rep->name[i], rep->seconds[i], rep->rss[i] / 1048576.0));
    total += rep->seconds[i];
  }
  PetscCall(PetscPrintf(rep->comm, "  %-12s %10.2f\n", "total", total));
  PetscCall(PetscPrintf(rep->comm, "  output: %s\n", output));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_report_destroy(pm_report_t **rep)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(*rep));
  PetscFunctionReturn(PETSC_SUCCESS);
}
