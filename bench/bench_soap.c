/* SOAP benchmark driver: reads a frame from a flat binary file (int64 natoms, double lo[3], hi[3],
 * natoms x 3 positions; written by bench_soap.sh), splits it over the ranks with the descriptor
 * stage's spatial decomposition (ghost atoms, linked cells, chunked neighbour lists) and computes
 * the SOAP power spectrum of every atom (-soap_* options). Features go to a chunk buffer that is
 * reused (the benchmark measures the computation, not the N x D storage). Rank 0 prints
 * "RESULT {json}". Options: -pos FILE, -chunk n. */
#include "descriptors/soap_impl.h"
#include <string.h>

static PetscErrorCode read_frame(MPI_Comm comm, const char *path, pm_atoms_t *at)
{
  int       rank, size;
  FILE     *f;
  int64_t   n;
  double    lo[3], hi[3];
  pm_gidx_t start, cnt;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  f = fopen(path, "rb");
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "%s: cannot open (run bench/bench_soap.sh, which writes it)", path);
  PetscCheck(fread(&n, sizeof n, 1, f) == 1 && fread(lo, sizeof(double), 3, f) == 3 && fread(hi, sizeof(double), 3, f) == 3, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: truncated header", path);
  memset(at, 0, sizeof *at);
  pm_block_range(n, size, rank, &start, &cnt);
  at->natoms  = n;
  at->n_local = cnt;
  for (int d = 0; d < 3; d++) {
    at->box.lo[d]       = lo[d];
    at->box.h[d][d]     = hi[d] - lo[d];
    at->box.periodic[d] = 1;
  }
  PetscCall(PetscMalloc4(cnt, &at->id, cnt, &at->order, cnt, &at->species, 3 * cnt + 1, &at->pos));
  PetscCheck(fseek(f, (long)(sizeof(int64_t) + 6 * sizeof(double) + 3 * sizeof(double) * (size_t)start), SEEK_SET) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: seek failed", path);
  PetscCheck(fread(at->pos, sizeof(double), 3 * cnt, f) == (size_t)(3 * cnt), PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "%s: truncated positions", path);
  fclose(f);
  for (pm_gidx_t i = 0; i < cnt; i++) {
    at->id[i]      = start + i + 1;
    at->order[i]   = start + i;
    at->species[i] = 0;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  MPI_Comm     comm;
  int          rank, size, dim, chunk = 8192;
  char         path[PETSC_MAX_PATH_LEN] = "";
  pm_atoms_t   at;
  pm_soap_t   *s;
  pm_domain_t *dom;
  pm_cells_t  *cells;
  pm_nlist_t   nl;
  double       rc, t0, t_dom, t_nl = 0, t_soap = 0, t_all, check = 0, nnb = 0, *buf, tmax[7], tl[7], c0, c_nl = 0, c_soap = 0;
  PetscBool    flg;

  PetscFunctionBeginUser;
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(pm_memory_init()); /* as bin/phasemap */
  comm = PETSC_COMM_WORLD;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-pos", path, sizeof path, &flg));
  PetscCheck(flg, comm, PETSC_ERR_USER_INPUT, "give -pos FILE (written by bench/bench_soap.sh)");
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-chunk", &chunk, NULL));
  PetscCall(pm_soap_create(comm, &s));
  PetscCall(pm_soap_set_from_options(s));
  PetscCall(pm_soap_get_cutoff(s, &rc));
  PetscCall(pm_soap_get_dim(s, 1, &dim));
  PetscCall(read_frame(comm, path, &at));
  memset(&nl, 0, sizeof nl);
  PetscCall(PetscMalloc1((size_t)chunk * dim, &buf));
  PetscCallMPI(MPI_Barrier(comm));
  t0 = pm_time();
  c0 = pm_cpu_time();
  PetscCall(pm_domain_create(comm, &at, rc, &dom));
  PetscCall(pm_cells_create(dom, rc, &cells));
  t_dom = pm_time() - t0;
  for (int64_t first = 0; first < dom->n_own; first += chunk) {
    int64_t count = PetscMin(chunk, dom->n_own - first);
    double  t1 = pm_time(), t2, u1 = pm_cpu_time(), u2;
    PetscCall(pm_nlist_build(dom, cells, rc, first, count, 0, &nl));
    nl.nspecies = 1;
    t2          = pm_time();
    u2          = pm_cpu_time();
    PetscCall(pm_soap_compute(s, &nl, buf, dim, 0));
    t_soap += pm_time() - t2;
    c_soap += pm_cpu_time() - u2;
    c_nl += u2 - u1;
    t_nl += t2 - t1;
    nnb += (double)nl.off[nl.n];
    for (int64_t i = 0; i < count; i++) check += buf[(size_t)i * dim];
  }
  t_all = pm_time() - t0;
  tl[0] = t_all;
  tl[1] = t_dom;
  tl[2] = t_nl;
  tl[3] = t_soap;
  tl[4] = pm_cpu_time() - c0;
  tl[5] = c_nl;
  tl[6] = c_soap;
  PetscCallMPI(MPI_Reduce(tl, tmax, 7, MPI_DOUBLE, MPI_MAX, 0, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &check, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nnb, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscPrintf(comm,
                        "RESULT {\"bench\": \"soap\", \"git\": \"%s\", \"ranks\": %d, \"natoms\": %" PRId64 ", \"nmax\": %d, \"lmax\": %d, \"cutoff\": %.6f, \"sigma\": %.6f, \"dim\": %d, "
                        "\"neighbours_per_atom\": %.2f, \"seconds_total\": %.3f, \"seconds_domain\": %.3f, \"seconds_nlist\": %.3f, \"seconds_soap\": %.3f, \"cpu_seconds_max_rank\": %.3f, \"cpu_seconds_nlist\": %.3f, \"cpu_seconds_soap\": %.3f, \"peak_rss_mb_rank0\": %.1f, \"checksum\": %.12g}\n",
                        PM_GIT_HASH, size, at.natoms, s->nmax, s->lmax, s->rc, s->sigma, dim, nnb / (double)at.natoms, tmax[0], tmax[1], tmax[2], tmax[3], tmax[4], tmax[5], tmax[6], pm_peak_rss_bytes() / 1048576.0, check));
  PetscCall(pm_nlist_free(&nl));
  PetscCall(pm_cells_destroy(&cells));
  PetscCall(pm_domain_destroy(&dom));
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree4(at.id, at.order, at.species, at.pos));
  PetscCall(pm_soap_destroy(&s));
  PetscCall(PetscFinalize());
  return 0;
}
