/* BMTI exact errors (-bmti_errors exact): sqrt of the diagonal of the truncated pseudo-inverse of
 * the (unpinned) system matrix, from a dense symmetric eigendecomposition with ScaLAPACK pdsyevd on
 * a block-cyclic grid over all ranks; eigenvalues kept iff |lambda| > N eps max|lambda| (spec 3.5). */
#include "density/bmti_impl.h"

/* ScaLAPACK / BLACS (libscalapack-openmpi) */
extern int  Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ctx, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctx, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctx);
extern int  Cblacs_pnum(int ctx, int prow, int pcol);
extern int  numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz, double *work,
                     const int *lwork, int *iwork, const int *liwork, int *info);

typedef struct {
  int ctx, nprow, npcol, myrow, mycol, nb, n, mloc, nloc, desc[9];
} grid_t;

static void grid_shape(int size, int *nprow, int *npcol)
{
  int r = 1;
  for (int p = 1; p * p <= size; p++)
    if (size % p == 0) r = p;
  *nprow = r;
  *npcol = size / r;
}

/* Local index of global index g (0-based) on a block-cyclic dimension. */
static int g2l(int g, int nb, int np)
{
  return (g / (nb * np)) * nb + g % nb;
}

/* Scatter the unpinned matrix entries (from the row structure) to their block-cyclic owners. */
static PetscErrorCode fill_dense(pm_bmti_t *b, bmti_work_t *w, const double *ref_err, const grid_t *gr, double *Aloc)
{
  int      *scnt, *sdsp, *rcnt, *rdsp, *pos, nrecv = 0;
  pm_gidx_t nent = w->n_local + w->cptr[w->n_local];
  double   *sbuf, *rbuf;
  double    alpha = b->alpha;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc4(w->size, &scnt, w->size + 1, &sdsp, w->size, &rcnt, w->size + 1, &rdsp));
  PetscCall(PetscCalloc1(w->size, &pos));
  PetscCall(PetscMalloc1(3 * nent + 1, &sbuf));
  for (int pass = 0; pass < 2; pass++) {
    for (pm_gidx_t i = 0; i < w->n_local; i++) {
      pm_gidx_t row = w->row_start + i;
      for (pm_gidx_t c = w->cptr[i] - 1; c < w->cptr[i + 1]; c++) {
        pm_gidx_t col = c < w->cptr[i] ? row : w->cols[c];
        double    v   = c < w->cptr[i] ? alpha * w->wsum[i] + (1.0 - alpha) / (ref_err[i] * ref_err[i]) : -alpha * w->cval[c];
        int       p   = Cblacs_pnum(gr->ctx, (int)((row / gr->nb) % gr->nprow), (int)((col / gr->nb) % gr->npcol));
        if (pass == 0)
          scnt[p]++;
        else {
          int s           = sdsp[p] + pos[p]++;
          sbuf[3 * s]     = (double)row;
          sbuf[3 * s + 1] = (double)col;
          sbuf[3 * s + 2] = v;
        }
      }
    }
    if (pass == 0)
      for (int p = 0; p < w->size; p++) sdsp[p + 1] = sdsp[p] + scnt[p];
  }
  PetscCallMPI(MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, w->comm));
  for (int p = 0; p < w->size; p++) {
    scnt[p] *= 3;
    sdsp[p] *= 3;
    rdsp[p + 1] = rdsp[p] + 3 * rcnt[p];
    rcnt[p] *= 3;
    nrecv += rcnt[p] / 3;
  }
  PetscCall(PetscMalloc1(3 * nrecv + 1, &rbuf));
  PetscCallMPI(MPI_Alltoallv(sbuf, scnt, sdsp, MPI_DOUBLE, rbuf, rcnt, rdsp, MPI_DOUBLE, w->comm));
  for (int r = 0; r < nrecv; r++) {
    int li = g2l((int)rbuf[3 * r], gr->nb, gr->nprow), lj = g2l((int)rbuf[3 * r + 1], gr->nb, gr->npcol);
    Aloc[(size_t)lj * gr->mloc + li] += rbuf[3 * r + 2]; /* column-major, lld = mloc */
  }
  PetscCall(PetscFree(rbuf));
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree(pos));
  PetscCall(PetscFree4(scnt, sdsp, rcnt, rdsp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode eigen(bmti_work_t *w, grid_t *gr, double *Aloc, double *lam, double *Z)
{
  int    one = 1, lwork = -1, liwork = -1, info = 0, iwq = 0;
  double wq = 0, *work;
  int   *iwork;

  PetscFunctionBeginUser;
  pdsyevd_("V", "U", &gr->n, Aloc, &one, &one, gr->desc, lam, Z, &one, &one, gr->desc, &wq, &lwork, &iwq, &liwork, &info);
  PetscCheck(info == 0, w->comm, PETSC_ERR_LIB, "BMTI exact errors: pdsyevd workspace query failed (info %d)", info);
  lwork  = (int)wq + 1;
  liwork = PetscMax(iwq, 1);
  PetscCall(PetscMalloc2(lwork, &work, liwork, &iwork));
  pdsyevd_("V", "U", &gr->n, Aloc, &one, &one, gr->desc, lam, Z, &one, &one, gr->desc, work, &lwork, iwork, &liwork, &info);
  PetscCall(PetscFree2(work, iwork));
  PetscCheck(info == 0, w->comm, PETSC_ERR_LIB, "BMTI exact errors: pdsyevd failed (info %d)", info);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode bmti_errors_exact(pm_bmti_t *b, bmti_work_t *w, const double *ref_err, double *err)
{
  grid_t  gr;
  int     zero = 0, info = 0, handle;
  double *Aloc, *Z, *lam, *diag, *gdiag, lmax = 0, cut;

  PetscFunctionBeginUser;
  PetscCheck(w->N <= b->errors_max_n, w->comm, PETSC_ERR_USER_INPUT, "-bmti_errors exact: N = %" PRId64 " is above -bmti_errors_max_n %" PetscInt_FMT "; use -bmti_errors probe", w->N, b->errors_max_n);
  handle = Csys2blacs_handle(w->comm);
  gr.ctx = handle;
  grid_shape(w->size, &gr.nprow, &gr.npcol);
  Cblacs_gridinit(&gr.ctx, "Row", gr.nprow, gr.npcol);
  Cblacs_gridinfo(gr.ctx, &gr.nprow, &gr.npcol, &gr.myrow, &gr.mycol);
  gr.n    = (int)w->N;
  gr.nb   = PetscMin(64, PetscMax(1, gr.n / PetscMax(gr.nprow, gr.npcol)));
  gr.mloc = numroc_(&gr.n, &gr.nb, &gr.myrow, &zero, &gr.nprow);
  gr.nloc = numroc_(&gr.n, &gr.nb, &gr.mycol, &zero, &gr.npcol);
  {
    int lld = PetscMax(1, gr.mloc);
    descinit_(gr.desc, &gr.n, &gr.n, &gr.nb, &gr.nb, &zero, &zero, &gr.ctx, &lld, &info);
  }
  PetscCheck(info == 0, w->comm, PETSC_ERR_LIB, "BMTI exact errors: descinit failed (info %d)", info);
  PetscCall(PetscCalloc2((size_t)PetscMax(1, gr.mloc) * gr.nloc + 1, &Aloc, (size_t)PetscMax(1, gr.mloc) * gr.nloc + 1, &Z));
  PetscCall(PetscMalloc1(gr.n, &lam));
  PetscCall(fill_dense(b, w, ref_err, &gr, Aloc));
  PetscCall(eigen(w, &gr, Aloc, lam, Z));
  for (int k = 0; k < gr.n; k++) lmax = PetscMax(lmax, PetscAbsReal(lam[k]));
  cut = (double)gr.n * PETSC_MACHINE_EPSILON * lmax;
  if (b->untruncated) { /* keep all but the null space: one zero eigenvalue per component (alpha = 1) */
    pm_gidx_t nz = b->alpha == 1.0 ? w->n_comp : 0;
    cut          = nz > 0 ? PetscAbsReal(lam[nz - 1]) : -1.0; /* pdsyevd sorts ascending; A is PSD */
  }
  b->n_kept = 0;
  for (int k = 0; k < gr.n; k++) b->n_kept += PetscAbsReal(lam[k]) > cut;
  PetscCall(PetscCalloc2(gr.n, &diag, gr.n, &gdiag));
  for (int lj = 0; lj < gr.nloc; lj++) {
    int k = (lj / gr.nb) * gr.nb * gr.npcol + gr.mycol * gr.nb + lj % gr.nb; /* global column */
    if (!(PetscAbsReal(lam[k]) > cut)) continue;
    for (int li = 0; li < gr.mloc; li++) {
      int    i = (li / gr.nb) * gr.nb * gr.nprow + gr.myrow * gr.nb + li % gr.nb;
      double z = Z[(size_t)lj * gr.mloc + li];
      diag[i] += z * z / lam[k];
    }
  }
  PetscCallMPI(MPI_Allreduce(diag, gdiag, gr.n, MPI_DOUBLE, MPI_SUM, w->comm));
  for (pm_gidx_t i = 0; i < w->n_local; i++) err[i] = PetscSqrtReal(PetscMax(0.0, gdiag[w->row_start + i]));
  PetscCall(PetscFree2(diag, gdiag));
  PetscCall(PetscFree(lam));
  PetscCall(PetscFree2(Aloc, Z));
  Cblacs_gridexit(gr.ctx);
  Cfree_blacs_system_handle(handle);
  PetscFunctionReturn(PETSC_SUCCESS);
}
