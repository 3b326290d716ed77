/* SOAP on a real frame through the descriptor stage's spatial decomposition (ghost atoms across
 * ranks and periodic images): the small Cu frame and its 2 x 1 x 1 and 1 x 1 x 2 replicas must give
 * every copy of an atom the original atom's vector (1e-12), for any number of ranks. */
#include "descriptors/soap_impl.h"
#include "pm_test.h"
#include <string.h>

#define FRAME_PATH "tests/data/cu/cu_slab_3456_T1327_small.dump.gz"

/* SOAP of every atom of the frame, gathered on every rank in frame order (test only; small). */
static PetscErrorCode soap_frame(MPI_Comm comm, const pm_soap_t *s, const pm_atoms_t *at, int dim, double *all)
{
  pm_domain_t *dom;
  pm_cells_t  *cells;
  pm_nlist_t   nl;
  double       rc, *loc;
  int64_t     *ord;

  PetscFunctionBeginUser;
  PetscCall(pm_soap_get_cutoff(s, &rc));
  PetscCall(pm_domain_create(comm, at, rc, &dom));
  PetscCall(pm_cells_create(dom, rc, &cells));
  memset(&nl, 0, sizeof nl);
  PetscCall(PetscMalloc2((size_t)dom->n_own * dim + 1, &loc, dom->n_own + 1, &ord));
  for (int64_t first = 0; first < dom->n_own; first += 500) {
    int64_t count = PetscMin(500, dom->n_own - first);
    PetscCall(pm_nlist_build(dom, cells, rc, first, count, 0, &nl));
    nl.nspecies = 1;
    PetscCall(pm_soap_compute(s, &nl, loc + (size_t)first * dim, dim, 0));
  }
  for (int64_t i = 0; i < dom->n_own; i++) ord[i] = dom->order[i];
  { /* scatter rows to their frame position: every rank contributes its rows, others zeros */
    double *tmp;
    PetscCall(PetscCalloc1((size_t)at->natoms * dim, &tmp));
    for (int64_t i = 0; i < dom->n_own; i++) PetscCall(PetscArraycpy(tmp + (size_t)ord[i] * dim, loc + (size_t)i * dim, dim));
    PetscCallMPI(MPI_Allreduce(tmp, all, (int)(at->natoms * dim), MPI_DOUBLE, MPI_SUM, comm));
    PetscCall(PetscFree(tmp));
  }
  PetscCall(pm_nlist_free(&nl));
  PetscCall(PetscFree2(loc, ord));
  PetscCall(pm_cells_destroy(&cells));
  PetscCall(pm_domain_destroy(&dom));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Replicate the local atoms rep[0] x rep[1] x rep[2] times (copy k of atom with order o gets order
 * o + k natoms and id + k natoms). */
static PetscErrorCode replicate(const pm_atoms_t *a, const int rep[3], pm_atoms_t *b)
{
  int     nrep = rep[0] * rep[1] * rep[2];
  int64_t n    = a->n_local;

  PetscFunctionBeginUser;
  *b         = *a;
  b->natoms  = a->natoms * nrep;
  b->n_local = n * nrep;
  b->n_extra = 0;
  b->extra   = NULL;
  for (int d = 0; d < 3; d++)
    for (int e = 0; e < 3; e++) b->box.h[d][e] = a->box.h[d][e] * rep[d];
  PetscCall(PetscMalloc4(b->n_local, &b->id, b->n_local, &b->order, b->n_local, &b->species, 3 * b->n_local, &b->pos));
  for (int k = 0; k < nrep; k++) {
    int c[3] = {k % rep[0], (k / rep[0]) % rep[1], k / (rep[0] * rep[1])};
    for (int64_t i = 0; i < n; i++) {
      int64_t q     = k * n + i;
      b->id[q]      = a->id[i] + k * a->natoms;
      b->order[q]   = a->order[i] + k * a->natoms;
      b->species[q] = a->species[i];
      for (int d = 0; d < 3; d++) b->pos[3 * q + d] = a->pos[3 * i + d] + c[0] * a->box.h[0][d] + c[1] * a->box.h[1][d] + c[2] * a->box.h[2][d];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm    comm;
  pm_traj_t  *traj;
  pm_atoms_t *at, big;
  pm_soap_t  *s;
  int         dim, reps[2][3] = {{2, 1, 1}, {1, 1, 2}};
  double     *f0, *f1;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  PetscCall(pm_traj_open(comm, FRAME_PATH, PM_FMT_LAMMPS, &traj));
  PetscCall(pm_traj_read_frame(traj, comm, 0, &at));
  PetscCall(pm_soap_create(comm, &s));
  PetscCall(pm_soap_set_params(s, 6, 6, 5.0, 0.5));
  PetscCall(pm_soap_get_dim(s, 1, &dim));
  PetscCall(PetscMalloc2((size_t)at->natoms * dim, &f0, (size_t)at->natoms * dim * 2, &f1));
  PetscCall(soap_frame(comm, s, at, dim, f0));
  {
    double nrm = 0;
    for (int k = 0; k < dim; k++) nrm += f0[k] * f0[k];
    PM_TEST(at->natoms == 3456 && pm_test_close(nrm, 1.0, 1e-13), "frame read (%" PRId64 " atoms), unit vectors (%g)", at->natoms, nrm);
  }
  for (int t = 0; t < 2; t++) {
    double m = 0;
    PetscCall(replicate(at, reps[t], &big));
    PetscCall(soap_frame(comm, s, &big, dim, f1));
    for (int64_t q = 0; q < big.natoms; q++)
      for (int k = 0; k < dim; k++) m = fmax(m, fabs(f1[(size_t)q * dim + k] - f0[(size_t)(q % at->natoms) * dim + k]));
    PM_TEST(m < 1e-12, "replica %dx%dx%d: copies differ from the original atom by %g", reps[t][0], reps[t][1], reps[t][2], m);
    PetscCall(PetscFree4(big.id, big.order, big.species, big.pos));
  }
  PetscCall(PetscFree2(f0, f1));
  PetscCall(pm_soap_destroy(&s));
  PetscCall(pm_atoms_destroy(&at));
  PetscCall(pm_traj_destroy(&traj));
  {
    int rc = pm_test_finish_mpi(comm);
    PetscCall(PetscFinalize());
    return rc;
  }
}
