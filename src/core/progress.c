/* Progress lines on rank 0 ("knn 45% (9/20) 12.3 s, ETA 15.0 s"), at most every few seconds. */
#include <phasemap/core.h>
#include <sys/resource.h>
#include <time.h>

struct pm_progress {
  MPI_Comm  comm;
  char      what[64];
  int64_t   total;
  double    t0, last;
  PetscBool quiet;
  int       rank;
};

#define PM_PROGRESS_EVERY 5.0 /* seconds between lines */

double pm_time(void) { return MPI_Wtime(); }

double pm_cpu_time(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) return 0.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double pm_page_faults(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru)) return 0.0;
  return (double)ru.ru_minflt + (double)ru.ru_majflt;
}

double pm_peak_rss_bytes(void)
{
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru)) return 0.0;
  return (double)ru.ru_maxrss * 1024.0;
}

PetscErrorCode pm_progress_create(MPI_Comm comm, const char *what, int64_t total, pm_progress_t **p)
{
  pm_progress_t *P;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&P));
  P->comm  = comm;
  P->total = total > 0 ? total : 1;
  P->t0 = P->last = pm_time();
  PetscCall(PetscStrncpy(P->what, what, sizeof P->what));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-quiet", &P->quiet, NULL));
  PetscCallMPI(MPI_Comm_rank(comm, &P->rank));
  *p = P;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_progress_step(pm_progress_t *p, int64_t done)
{
  double now = pm_time();

  PetscFunctionBeginUser;
  if (!p || p->quiet || p->rank != 0 || now - p->last < PM_PROGRESS_EVERY) PetscFunctionReturn(PETSC_SUCCESS);
  p->last = now;
  {
    double el = now - p->t0, frac = (double)done / (double)p->total;
    double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "  %s %3.0f%% (%" PRId64 "/%" PRId64 ") %.1f s, ETA %.1f s\n", p->what, 100.0 * frac, done, p->total, el, eta));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_progress_destroy(pm_progress_t **p)
{
  PetscFunctionBeginUser;
  if (!*p) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(*p));
  PetscFunctionReturn(PETSC_SUCCESS);
}
