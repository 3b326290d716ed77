/* Symmetric eigendecomposition of the (small, replicated) PCA covariance: ScaLAPACK pdsyevd on a
 * block-cyclic process grid over the ranks, or LAPACK dsyevd on every rank. */
#include "pca_impl.h"

/* BLACS (C interface) and ScaLAPACK/LAPACK (Fortran, LP64) from -lscalapack-openmpi / -llapack */
void Cblacs_pinfo(int *iam, int *nprocs);
int  Csys2blacs_handle(MPI_Comm comm);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
void Cfree_blacs_system_handle(int handle);
int  numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);

static PetscErrorCode eigen_lapack(MPI_Comm comm, int D, const double *C, double *w, double *V)
{
  int     lwork = -1, liwork = -1, iwq, info, *iwork;
  double  wq, *work;
  char    msg[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(V, C, (size_t)D * D)); /* symmetric: row-major = column-major */
  dsyevd_("V", "U", &D, V, &D, w, &wq, &lwork, &iwq, &liwork, &info);
  lwork  = (int)wq + 1;
  liwork = iwq;
  PetscCall(PetscMalloc2(lwork, &work, liwork, &iwork));
  dsyevd_("V", "U", &D, V, &D, w, work, &lwork, iwork, &liwork, &info);
  PetscCall(PetscFree2(work, iwork));
  if (info) PetscCall(PetscSNPrintf(msg, sizeof msg, "PCA: LAPACK dsyevd failed (info %d) on the %d x %d covariance", info, D, D));
  PetscCall(pm_agree(comm, info == 0, msg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Local index -> global index of a block-cyclic dimension (source process 0). */
static inline int l2g(int il, int nb, int p, int np) { return (il / nb) * nb * np + p * nb + il % nb; }

/* Grid shape: at most as many ranks as blocks, nprow x npcol as square as the count allows. */
static void choose_grid(int size, int D, int nb, int grid[2])
{
  int nblk = (D + nb - 1) / nb, use = PetscMin(size, nblk * nblk), r = (int)sqrt((double)use);

  while (r > 1 && use % r) r--;
  grid[0] = r;
  grid[1] = use / r;
}

static PetscErrorCode eigen_scalapack(MPI_Comm comm, int nb, int D, const double *C, double *w, double *V, int grid[2])
{
  int     rank, size, iam, np, handle, ctxt, myrow = -1, mycol = -1, pr, pc, info = 0, ione = 1, izero = 0;
  int     mloc, nloc, lld, descA[9], descZ[9], lwork = -1, liwork = -1, iwq = 0, *iwork;
  double *A, *Z, *work, wq = 0, *Vloc;
  char    msg[PM_REASON_MAX] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (nb <= 0) nb = PetscMax(2, PetscMin(32, D / 4));
  choose_grid(size, D, nb, grid);
  Cblacs_pinfo(&iam, &np);
  handle = Csys2blacs_handle(comm);
  ctxt   = handle;
  Cblacs_gridinit(&ctxt, "Row", grid[0], grid[1]); /* ranks beyond grid[0]*grid[1] get ctxt < 0 */
  PetscCall(PetscCalloc1((size_t)D * D, &Vloc));
  if (ctxt >= 0 && rank < grid[0] * grid[1]) {
    Cblacs_gridinfo(ctxt, &pr, &pc, &myrow, &mycol);
    mloc = numroc_(&D, &nb, &myrow, &izero, &pr);
    nloc = numroc_(&D, &nb, &mycol, &izero, &pc);
    lld  = PetscMax(1, mloc);
    descinit_(descA, &D, &D, &nb, &nb, &izero, &izero, &ctxt, &lld, &info);
    descinit_(descZ, &D, &D, &nb, &nb, &izero, &izero, &ctxt, &lld, &info);
    PetscCall(PetscMalloc2((size_t)lld * nloc + 1, &A, (size_t)lld * nloc + 1, &Z));
    for (int jl = 0; jl < nloc; jl++)
      for (int il = 0; il < mloc; il++) A[il + (size_t)jl * lld] = C[(size_t)l2g(il, nb, myrow, pr) * D + l2g(jl, nb, mycol, pc)];
    pdsyevd_("V", "U", &D, A, &ione, &ione, descA, w, Z, &ione, &ione, descZ, &wq, &lwork, &iwq, &liwork, &info);
    /* the documented minimum, in case the workspace query is short */
    lwork  = PetscMax((int)wq + 1, PetscMax(1 + 6 * D + 2 * mloc * nloc, 1 + 2 * D + 2 * D * D / (pr * pc) + 1) + 2 * D);
    liwork = PetscMax(iwq, 7 * D + 8 * pc + 2);
    PetscCall(PetscMalloc2(lwork, &work, liwork, &iwork));
    pdsyevd_("V", "U", &D, A, &ione, &ione, descA, w, Z, &ione, &ione, descZ, work, &lwork, iwork, &liwork, &info);
    for (int jl = 0; info == 0 && jl < nloc; jl++)
      for (int il = 0; il < mloc; il++) Vloc[(size_t)l2g(jl, nb, mycol, pc) * D + l2g(il, nb, myrow, pr)] = Z[il + (size_t)jl * lld];
    PetscCall(PetscFree2(work, iwork));
    PetscCall(PetscFree2(A, Z));
    Cblacs_gridexit(ctxt);
  }
  Cfree_blacs_system_handle(handle);
  if (info) PetscCall(PetscSNPrintf(msg, sizeof msg, "PCA: ScaLAPACK pdsyevd failed (info %d) on the %d x %d covariance (grid %d x %d, block %d); try -pca_eigensolver lapack", info, D, D, grid[0], grid[1], nb));
  PetscCall(pm_agree(comm, info == 0, msg));
  /* every entry comes from exactly one rank, the others add zeros: the sum is exact */
  PetscCallMPI(MPI_Allreduce(Vloc, V, D * D, MPI_DOUBLE, MPI_SUM, comm));
  PetscCallMPI(MPI_Bcast(w, D, MPI_DOUBLE, 0, comm));
  PetscCall(PetscFree(Vloc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_pca_eigen(MPI_Comm comm, pm_pca_eig_t how, int nb, int D, const double *C, double *w, double *V, int grid[2])
{
  PetscFunctionBeginUser;
  if (how == PM_PCA_EIG_LAPACK) {
    grid[0] = grid[1] = 0;
    PetscCall(eigen_lapack(comm, D, C, w, V));
  } else PetscCall(eigen_scalapack(comm, nb, D, C, w, V, grid));
  PetscFunctionReturn(PETSC_SUCCESS);
}
