/* Which OpenBLAS kernels this process runs. OpenBLAS built for several processors (Debian's is)
 * picks its kernels from the CPU model number when it loads; a model newer than the library
 * (Debian 12 has 0.3.21) falls back to Prescott, the SSE3 kernels. On a Xeon of model 207 this
 * was measured at 14.5 GFLOP/s for a 2000^3 dgemm on one core against 54-71 with
 * OPENBLAS_CORETYPE=SkylakeX (Cooperlake: the same dgemm kernels, and slower here on the kNN's
 * 128 x 128 x 20 tiles, 45 against 62-65). The kernels cannot change once the library has loaded, so rank 0
 * warns with the value to export (the job scripts and bench/run.sh export it themselves:
 * scripts/blas-env.sh). Where the library is not OpenBLAS nothing is said. */
#include <phasemap/core.h>
#include <dlfcn.h>
#include <stdlib.h>
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

PetscErrorCode pm_blas_check(MPI_Comm comm)
{
  const char *core = pm_blas_core(), *advice;
  int         lvl = cpu_level();
  static const char *const ext[] = {"SSE", "AVX", "AVX2", "AVX-512"};

  PetscFunctionBeginUser;
  advice = getenv("OPENBLAS_CORETYPE") ? NULL : pm_blas_core_advice(core, lvl); /* a value set is the user's choice */
  if (advice)
    PetscCall(PetscPrintf(comm, "phasemap: warning: OpenBLAS runs its %s kernels on this %s processor (a model it does not know): dense linear algebra runs several times slower; export OPENBLAS_CORETYPE=%s before mpirun (docs/USERGUIDE.md, Performance)\n", core, ext[lvl], advice));
  PetscFunctionReturn(PETSC_SUCCESS);
}
