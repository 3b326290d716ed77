/* Core utilities on 1..3 ranks: the allocator of pm_memory_init, block ranges, bulk row fetch,
 * reproducible sums, the OpenBLAS kernel advice. */
#include <phasemap/core.h>
#include "pm_test.h"
#include <string.h>

int main(int argc, char **argv)
{
  int       rank, size;
  MPI_Comm  comm;
  pm_gidx_t n = 1001, start, cnt;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(pm_memory_init()); /* as bin/phasemap: the arrays below go through its allocator */
  comm = PETSC_COMM_WORLD;
  { /* the allocator of pm_memory_init: large and small arrays, cleared, grown and shrunk (PETSc's
       own arrays from before it are freed through it at PetscFinalize) */
    double *a, *z;
    char   *c;
    PetscCall(PetscMalloc1((size_t)3 << 20, &a)); /* 24 MiB: hinted */
    PetscCall(PetscCalloc1((size_t)1 << 19, &z)); /* 4 MiB, cleared */
    PetscCall(PetscMalloc1(100, &c));
    for (size_t i = 0; i < ((size_t)3 << 20); i++) a[i] = (double)i;
    for (size_t i = 0; i < ((size_t)1 << 19); i++) PM_TEST(z[i] == 0.0, "PetscCalloc1 of 4 MiB: entry %zu is %g", i, z[i]);
    PetscCall(PetscRealloc(sizeof(double) * ((size_t)5 << 20), &a));
    PM_TEST(a[0] == 0.0 && a[((size_t)3 << 20) - 1] == (double)(((size_t)3 << 20) - 1), "PetscRealloc kept the entries");
    for (size_t i = (size_t)3 << 20; i < ((size_t)5 << 20); i++) a[i] = (double)i; /* the grown part is usable */
    PetscCall(PetscRealloc(sizeof(double) * (((size_t)5 << 20) + 1000), &a)); /* grown a little */
    PM_TEST(a[((size_t)5 << 20) - 1] == (double)(((size_t)5 << 20) - 1), "PetscRealloc by 1000 entries kept the entries");
    PetscCall(PetscRealloc(sizeof(double) * 10, &a));
    PM_TEST(a[9] == 9.0, "PetscRealloc to 10 entries kept them");
    memset(c, 7, 100);
    PetscCall(PetscRealloc((size_t)3 << 20, &c)); /* a small array grown to 3 MiB */
    PM_TEST(c[0] == 7 && c[99] == 7, "PetscRealloc of a small array to 3 MiB kept the entries");
    memset(c, 1, (size_t)3 << 20);
    {
      double *many[40]; /* hinted arrays of 2 to 3.3 MiB, freed out of order */
      for (int j = 0; j < 40; j++) {
        PetscCall(PetscMalloc1(((size_t)1 << 18) + 4096 * j, &many[j]));
        many[j][0] = j;
        many[j][((size_t)1 << 18) + 4096 * j - 1] = j;
      }
      for (int j = 0; j < 40; j += 2) PetscCall(PetscFree(many[j]));
      for (int j = 1; j < 40; j += 2) PM_TEST(many[j][0] == j && many[j][((size_t)1 << 18) + 4096 * j - 1] == j, "array %d of 40 kept its ends", j);
      for (int j = 1; j < 40; j += 2) PetscCall(PetscFree(many[j]));
    }
    { /* placed arrays (pm_malloc_placed): grown by moving their pages, shrunk out of the mapping */
      double *q;
      size_t  n0 = (size_t)3 << 17, n1 = (size_t)5 << 20; /* 3 MiB, then 40 MiB */
      PetscCall(pm_malloc_placed(sizeof(double) * n0, (void **)&q));
      for (size_t i = 0; i < n0; i++) q[i] = (double)i;
      PetscCall(PetscRealloc(sizeof(double) * (n0 + 100), &q)); /* within its mapping */
      PetscCall(PetscRealloc(sizeof(double) * n1, &q));
      PM_TEST(q[0] == 0.0 && q[n0 - 1] == (double)(n0 - 1), "a placed array grown to 40 MiB kept its entries");
      q[n1 - 1] = 1.0;
      PetscCall(PetscRealloc(sizeof(double) * 12, &q));
      PM_TEST(q[11] == 11.0, "a placed array shrunk to 12 entries kept them");
      PetscCall(PetscFree(q));
      PetscCall(pm_malloc_placed(100, (void **)&q)); /* below the placed range: an ordinary array */
      q[12] = 3.0;
      PetscCall(PetscFree(q));
    }
    PetscCall(PetscFree(a));
    PetscCall(PetscFree(z));
    PetscCall(PetscFree(c));
  }
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);

  /* block ranges cover 0..n-1 exactly; owner agrees */
  {
    pm_gidx_t next = 0;
    for (int r = 0; r < 7; r++) {
      pm_block_range(n, 7, r, &start, &cnt);
      PM_TEST(start == next, "block %d starts at %" PRId64, r, start);
      for (pm_gidx_t g = start; g < start + cnt; g++)
        if (pm_block_owner(n, 7, g) != r) PM_TEST(0, "owner of %" PRId64, g);
      next = start + cnt;
    }
    PM_TEST(next == n, "blocks cover n");
  }
  /* fetch rows: table row g = (g, 2g) */
  {
    pm_gidx_t *tab, want[50], out[100];
    pm_block_range(n, size, rank, &start, &cnt);
    PetscCall(PetscMalloc1(2 * cnt, &tab));
    for (pm_gidx_t i = 0; i < cnt; i++) {
      tab[2 * i]     = start + i;
      tab[2 * i + 1] = 2 * (start + i);
    }
    for (int r = 0; r < 50; r++) want[r] = (r * 97 + rank * 13) % n;
    PetscCall(pm_fetch_rows(comm, n, start, cnt, tab, sizeof(pm_gidx_t), 2, 50, want, out));
    for (int r = 0; r < 50; r++) PM_TEST(out[2 * r] == want[r] && out[2 * r + 1] == 2 * want[r], "fetched row %" PRId64, want[r]);
    PetscCall(PetscFree(tab));
  }
  /* reproducible sum: same bits for any rank count, and close to the exact value */
  {
    double *v, s[2], expect = 0.0;
    pm_block_range(n, size, rank, &start, &cnt);
    PetscCall(PetscMalloc1(2 * cnt + 1, &v));
    for (pm_gidx_t i = 0; i < cnt; i++) {
      pm_gidx_t g = start + i;
      v[i]        = (g % 2 ? -1.0 : 1.0) * pow(10.0, (double)(g % 17) - 8.0) / 3.0;
      v[cnt + i]  = 0.1 * (double)g;
    }
    PetscCall(pm_sum_repro(comm, cnt, 2, v, s));
    for (pm_gidx_t g = 0; g < n; g++) expect += 0.1 * (double)g;
    PM_TEST(fabs(s[1] - expect) <= 1e-12 * fabs(expect), "sum %.17g vs %.17g", s[1], expect);
    /* compare with the value computed serially on rank 0 with one rank's worth of data */
    {
      double *all, sref[2];
      PetscCall(PetscMalloc1(2 * n, &all));
      for (pm_gidx_t g = 0; g < n; g++) {
        all[g]     = (g % 2 ? -1.0 : 1.0) * pow(10.0, (double)(g % 17) - 8.0) / 3.0;
        all[n + g] = 0.1 * (double)g;
      }
      PetscCall(pm_sum_repro(PETSC_COMM_SELF, n, 2, all, sref));
      PM_TEST(s[0] == sref[0] && s[1] == sref[1], "sum bits differ from the serial sum: %.17g %.17g", s[0], sref[0]);
      PetscCall(PetscFree(all));
    }
    PetscCall(PetscFree(v));
  }
  /* pm_agree: a failure on the last rank reaches every rank with its message */
  {
    PetscErrorCode e;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    e = pm_agree(comm, rank == size - 1 ? PETSC_FALSE : PETSC_TRUE, "bad row 7");
    PetscCall(PetscPopErrorHandler());
    PM_TEST(e == PETSC_ERR_USER_INPUT, "pm_agree returned %d", (int)e);
  }
  { /* the OPENBLAS_CORETYPE advice: only where the kernels are narrower than the CPU */
    const char *a;
    a = pm_blas_core_advice("Prescott", 3);
    PM_TEST(a && !strcmp(a, "SkylakeX"), "Prescott kernels on an AVX-512 CPU: advice %s, not SkylakeX", a ? a : "(none)");
    a = pm_blas_core_advice("prescott", 2);
    PM_TEST(a && !strcmp(a, "Haswell"), "prescott kernels on an AVX2 CPU: advice %s, not Haswell", a ? a : "(none)");
    a = pm_blas_core_advice("Sandybridge", 2);
    PM_TEST(a && !strcmp(a, "Haswell"), "Sandybridge kernels on an AVX2 CPU: advice %s, not Haswell", a ? a : "(none)");
    PM_TEST(!pm_blas_core_advice("Haswell", 2), "Haswell kernels on an AVX2 CPU need no advice");
    PM_TEST(!pm_blas_core_advice("Zen", 2), "Zen kernels on an AVX2 CPU need no advice");
    PM_TEST(!pm_blas_core_advice("SkylakeX", 3), "SkylakeX kernels on an AVX-512 CPU need no advice");
    PM_TEST(!pm_blas_core_advice("Haswell", 1), "Haswell kernels on an AVX CPU (set by the user) need no advice");
    PM_TEST(!pm_blas_core_advice("Prescott", 0), "Prescott kernels on an SSE CPU need no advice");
    PM_TEST(!pm_blas_core_advice("Zen5", 3), "a core name not known gets no advice");
    PM_TEST(!pm_blas_core_advice("not OpenBLAS", 3), "another BLAS gets no advice");
    PM_TEST(!pm_blas_core_advice(NULL, 3), "no core name gets no advice");
    PM_TEST(strlen(pm_blas_core()) > 0, "pm_blas_core names the kernels");
  }
  {
    int r = pm_test_finish_mpi(comm);
    PetscCall(PetscFinalize());
    return r;
  }
}
