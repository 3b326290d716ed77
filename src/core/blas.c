/* Which OpenBLAS kernels this process runs. OpenBLAS built for several processors (Debian's is)
 * picks its kernels from the CPU model number when it loads; a model newer than the library
 * (Debian 12 has 0.3.21) falls back to Prescott, the SSE3 kernels. On a Xeon of model 207 this
 * was measured at 14.5 GFLOP/s for a 2000^3 dgemm on one core against 54-71 with
 * OPENBLAS_CORETYPE=SkylakeX (Cooperlake: the same dgemm kernels, and slower here on the kNN's
 * 128 x 128 x 20 tiles, 45 against 62-65). The kernels cannot change once the library has
 * loaded, so rank 0 warns with the value to export (the job scripts and bench/run.sh export it
 * themselves: scripts/blas-env.sh). Where the library is not OpenBLAS nothing is said.
 * Threads: OpenBLAS starts one thread per core it may run on unless told otherwise, so P unbound
 * ranks on a node of C cores would run P C threads. Where a node's ranks times their threads
 * exceed the cores they may run on together (C), each such rank lowers its OpenBLAS threads to
 * max(1, C / ranks of the node) and rank 0 says so. */
#include <phasemap/core.h>
#include <sched.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <strings.h>

/* The widest vector extension whose kernels an OpenBLAS core name stands for: 0 SSE, 1 AVX,
 * 2 AVX2, 3 AVX-512; -1 for a name not listed (no advice then). */
static int core_level(const char *core)
{
  static const char *const names[] = {"katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat", "sandybridge", "bulldozer", "piledriver", "steamroller", "haswell", "excavator", "zen", "skylakex", "cooperlake", "sapphirerapids"};
  static const int         level[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3};

  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(core, names[i])) return level[i];
  return -1;
}

const char *pm_blas_core_advice(const char *core, int cpu_level)
{
  static const char *const best[] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};
  int                      have   = core ? core_level(core) : -1;

  if (have < 0 || cpu_level <= have || cpu_level > 3) return NULL;
  return best[cpu_level];
}

/* The widest of AVX, AVX2 + FMA and AVX-512 (F, BW, VL, DQ) this CPU runs. */
static int cpu_level(void)
{
  int l = 0;

#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx")) l = 1;
  if (l == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) l = 2;
  if (l == 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) l = 3;
#endif
  return l;
}

const char *pm_blas_core(void)
{
  char *(*corename)(void);

  *(void **)&corename = dlsym(RTLD_DEFAULT, "openblas_get_corename");
  return corename ? corename() : "not OpenBLAS";
}

/* The ranks on this rank's node, the cores they may run on together (the union of their CPU
 * affinities: the node's cores, or the job's share of it under a cpuset) and this rank's OpenBLAS
 * threads (0 where the library is not OpenBLAS). Collective. */
static PetscErrorCode node_threads(MPI_Comm comm, int *local, int *cores, int *threads)
{
  MPI_Comm  node;
  int (*get)(void);
  cpu_set_t set, all;

  PetscFunctionBeginUser;
  if (sched_getaffinity(0, sizeof set, &set)) CPU_ZERO(&set);
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_size(node, local));
  PetscCallMPI(MPI_Allreduce(&set, &all, (int)sizeof set, MPI_BYTE, MPI_BOR, node));
  PetscCallMPI(MPI_Comm_free(&node));
  *cores = CPU_COUNT(&all) > 0 ? CPU_COUNT(&all) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  *(void **)&get = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  *threads       = get ? get() : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_blas_check(MPI_Comm comm)
{
  const char *core = pm_blas_core(), *advice;
  int         lvl = cpu_level(), local = 1, cores = 1, threads = 0, over, any;
  static const char *const ext[] = {"SSE", "AVX", "AVX2", "AVX-512"};

  PetscFunctionBeginUser;
  advice = getenv("OPENBLAS_CORETYPE") ? NULL : pm_blas_core_advice(core, lvl); /* a value set is the user's choice */
  if (advice)
    PetscCall(PetscPrintf(comm, "phasemap: warning: OpenBLAS runs its %s kernels on this %s processor (a model it does not know): dense linear algebra runs several times slower; export OPENBLAS_CORETYPE=%s before mpirun (docs/USERGUIDE.md, Performance)\n", core, ext[lvl], advice));
  PetscCall(node_threads(comm, &local, &cores, &threads));
  over = threads > 1 && (int64_t)local * threads > cores;
  PetscCallMPI(MPI_Allreduce(&over, &any, 1, MPI_INT, MPI_MAX, comm));
  if (over) {
    void (*set)(int);
    *(void **)&set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set) set(PetscMax(1, cores / local));
  }
  if (any && over) /* rank 0's node says it: the numbers are rank 0's */
    PetscCall(PetscPrintf(comm, "phasemap: warning: %d ranks on a node of %d cores would each run %d OpenBLAS threads; lowered to %d per rank for this run (export OPENBLAS_NUM_THREADS=1: one BLAS thread per rank)\n", local, cores, threads, PetscMax(1, cores / local)));
  else if (any) PetscCall(PetscPrintf(comm, "phasemap: warning: on some nodes the ranks would run more OpenBLAS threads than there are cores; lowered for this run (export OPENBLAS_NUM_THREADS=1: one BLAS thread per rank)\n"));
  PetscFunctionReturn(PETSC_SUCCESS);
}
