/* BMTI linear system (spec 3.5 (g)-(h)): symmetrised rows from outgoing and incoming edges, then a
 * PETSc AIJ matrix preallocated exactly and filled with local rows only (no off-process stash). */
#include "density/bmti_impl.h"

typedef struct {
  pm_gidx_t col;
  int       incoming;
  double    w, r;
} entry_t;

/* Sort by (column, direction). The outgoing entries (few, in neighbour-rank order) are insertion
 * sorted; the incoming ones arrive sorted by source index; the two runs are then merged. */
static void sort_entries(entry_t *t, pm_gidx_t nout, pm_gidx_t n, entry_t *buf)
{
  pm_gidx_t p = 0, q = nout, k = 0;

  for (pm_gidx_t i = 1; i < nout; i++) {
    entry_t   x = t[i];
    pm_gidx_t j = i;
    while (j > 0 && t[j - 1].col > x.col) {
      t[j] = t[j - 1];
      j--;
    }
    t[j] = x;
  }
  while (p < nout || q < n) buf[k++] = (q >= n || (p < nout && t[p].col <= t[q].col)) ? t[p++] : t[q++];
  for (pm_gidx_t i = 0; i < n; i++) t[i] = buf[i];
}

/* Per row, the sorted unique neighbours (targets of outgoing edges and sources of incoming
 * edges) with the summed weights, the weight sum and the weighted-difference sum. Entries are
 * added in (column, direction) order, so the sums do not depend on the partition. Not collective. */
PetscErrorCode bmti_structure(bmti_work_t *w)
{
  entry_t  *tmp, *buf;
  pm_gidx_t cap = 1, nc = 0;

  PetscFunctionBeginUser;
  for (pm_gidx_t i = 0; i < w->n_local; i++) cap = PetscMax(cap, w->eptr[i + 1] - w->eptr[i] + w->iptr[i + 1] - w->iptr[i]);
  PetscCall(PetscMalloc2(cap, &tmp, cap, &buf));
  PetscCall(PetscMalloc4(w->n_local + 1, &w->cptr, w->n_out + w->n_in + 1, &w->cols, w->n_out + w->n_in + 1, &w->cval, w->n_local + 1, &w->rhs0));
  PetscCall(PetscMalloc1(w->n_local + 1, &w->wsum));
  w->cptr[0] = 0;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    pm_gidx_t n  = 0;
    double    ws = 0, rs = 0;
    for (pm_gidx_t e = w->eptr[i]; e < w->eptr[i + 1]; e++) tmp[n++] = (entry_t){w->etgt[e], 0, w->w[e], -w->w[e] * w->dF[e]};
    for (pm_gidx_t q = w->iptr[i]; q < w->iptr[i + 1]; q++) {
      pm_gidx_t r = w->iord[q];
      tmp[n++]    = (entry_t){w->in_src[r], 1, w->w_in[r], w->w_in[r] * w->dF_in[r]};
    }
    sort_entries(tmp, w->eptr[i + 1] - w->eptr[i], n, buf);
    for (pm_gidx_t t = 0; t < n; t++) {
      ws += tmp[t].w;
      rs += tmp[t].r;
      if (nc > w->cptr[i] && w->cols[nc - 1] == tmp[t].col)
        w->cval[nc - 1] += tmp[t].w;
      else {
        w->cols[nc] = tmp[t].col;
        w->cval[nc] = tmp[t].w;
        nc++;
      }
    }
    w->cptr[i + 1] = nc;
    w->wsum[i]     = ws;
    w->rhs0[i]     = rs;
  }
  PetscCall(PetscFree2(tmp, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool is_pinned_row(const bmti_work_t *w, PetscBool pin, pm_gidx_t i)
{
  return (PetscBool)(pin && w->label[i] == w->row_start + i);
}
static PetscBool is_pinned_col(const bmti_work_t *w, PetscBool pin, pm_gidx_t c)
{
  return (PetscBool)(pin && w->col_label[c] == w->cols[c]);
}

static PetscErrorCode preallocate(bmti_work_t *w, PetscBool pin, Mat A)
{
  PetscInt *dnz, *onz, nl;
  pm_gidx_t lo = w->row_start, hi = w->row_start + w->n_local;

  PetscFunctionBeginUser;
  PetscCall(PetscIntCast(w->n_local, &nl));
  PetscCall(PetscCalloc2(nl + 1, &dnz, nl + 1, &onz));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    dnz[i] = 1;
    if (is_pinned_row(w, pin, i)) continue;
    for (pm_gidx_t c = w->cptr[i]; c < w->cptr[i + 1]; c++) {
      if (is_pinned_col(w, pin, c)) continue;
      if (w->cols[c] >= lo && w->cols[c] < hi)
        dnz[i]++;
      else
        onz[i]++;
    }
  }
  PetscCall(MatSeqAIJSetPreallocation(A, 0, dnz));
  PetscCall(MatMPIAIJSetPreallocation(A, 0, dnz, 0, onz));
  PetscCall(PetscFree2(dnz, onz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A = alpha (Laplacian of the symmetrised weights) + (1 - alpha)/eps^2 on the diagonal, b = alpha
 * (incoming - outgoing weighted differences) + (1 - alpha) ref/eps^2. With pin, the root of every
 * component (its smallest global index) is fixed to 0: its row keeps only the diagonal, its column
 * is dropped elsewhere, which makes the alpha = 1 system definite. Collective. */
PetscErrorCode bmti_assemble(pm_bmti_t *b, bmti_work_t *w, const double *ref, const double *ref_err, PetscBool pin, Mat *A, Vec *rhs)
{
  PetscInt     N, nl, rs, *cidx, maxc = 1;
  PetscScalar *vals, *bb;
  double       alpha = b->alpha;
  MatInfo      info;

  PetscFunctionBeginUser;
  PetscCheck(w->N <= PETSC_MAX_INT, w->comm, PETSC_ERR_SUP, "BMTI: %" PRId64 " points exceed PETSc's 32-bit index range (2^31 - 1); a 64-bit-index PETSc build is needed", w->N);
  PetscCall(PetscIntCast(w->N, &N));
  PetscCall(PetscIntCast(w->n_local, &nl));
  PetscCall(PetscIntCast(w->row_start, &rs));
  PetscCall(MatCreate(w->comm, A));
  PetscCall(MatSetSizes(*A, nl, nl, N, N));
  PetscCall(MatSetType(*A, MATAIJ));
  PetscCall(preallocate(w, pin, *A));
  PetscCall(MatSetOption(*A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SYMMETRY_ETERNAL, PETSC_TRUE));
  PetscCall(MatSetOption(*A, MAT_SPD, PETSC_TRUE));
  PetscCall(MatCreateVecs(*A, NULL, rhs));
  for (pm_gidx_t i = 0; i < w->n_local; i++) maxc = PetscMax(maxc, (PetscInt)(w->cptr[i + 1] - w->cptr[i] + 1));
  PetscCall(PetscMalloc2(maxc, &cidx, maxc, &vals));
  PetscCall(VecGetArray(*rhs, &bb));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    PetscInt row = rs + (PetscInt)i, n = 0;
    double   prior = (1.0 - alpha) / (ref_err[i] * ref_err[i]);
    cidx[n]        = row;
    vals[n++]      = alpha * w->wsum[i] + prior;
    bb[i]          = alpha * w->rhs0[i] + prior * ref[i];
    if (is_pinned_row(w, pin, i))
      bb[i] = 0;
    else
      for (pm_gidx_t c = w->cptr[i]; c < w->cptr[i + 1]; c++) {
        if (is_pinned_col(w, pin, c)) continue;
        cidx[n]   = (PetscInt)w->cols[c];
        vals[n++] = -alpha * w->cval[c];
      }
    PetscCall(MatSetValues(*A, 1, &row, n, cidx, vals, INSERT_VALUES));
  }
  PetscCall(VecRestoreArray(*rhs, &bb));
  PetscCall(PetscFree2(cidx, vals));
  PetscCall(MatAssemblyBegin(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(*A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatGetInfo(*A, MAT_GLOBAL_SUM, &info));
  b->mallocs = info.mallocs;
  PetscFunctionReturn(PETSC_SUCCESS);
}
