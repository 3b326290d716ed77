/* Minimal test assertions: PM_TEST(cond, fmt, ...) counts, pm_test_finish prints "N passed, N failed". */
#pragma once
#include <stdio.h>
#include <math.h>
#include <mpi.h>

static int pm_test_n, pm_test_failed;

#define PM_TEST(cond, ...) \
  do { \
    pm_test_n++; \
    if (!(cond)) { \
      pm_test_failed++; \
      printf("not ok %d %s:%d: ", pm_test_n, __FILE__, __LINE__); \
      printf(__VA_ARGS__); \
      printf("\n"); \
      fflush(stdout); \
    } \
  } while (0)

/* |a - b| <= tol * max(1, |b|) */
static inline int pm_test_close(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(1.0, fabs(b)); }

static inline int pm_test_finish(void)
{
  printf("%d passed, %d failed\n", pm_test_n - pm_test_failed, pm_test_failed);
  return pm_test_failed != 0;
}

/* Sums counts over the ranks of comm; rank 0 prints. Returns non-zero on every rank if any failed. */
static inline int pm_test_finish_mpi(MPI_Comm comm)
{
  int loc[2] = {pm_test_n, pm_test_failed}, tot[2], rank;
  MPI_Allreduce(loc, tot, 2, MPI_INT, MPI_SUM, comm);
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) printf("%d passed, %d failed\n", tot[0] - tot[1], tot[1]);
  return tot[1] != 0;
}
