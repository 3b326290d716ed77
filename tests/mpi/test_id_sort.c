/* id module internals on 1..3 ranks: the distributed sample sort gives globally ordered slices with
 * correct offsets (values with many ties, unequal counts per rank, an empty rank), and the
 * percentiles equal numpy.percentile (constants from numpy 1.24) bit for bit. */
#include "id/id_impl.h"
#include "pm_test.h"

static double value(pm_gidx_t g)
{
  return (double)((g * 7919) % 1000) / 7.0;
}

int main(int argc, char **argv)
{
  static const double q[]   = {0, 50, 95, 33.3, 99.9, 100};
  static const double ref[] = {0.0, 71.28571428571429, 135.57142857142858, 47.42857142857142, 142.5714285714286, 142.71428571428572};
  MPI_Comm            comm;
  int                 rank, size;
  pm_gidx_t           N = 1001, start, cnt, nsorted, off, total;
  double             *v, *sorted, first, last;
  int                 rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  /* an uneven layout: the last rank holds nothing when size > 1 */
  pm_block_range(N, size > 1 ? size - 1 : 1, rank, &start, &cnt);
  if (size > 1 && rank == size - 1) cnt = 0;
  PetscCall(PetscMalloc1(cnt + 1, &v));
  for (pm_gidx_t i = 0; i < cnt; i++) v[i] = value(start + i);
  PetscCall(pm_id_sort(comm, cnt, v, &sorted, &nsorted, &off));
  for (pm_gidx_t l = 1; l < nsorted; l++) PM_TEST(sorted[l - 1] <= sorted[l], "slice not sorted at %" PRId64, l);
  MPI_Allreduce(&nsorted, &total, 1, MPI_INT64_T, MPI_SUM, comm);
  PM_TEST(total == N, "total %" PRId64, total);
  {
    pm_gidx_t expect_off = 0, n_below;
    MPI_Exscan(&nsorted, &expect_off, 1, MPI_INT64_T, MPI_SUM, comm);
    if (rank == 0) expect_off = 0;
    PM_TEST(off == expect_off, "offset %" PRId64 " vs %" PRId64, off, expect_off);
    /* the slice must start at its global rank: count values below the first element */
    if (nsorted) {
      first   = sorted[0];
      n_below = 0;
      for (pm_gidx_t g = 0; g < N; g++) n_below += value(g) < first;
      PM_TEST(n_below <= off, "slice start %" PRId64 " but %" PRId64 " smaller values", off, n_below);
      last    = sorted[nsorted - 1];
      n_below = 0;
      for (pm_gidx_t g = 0; g < N; g++) n_below += value(g) <= last;
      PM_TEST(n_below >= off + nsorted, "slice end");
    }
  }
  for (int j = 0; j < (int)(sizeof q / sizeof q[0]); j++) {
    double p;
    PetscCall(pm_id_percentile(comm, sorted, nsorted, off, N, q[j], &p));
    PM_TEST(p == ref[j], "percentile %g = %.17g, numpy %.17g", q[j], p, ref[j]);
  }
  PetscCall(PetscFree(sorted));
  PetscCall(PetscFree(v));
  rc = pm_test_finish_mpi(comm);
  PetscCall(PetscFinalize());
  return rc;
}
