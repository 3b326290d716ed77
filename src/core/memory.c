/* Memory hints and PetscMalloc's allocator (pm_memory_init). */
#include "phasemap/core.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Above this the kernel's compaction of 2 MiB pages at fault time (transparent huge pages in
 * madvise mode) cost more than the faults saved: the tree's 1.6 GB graph of lowdim 1M on 1 rank
 * took 40.8 -> 51.3 s with the hint, while 32-160 MB arrays gained 4-8 % (docs/knn.md). */
#define PM_HUGE_MAX ((size_t)256 << 20)
#define PM_HUGE     ((size_t)2 << 20)

void pm_advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
  uintptr_t a = ((uintptr_t)p + PM_HUGE - 1) & ~(PM_HUGE - 1), b = ((uintptr_t)p + bytes) & ~(PM_HUGE - 1);

  if (bytes <= PM_HUGE_MAX && b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: its failure changes nothing */
#else
  (void)p;
  (void)bytes;
#endif
}

/* PETSc's allocator in this configuration (posix_memalign to PETSC_MEMALIGN, free), plus the hint
 * on arrays of 2 to 256 MiB, so either frees the other's arrays. The arrays keep their addresses:
 * starting them on 2 MiB boundaries as well (whole arrays on huge pages) made brute force slower
 * (uniform 100k, 2 ranks: 1.96 -> 2.07 s; arrays at equal offsets of 2 MiB pages compete for the
 * same cache sets), while the hint alone gave 1.90 s. */
static PetscErrorCode out_of_memory(size_t bytes)
{
  return PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_MEM, PETSC_ERROR_INITIAL, "Out of memory: %.0f MiB requested", (double)bytes / 1048576.0);
}

static PetscErrorCode hinted_malloc(size_t bytes, PetscBool clear, int line, const char fn[], const char file[], void **p)
{
  (void)line;
  (void)fn;
  (void)file;
  *p = NULL;
  if (!bytes) return PETSC_SUCCESS;
  if (posix_memalign(p, PETSC_MEMALIGN, bytes)) {
    *p = NULL;
    return out_of_memory(bytes);
  }
  if (bytes >= PM_HUGE) pm_advise_huge(*p, bytes);
  if (clear) memset(*p, 0, bytes);
  return PETSC_SUCCESS;
}

static PetscErrorCode hinted_free(void *p, int line, const char fn[], const char file[])
{
  (void)line;
  (void)fn;
  (void)file;
  free(p);
  return PETSC_SUCCESS;
}

static PetscErrorCode hinted_realloc(size_t bytes, int line, const char fn[], const char file[], void **p)
{
  void *q;

  if (!bytes) {
    free(*p);
    *p = NULL;
    return PETSC_SUCCESS;
  }
  if (!*p) return hinted_malloc(bytes, PETSC_FALSE, line, fn, file, p);
  q = realloc(*p, bytes); /* at least 16-byte aligned, as PETSc's */
  if (!q) return out_of_memory(bytes);
  *p = q;
  return PETSC_SUCCESS;
}

PetscErrorCode pm_memory_init(void)
{
  PetscBool basic, eachcall, nan;

  PetscFunctionBeginUser;
  PetscCall(PetscMallocGetDebug(&basic, &eachcall, &nan));
  if (!basic) PetscCall(PetscMallocSet(hinted_malloc, hinted_free, hinted_realloc)); /* -malloc_debug keeps PETSc's tracing allocator */
  PetscFunctionReturn(PETSC_SUCCESS);
}
