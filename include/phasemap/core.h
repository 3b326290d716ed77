/* phasemap core: types, error conventions and small collective utilities shared by every stage.
 * Every function returns PetscErrorCode and every call is wrapped in PetscCall(). */
#pragma once
#include <petscsys.h>
#include <stdint.h>
#include <inttypes.h>

#ifndef PETSC_SUCCESS
#define PETSC_SUCCESS 0 /* Debian 12's PETSc 3.18 predates the macro */
#endif

#define PM_VERSION "0.1.0"
#ifndef PM_GIT_HASH
#define PM_GIT_HASH "unknown"
#endif

#define PM_REASON_MAX 1024 /* longest error message carried by pm_agree */
#define PM_PATH_MAX   4096

typedef int64_t pm_gidx_t; /* global point index; never PetscInt (32-bit in Debian's PETSc) */

/* The splitmix64 finalizer: a well-mixed 64-bit hash of z (reproducible pseudo-random numbers
 * keyed by seeds and global indices, the same on any rank count). */
static inline uint64_t pm_mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Broken invariant = bug, not user error: print and abort (all builds; cheap checks only). */
#define PM_ASSERT(cond) \
  do { \
    if (!(cond)) pm_assert_fail(#cond, __FILE__, __LINE__); \
  } while (0)
void pm_assert_fail(const char *cond, const char *file, int line);

/* ---- row blocks ------------------------------------------------------------------------------ */

/* Contiguous block distribution of n items over size ranks: rank r owns [start, start+count).
 * The first n % size ranks get one extra item. Not collective. */
void pm_block_range(pm_gidx_t n, int size, int rank, pm_gidx_t *start, pm_gidx_t *count);
/* Rank that owns global item g under pm_block_range(n, size, .). Not collective. */
int pm_block_owner(pm_gidx_t n, int size, pm_gidx_t g);

/* A dense row-major matrix distributed by contiguous row blocks (the feature matrix X, a
 * descriptor block, ...). Local row i is global row row_start + i. x is owned by the struct. */
typedef struct {
  MPI_Comm  comm;      /* borrowed: the communicator the rows are distributed over */
  pm_gidx_t n_global;  /* N */
  pm_gidx_t row_start; /* first global row of this rank */
  pm_gidx_t n_local;   /* rows on this rank */
  int       dim;       /* D columns */
  double   *x;         /* n_local x dim, row-major */
} pm_rows_t;

/* Allocate an n_global x dim block-distributed matrix with the standard block layout (zeroed).
 * Collective (checks that every rank passed the same sizes). Free with pm_rows_destroy. */
PetscErrorCode pm_rows_create(MPI_Comm comm, pm_gidx_t n_global, int dim, pm_rows_t **rows);
/* Wrap rows of any contiguous layout (row_start/n_local given by the caller); x is copied. */
PetscErrorCode pm_rows_create_layout(MPI_Comm comm, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, int dim, pm_rows_t **rows);
PetscErrorCode pm_rows_destroy(pm_rows_t **rows);

/* ---- errors ---------------------------------------------------------------------------------- */

/* Collective on comm. All ranks return the same code: if any rank passed ok = PETSC_FALSE the lowest
 * such rank's reason is raised on every rank (printed once by pm_error_handler). */
PetscErrorCode pm_agree(MPI_Comm comm, PetscBool ok, const char *reason);

/* PETSc error handler installed by main: prints "phasemap: error: <message>" once (rank 0 of the
 * error's communicator; with -traceback also the frames) and returns the code on every rank. */
PetscErrorCode pm_error_handler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx);

/* ---- collective data movement -------------------------------------------------------------- */

/* Fetch rows of a block-distributed table (n_global rows of `width` elements of `elem_size` bytes,
 * distributed by pm_block_range) for an arbitrary list of global indices (duplicates allowed).
 * One all-to-all exchange, no per-edge messages. out must hold n_req * width elements; out row r
 * is the table row want[r]. Collective on comm. */
PetscErrorCode pm_fetch_rows(MPI_Comm comm, pm_gidx_t n_global, pm_gidx_t row_start, pm_gidx_t n_local, const void *local, size_t elem_size, int width, pm_gidx_t n_req, const pm_gidx_t *want, void *out);

/* Same, but the table is distributed by an arbitrary contiguous layout: starts[r] is the first
 * global row of rank r (size+1 entries, starts[size] = n_global). */
PetscErrorCode pm_fetch_rows_layout(MPI_Comm comm, const pm_gidx_t *starts, const void *local, size_t elem_size, int width, pm_gidx_t n_req, const pm_gidx_t *want, void *out);

/* Gather the row starts of every rank: starts has size+1 entries. Collective. */
PetscErrorCode pm_layout_starts(MPI_Comm comm, pm_gidx_t n_local, pm_gidx_t **starts);

/* ---- reproducible reductions ----------------------------------------------------------------- */

/* Sum of n local doubles over all ranks that is bitwise identical for any number of ranks and
 * any order (exact fixed-point accumulation, correctly rounded at the end). Collective.
 * `m` independent sums at once: values[j*n + i] is value i of sum j, result[j] the sum j. */
PetscErrorCode pm_sum_repro(MPI_Comm comm, pm_gidx_t n, int m, const double *values, double *result);

/* ---- progress ---------------------------------------------------------------------------------- */

typedef struct pm_progress pm_progress_t;
/* Progress of a long step on rank 0 ("knn 45% (9/20) 12.3 s, ETA 15.0 s"), at most every few
 * seconds, silent with -quiet. Collective create/destroy; pm_progress_step is local. */
PetscErrorCode pm_progress_create(MPI_Comm comm, const char *what, int64_t total, pm_progress_t **p);
PetscErrorCode pm_progress_step(pm_progress_t *p, int64_t done);
PetscErrorCode pm_progress_destroy(pm_progress_t **p);

/* ---- options ----------------------------------------------------------------------------------- */

/* After every stage is configured: any option in the database that nobody queried is an error
 * naming the closest valid option. Collective on comm. */
PetscErrorCode pm_options_check_unused(MPI_Comm comm);

/* Parse a comma-separated list of integers ("4,6,8") into vals (at most max). */
PetscErrorCode pm_parse_int_list(MPI_Comm comm, const char *opt, const char *s, int max, int *vals, int *n);

/* ---- BLAS ------------------------------------------------------------------------------------- */

/* The name of the OpenBLAS kernels this process runs ("Haswell", "Prescott", ...), or
 * "not OpenBLAS". */
const char *pm_blas_core(void);
/* The OPENBLAS_CORETYPE to export where OpenBLAS runs kernels (core) for a narrower vector
 * extension than the CPU has (cpu_level: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512), else NULL
 * (also for a core name it does not know). */
const char *pm_blas_core_advice(const char *core, int cpu_level);
/* Collective. Rank 0 of comm warns, with the value to export, where pm_blas_core_advice has one
 * for this process and OPENBLAS_CORETYPE is not set; where a node's ranks times their OpenBLAS
 * threads exceed its cores, the threads are lowered to max(1, cores / ranks of the node) and rank
 * 0 says so. */
PetscErrorCode pm_blas_check(MPI_Comm comm);

/* Wall clock seconds (MPI_Wtime). */
double pm_time(void);
/* CPU seconds used by this process so far (user + system, all its threads). */
double pm_cpu_time(void);
/* Page faults of this process so far, minor and major (getrusage). */
double pm_page_faults(void);
/* Peak resident memory of this process in bytes (getrusage). */
double pm_peak_rss_bytes(void);
/* Ask the kernel for 2 MiB pages on the whole 2 MiB pages inside [p, p + bytes) (Linux
 * transparent huge pages in madvise mode; a no-op elsewhere, and for arrays over 256 MiB, where
 * the compaction at fault time costs more). For arrays written in a scattered order before they
 * are read: fewer TLB misses and page faults. */
void pm_advise_huge(void *p, size_t bytes);
/* Once, right after PetscInitialize: every PetscMalloc'ed array of 2 to 256 MiB gets pm_advise_huge.
 * Every first touch of a 4 KiB page costs a page fault, 2-7 us on the virtual machines measured,
 * and the kNN graph alone touches ~20 MB of new arrays per rank at 20k points (lowdim 20k: 1 rank
 * 0.279 -> 0.254 s, 2 ranks 0.157 -> 0.147 s). Skipped when PETSc traces its allocations
 * (-malloc_debug, as the tests under ASan run). */
PetscErrorCode pm_memory_init(void);
/* An array of bytes that will be written whole, on 2 MiB pages from its first byte to its last
 * (a mapping of its own, for 2 to 256 MiB once pm_memory_init has run; else PetscMalloc). Freed
 * and grown by PetscFree and PetscRealloc. */
PetscErrorCode pm_malloc_placed(size_t bytes, void **p);
