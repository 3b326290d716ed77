/* kNN graph vs the DADApy reference tables (tests/data/reference/<set>_dadapy_ref.h5, k = 100, self in
 * column 0) for the three public sets: indices identical, distances within 1e-12 relative, brute
 * force and kd-tree bit for bit identical, on any number of ranks. */
#include <phasemap/graph.h>
#include <phasemap/io.h>
#include <hdf5.h>
#include "pm_test.h"

/* This rank's rows [start, start + n) of a 2-D reference dataset (ncol columns). */
static int read_ref_rows(const char *path, const char *name, hid_t mtype, int64_t start, int64_t n, int ncol, void *buf)
{
  hid_t   f, d, fs, ms;
  hsize_t off[2] = {(hsize_t)start, 0}, cnt[2] = {(hsize_t)n, (hsize_t)ncol}, dims[2];
  int     ok;

  f  = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  d  = H5Dopen2(f, name, H5P_DEFAULT);
  fs = H5Dget_space(d);
  H5Sget_simple_extent_dims(fs, dims, NULL);
  ok = dims[1] == (hsize_t)ncol;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
  ms = H5Screate_simple(2, cnt, NULL);
  if (ok) ok = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0;
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  H5Fclose(f);
  return ok;
}

static PetscErrorCode check_set(MPI_Comm comm, const char *set)
{
  char        xpath[256], rpath[256];
  pm_rows_t  *X;
  pm_graph_t *g[3];
  int64_t    *rind;
  double     *rdist, *x0;
  const char *mname[3] = {"brute", "tree", "auto"};
  int         k = 100, ncol = 101;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(xpath, sizeof xpath, "tests/data/reference/%s.npy", set));
  PetscCall(PetscSNPrintf(rpath, sizeof rpath, "tests/data/reference/%s_dadapy_ref.h5", set));
  PetscCall(pm_matrix_read(comm, xpath, PM_FMT_NPY, NULL, &X));
  PetscCall(PetscMalloc1(X->n_local * X->dim + 1, &x0));
  PetscCall(PetscArraycpy(x0, X->x, X->n_local * X->dim));
  for (int m = 0; m < 3; m++) {
    pm_knn_t *knn;
    PetscCall(pm_knn_create(comm, &knn));
    PetscCall(pm_knn_set_from_options(knn)); /* -knn_simd, -knn_tile of the list entries */
    PetscCall(pm_knn_set_k(knn, k));
    PetscCall(pm_knn_set_method(knn, m == 0 ? PM_KNN_BRUTE : m == 1 ? PM_KNN_TREE
                                                                    : PM_KNN_AUTO));
    PetscCall(pm_knn_build(knn, &X, &g[m]));
    PetscCall(pm_knn_destroy(&knn));
  }
  { /* brute force reorders the rows in place during the search: they must come back as read */
    PetscBool same = PETSC_TRUE;
    for (int64_t e = 0; e < X->n_local * X->dim; e++) same &= X->x[e] == x0[e];
    PM_TEST(same, "%s: the input rows are not restored after the kNN builds", set);
    PetscCall(PetscFree(x0));
  }
  PetscCall(PetscMalloc2(X->n_local * ncol + 1, &rind, X->n_local * ncol + 1, &rdist));
  PM_TEST(read_ref_rows(rpath, "/knn/indices", H5T_NATIVE_INT64, X->row_start, X->n_local, ncol, rind), "%s: read knn/indices", rpath);
  PM_TEST(read_ref_rows(rpath, "/knn/distances", H5T_NATIVE_DOUBLE, X->row_start, X->n_local, ncol, rdist), "%s: read knn/distances", rpath);
  for (int m = 0; m < 3; m++) {
    int64_t bad_i = 0, bad_d = 0, first = -1;
    double  worst = 0.0;
    PM_TEST(g[m]->k == k && g[m]->ncol == ncol && g[m]->n_local == X->n_local && g[m]->row_start == X->row_start, "%s %s: graph shape", set, mname[m]);
    PM_TEST(g[m]->n_duplicates == 0, "%s %s: no duplicates", set, mname[m]);
    for (int64_t e = 0; e < X->n_local * ncol; e++) {
      double rel = fabs(g[m]->dist[e] - rdist[e]) / fmax(fabs(rdist[e]), 1e-300);
      if (g[m]->ind[e] != rind[e]) {
        bad_i++;
        if (first < 0) first = e;
      }
      if (rdist[e] == 0.0 ? g[m]->dist[e] != 0.0 : rel > 1e-12) bad_d++;
      if (rdist[e] != 0.0 && rel > worst) worst = rel;
    }
    PM_TEST(bad_i == 0, "%s %s: %" PRId64 " indices differ from DADApy (first at row %" PRId64 " col %" PRId64 ")", set, mname[m], bad_i, first < 0 ? -1 : X->row_start + first / ncol, first < 0 ? -1 : first % ncol);
    PM_TEST(bad_d == 0, "%s %s: %" PRId64 " distances off by > 1e-12 relative (worst %.3g)", set, mname[m], bad_d, worst);
  }
  { /* brute force's provisional bounds: safe by default; the forced ranks of the list entries
       cut every row short (1) or some (24), and those rows were searched again */
    PetscInt  j  = 0;
    PetscBool on = PETSC_TRUE;
    pm_gidx_t r  = g[0]->n_researched, N = g[0]->n_global;
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-knn_prebound_rank", &j, NULL));
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-knn_prebound", &on, NULL));
    if (!on || j == 0) PM_TEST(r == 0, "%s: %" PRId64 " rows searched again (expected none)", set, r);
    else if (j == 1) PM_TEST(r == N, "%s: rank 1: %" PRId64 " of %" PRId64 " rows searched again (expected all)", set, r, N);
    else PM_TEST(r > 0 && r < N, "%s: rank %d: %" PRId64 " of %" PRId64 " rows searched again (expected some)", set, (int)j, r, N);
  }
  for (int m = 1; m < 3; m++) {
    int same = 1;
    for (int64_t e = 0; e < X->n_local * ncol; e++) same &= g[m]->ind[e] == g[0]->ind[e] && g[m]->dist[e] == g[0]->dist[e];
    PM_TEST(same, "%s: %s graph differs from brute force", set, mname[m]);
  }
  PetscCall(PetscFree2(rind, rdist));
  for (int m = 0; m < 3; m++) PetscCall(pm_graph_destroy(&g[m]));
  PetscCall(pm_rows_destroy(&X));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  int err;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(check_set(PETSC_COMM_WORLD, "gmm2d"));
  PetscCall(check_set(PETSC_COMM_WORLD, "swissroll10d"));
  PetscCall(check_set(PETSC_COMM_WORLD, "hypercube5d"));
  err = pm_test_finish_mpi(PETSC_COMM_WORLD);
  PetscCall(PetscFinalize());
  return err;
}
