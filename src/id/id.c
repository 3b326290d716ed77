/* Intrinsic-dimension stage: object life cycle, options, driver and table. */
#include "id/id_impl.h"

PetscErrorCode pm_id_create(MPI_Comm comm, pm_id_t **id)
{
  pm_id_t *p;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&p));
  PetscCallMPI(MPI_Comm_dup(comm, &p->comm));
  p->twonn_fraction  = 0.9;
  p->gride_range_max = 64;
  PetscCall(PetscLogEventRegister("PmIdTwoNN", PETSC_OBJECT_CLASSID, &p->ev_twonn));
  PetscCall(PetscLogEventRegister("PmIdGride", PETSC_OBJECT_CLASSID, &p->ev_gride));
  *id = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_set_from_options(pm_id_t *id)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(id->comm, NULL, "Intrinsic dimension (stage id)", NULL);
  PetscCall(PetscOptionsReal("-twonn_fraction", "TwoNN: fraction of the smallest r2/r1 ratios kept in the fit (1 = maximum likelihood on all)", "pm_id_set_from_options", id->twonn_fraction, &id->twonn_fraction, NULL));
  PetscCall(PetscOptionsInt("-gride_range_max", "GRIDE: largest neighbour rank of the ladder n1 = 2^s, n2 = 2^(s+1) (clipped to -knn_k)", "pm_id_set_from_options", id->gride_range_max, &id->gride_range_max, NULL));
  PetscOptionsEnd();
  PetscCheck(id->twonn_fraction > 0.0 && id->twonn_fraction <= 1.0, id->comm, PETSC_ERR_USER_INPUT, "-twonn_fraction %g must be in (0, 1]; the default is 0.9", id->twonn_fraction);
  PetscCheck(id->gride_range_max >= 1, id->comm, PETSC_ERR_USER_INPUT, "-gride_range_max %d must be at least 1 (2 gives one estimate); the default is 64", (int)id->gride_range_max);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_compute(pm_id_t *id, const pm_graph_t *graph)
{
  PetscFunctionBeginUser;
  PetscCheck(graph, id->comm, PETSC_ERR_ARG_NULL, "id: the id stage needs the knn graph; add knn to -stages");
  PetscCall(PetscLogEventBegin(id->ev_twonn, 0, 0, 0, 0));
  PetscCall(pm_id_twonn(id, graph));
  PetscCall(PetscLogEventEnd(id->ev_twonn, 0, 0, 0, 0));
  PetscCall(PetscLogEventBegin(id->ev_gride, 0, 0, 0, 0));
  PetscCall(pm_id_gride(id, graph));
  PetscCall(PetscLogEventEnd(id->ev_gride, 0, 0, 0, 0));
  id->computed = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_get_twonn(const pm_id_t *id, double *d, double *err)
{
  PetscFunctionBeginUser;
  PetscCheck(id->computed, PETSC_COMM_SELF, PETSC_ERR_ORDER, "id: pm_id_get_twonn called before pm_id_compute");
  if (d) *d = id->twonn_id;
  if (err) *err = id->twonn_err;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_get_gride(const pm_id_t *id, int *nscales, const double **ids, const double **errs, const double **scales, const int64_t **n1, const int64_t **n2)
{
  PetscFunctionBeginUser;
  PetscCheck(id->computed, PETSC_COMM_SELF, PETSC_ERR_ORDER, "id: pm_id_get_gride called before pm_id_compute");
  if (nscales) *nscales = id->nscales;
  if (ids) *ids = id->gride_id;
  if (errs) *errs = id->gride_err;
  if (scales) *scales = id->gride_scale;
  if (n1) *n1 = id->gride_n1;
  if (n2) *n2 = id->gride_n2;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_view(const pm_id_t *id)
{
  PetscFunctionBeginUser;
  if (!id->computed) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscPrintf(id->comm, "intrinsic dimension\n"));
  PetscCall(PetscPrintf(id->comm, "  TwoNN (%s, %" PRId64 " of %" PRId64 " ratios)  id %.4f  scale %.4g\n", id->twonn_ml ? "max. likelihood" : "linear fit", id->twonn_n_eff, id->twonn_n, id->twonn_id, id->twonn_scale));
  if (id->nscales) PetscCall(PetscPrintf(id->comm, "  GRIDE   n1    n2      scale        id     error\n"));
  for (int s = 0; s < id->nscales; s++)
    PetscCall(PetscPrintf(id->comm, "       %4" PRId64 "  %4" PRId64 "  %9.4g  %8.4f  %8.4f\n", id->gride_n1[s], id->gride_n2[s], id->gride_scale[s], id->gride_id[s], id->gride_err[s]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_id_destroy(pm_id_t **id)
{
  PetscFunctionBeginUser;
  if (!*id) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_free(&(*id)->comm));
  PetscCall(PetscFree(*id));
  PetscFunctionReturn(PETSC_SUCCESS);
}
