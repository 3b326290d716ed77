/* id module internals on 1..3 ranks: the distributed sample sort gives globally ordered slices with
 * correct offsets (values with many ties, unequal counts per rank, an empty rank; two groups sorted
 * together, the second the negated first), and the percentiles equal numpy.percentile (constants
 * from numpy 1.24) bit for bit. */
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
  static const double neg[] = {-142.71428571428572, -71.28571428571429, -7.0, -95.14285714285715, 0.0, 0.0};
  MPI_Comm            comm;
  int                 rank, size;
  pm_gidx_t           N = 1001, start, cnt, nsorted, off, total, cnts[2], offs[2];
  double             *v, *sorted, first, last;
  int                 rc;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  /* an uneven layout: the last rank holds nothing when size > 1 */
  pm_block_range(N, size > 1 ? size - 1 : 1, rank, &start, &cnt);
  if (size > 1 && rank == size - 1) cnt = 0;
  PetscCall(PetscMalloc1(2 * cnt + 1, &v));
  for (pm_gidx_t i = 0; i < cnt; i++) v[i] = value(start + i), v[cnt + i] = -value(start + i);
  PetscCall(pm_id_sort(comm, 2, cnt, v, &sorted, cnts, offs));
  nsorted = cnts[0], off = offs[0];
  for (pm_gidx_t l = 1; l < cnts[1]; l++) PM_TEST(sorted[nsorted + l - 1] <= sorted[nsorted + l], "group 1 not sorted");
  {
    pm_gidx_t t1;
    MPI_Allreduce(&cnts[1], &t1, 1, MPI_INT64_T, MPI_SUM, comm);
    PM_TEST(t1 == N, "group 1 total %" PRId64, t1);
  }
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
  {
    double p[12];
    PetscCall(pm_id_percentiles(comm, 2, sorted, cnts, offs, N, 6, q, p));
    for (int j = 0; j < 6; j++) {
      PM_TEST(p[j] == ref[j], "percentile %g = %.17g, numpy %.17g", q[j], p[j], ref[j]);
      PM_TEST(p[6 + j] == neg[j], "group 1 percentile %g = %.17g, numpy %.17g", q[j], p[6 + j], neg[j]);
    }
  }
  PetscCall(PetscFree(sorted));
  PetscCall(PetscFree(v));
  rc = pm_test_finish_mpi(comm);
  PetscCall(PetscFinalize());
  return rc;
}
