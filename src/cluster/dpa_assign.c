/* DPA step 3 without a sequential sweep. In the spec a point visited in decreasing g takes the label
 * of the first neighbour of its row that is already labelled, i.e. a centre or a point visited
 * before it. That neighbour is fixed by the data alone, so it is the point's parent in a forest whose
 * roots are the centres; labels follow by resolving the forest: path compression inside each rank,
 * then pointer jumping across ranks (each round halves every remaining path). */
#include "dpa_impl.h"

/* Fallback of the spec (no labelled neighbour in the row): the point is a removed centre; among the
 * removed centres of its row (itself included) take the recorded higher point of maximal g. */
typedef struct {
  int64_t   clab;
  pm_gidx_t higher;
  double    ghigher;
} nbr_info_t;

static PetscErrorCode find_parents(dpa_work_t *w, pm_gidx_t *parent, int64_t *nfall)
{
  const pm_gidx_t *ind = w->in->graph->ind;
  int              nc  = w->ncol;
  nbr_info_t      *info;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_local + w->nb->nghost + 1, &info));
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    info[i].clab    = w->clab[i];
    info[i].higher  = w->higher[i];
    info[i].ghigher = w->ghigher[i];
  }
  PetscCall(pm_dpa_nbr_refresh(w->nb, sizeof *info, info));
  *nfall = 0;
  for (pm_gidx_t i = 0; i < w->n_local; i++) {
    pm_gidx_t gi = w->row_start + i;
    parent[i]    = -1;
    if (w->clab[i] >= 0) {
      parent[i] = gi;
      continue;
    }
    for (int r = 1; r < nc; r++) {
      int32_t s = w->nb->slot[i * nc + r];
      if (info[s].clab >= 0 || dpa_ranks_higher(w->g[s], ind[i * nc + r], w->g[i], gi)) {
        parent[i] = ind[i * nc + r];
        break;
      }
    }
    if (parent[i] >= 0) continue;
    {
      double gbest = 0.0;
      for (int r = 0; r < nc; r++) {
        int32_t s = w->nb->slot[i * nc + r];
        if (info[s].higher >= 0 && (parent[i] < 0 || dpa_ranks_higher(info[s].ghigher, info[s].higher, gbest, parent[i]))) {
          parent[i] = info[s].higher;
          gbest     = info[s].ghigher;
        }
      }
      PM_ASSERT(parent[i] >= 0 && dpa_ranks_higher(gbest, parent[i], w->g[i], gi));
      (*nfall)++;
    }
  }
  PetscCall(PetscFree(info));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode dpa_assign(dpa_work_t *w, pm_dpa_result_t *res)
{
  pm_gidx_t *parent;
  int64_t    nfall;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(w->n_local + 1, &parent));
  PetscCall(find_parents(w, parent, &nfall));
  PetscCallMPI(MPI_Allreduce(&nfall, &res->n_fallback, 1, MPI_INT64_T, MPI_SUM, w->comm));
  PetscCall(pm_dpa_resolve_forest(w->comm, w->row_start, w->n_local, parent, w->clab, w->label, &res->jump_rounds));
  PetscCall(pm_dpa_nbr_refresh(w->nb, sizeof(int64_t), w->label));
  PetscCall(PetscFree(parent));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Follow parents inside this rank: ptr = first node of the chain that is a root or not local;
 * lab = the root's label when the chain ends at a local root, else -1. */
static PetscErrorCode compress_local(pm_gidx_t rs, pm_gidx_t nl, const pm_gidx_t *parent, const int64_t *root_label, int64_t *tab)
{
  char      *state;
  pm_gidx_t *path;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(nl + 1, &state));
  PetscCall(PetscMalloc1(nl + 1, &path));
  for (pm_gidx_t i = 0; i < nl; i++)
    if (parent[i] == rs + i) {
      PM_ASSERT(root_label[i] >= 0);
      tab[2 * i]     = rs + i;
      tab[2 * i + 1] = root_label[i];
      state[i]       = 2;
    }
  for (pm_gidx_t i = 0; i < nl; i++) {
    pm_gidx_t np = 0, cur = i, tptr;
    int64_t   tlab;
    if (state[i] == 2) continue;
    for (;;) {
      pm_gidx_t p = parent[cur];
      state[cur]  = 1;
      path[np++]  = cur;
      if (p < rs || p >= rs + nl) {
        tptr = p;
        tlab = -1;
        break;
      }
      if (state[p - rs] == 2) {
        tptr = tab[2 * (p - rs)];
        tlab = tab[2 * (p - rs) + 1];
        break;
      }
      PM_ASSERT(state[p - rs] == 0); /* a cycle would be a bug: parents come earlier in the visit order */
      cur = p - rs;
    }
    for (pm_gidx_t q = 0; q < np; q++) {
      tab[2 * path[q]]     = tptr;
      tab[2 * path[q] + 1] = tlab;
      state[path[q]]       = 2;
    }
  }
  PetscCall(PetscFree(path));
  PetscCall(PetscFree(state));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_dpa_resolve_forest(MPI_Comm comm, pm_gidx_t rs, pm_gidx_t nl, const pm_gidx_t *parent, const int64_t *root_label, int64_t *label, int *rounds)
{
  int64_t   *tab, *got;
  pm_gidx_t *starts, *want, *who, nopen, gopen;

  PetscFunctionBeginUser;
  PetscCall(pm_layout_starts(comm, nl, &starts));
  PetscCall(PetscMalloc4(2 * nl + 1, &tab, 2 * nl + 1, &got, nl + 1, &want, nl + 1, &who));
  PetscCall(compress_local(rs, nl, parent, root_label, tab));
  *rounds = 0;
  for (;;) {
    nopen = 0;
    for (pm_gidx_t i = 0; i < nl; i++)
      if (tab[2 * i + 1] < 0) {
        who[nopen]    = i;
        want[nopen++] = tab[2 * i];
      }
    PetscCallMPI(MPI_Allreduce(&nopen, &gopen, 1, MPI_INT64_T, MPI_SUM, comm));
    if (!gopen) break;
    PetscCheck(*rounds < 200, comm, PETSC_ERR_PLIB, "DPA: pointer jumping did not converge (cyclic parents)");
    PetscCall(pm_fetch_rows_layout(comm, starts, tab, sizeof(int64_t), 2, nopen, want, got));
    for (pm_gidx_t q = 0; q < nopen; q++) {
      tab[2 * who[q]]     = got[2 * q];
      tab[2 * who[q] + 1] = got[2 * q + 1];
    }
    (*rounds)++;
  }
  for (pm_gidx_t i = 0; i < nl; i++) label[i] = tab[2 * i + 1];
  PetscCall(PetscFree4(tab, got, want, who));
  PetscCall(PetscFree(starts));
  PetscFunctionReturn(PETSC_SUCCESS);
}
