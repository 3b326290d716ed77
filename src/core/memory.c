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

/* b rounded up to a multiple of 2 MiB (a size, or an address). */
static uintptr_t huge_round(uintptr_t b)
{
  return (b + PM_HUGE - 1) & ~(uintptr_t)(PM_HUGE - 1);
}

void pm_advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
  uintptr_t a = huge_round((uintptr_t)p), b = ((uintptr_t)p + bytes) & ~(uintptr_t)(PM_HUGE - 1);

  if (bytes <= PM_HUGE_MAX && b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: its failure changes nothing */
#else
  (void)p;
  (void)bytes;
#endif
}

static PetscErrorCode out_of_memory(size_t bytes)
{
  return PetscError(PETSC_COMM_SELF, __LINE__, PETSC_FUNCTION_NAME, __FILE__, PETSC_ERR_MEM, PETSC_ERROR_INITIAL, "Out of memory: %.0f MiB requested", (double)bytes / 1048576.0);
}

/* PETSc's allocator in this configuration (posix_memalign to PETSC_MEMALIGN, free), with the
 * huge-page hint on the whole 2 MiB pages inside arrays of 2 to 256 MiB; and pm_malloc_placed for
 * the arrays known to be written whole (the kNN graph's lists, its trees, the probe's sample):
 * each of those gets a mapping of its own that starts and ends on 2 MiB boundaries, hinted all
 * through. Through posix_memalign an array's first and last partial 2 MiB stay on 4 KiB pages: up
 * to 1024 faults per array, at 2-7 us each here (lowdim 20k: the kNN stage's output and cell
 * lists took 2600 faults per rank on 2 ranks, 1400 on 1 rank). Placing every array of 2 MiB and
 * more took the kNN stage on 20k rows from 5300 to 1000 faults per rank and made it 4 % faster,
 * but brute force on uniform 100k on 2 ranks 7 % slower with 70 MB more resident (the partly used
 * arrays' first and last 2 MiB pages count in full): so only arrays written whole are placed. A
 * placed array starts a little way into its first 2 MiB page, at an offset that differs from array to array (multiples of 64 bytes up to 64 KiB):
 * arrays that all start at the same offset of a 2 MiB page compete for the same cache sets when
 * worked on side by side (that made brute force slower, uniform 100k on 2 ranks 1.90 -> 2.07 s).
 * A placed array grows by moving its pages into a larger mapping (mremap: no copy, the pages stay
 * huge). The mappings are registered (at most PM_PLACED_MAX at once; beyond that arrays take the
 * other path), so free and realloc recognise them; a fresh mapping is zero. Both kinds are freed
 * by the same free, so PETSc's arrays from before pm_memory_init are freed through it as well. The
 * registry is not locked: phasemap allocates from one thread (OpenBLAS's threads never call it). */
#define PM_PLACE      ((size_t)2 << 20)
#define PM_PLACED_MAX 1024

typedef struct {
  char  *p, *map; /* the array; its mapping (2 MiB aligned) */
  size_t bytes, span;
} placed_t;

static placed_t  placed[PM_PLACED_MAX];
static int       nplaced, nmade;
static PetscBool installed; /* pm_memory_init set this allocator */

/* Whether an array of this size is placed (pm_malloc_placed) and stays placed when resized. */
static PetscBool placeable(size_t bytes)
{
  return bytes >= PM_PLACE && bytes <= PM_HUGE_MAX ? PETSC_TRUE : PETSC_FALSE;
}

/* A new mapping of span bytes (a multiple of 2 MiB) at a 2 MiB boundary, hinted; NULL if none. */
static char *map_aligned(size_t span)
{
  size_t len = span + PM_HUGE; /* room to align */
  char  *base, *a;

  base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  a = (char *)huge_round((uintptr_t)base);
  if (a > base) (void)munmap(base, (size_t)(a - base)); /* the slack before and after */
  if (base + len > a + span) (void)munmap(a + span, (size_t)(base + len - (a + span)));
#if defined(MADV_HUGEPAGE)
  (void)madvise(a, span, MADV_HUGEPAGE);
#endif
  return a;
}

static void *place(size_t bytes)
{
  size_t o = (size_t)4096 * (nmade % 16) + (size_t)64 * ((7 * nmade) % 64), span = huge_round(o + bytes);
  char  *a;

  if (nplaced == PM_PLACED_MAX || !(a = map_aligned(span))) return NULL;
  nmade++;
  placed[nplaced++] = (placed_t){a + o, a, bytes, span};
  return a + o;
}

/* Grow placed array i to bytes by moving its pages into a larger mapping; PETSC_FALSE if that
 * failed (the array is then unchanged). */
static PetscBool placed_grow(int i, size_t bytes)
{
  placed_t *e = &placed[i];
  size_t    o = (size_t)(e->p - e->map), span = huge_round(o + bytes);

  if (span <= e->span) {
    e->bytes = bytes;
    return PETSC_TRUE;
  }
#if defined(MREMAP_FIXED)
  {
    char *a = map_aligned(span), *m;
    if (!a) return PETSC_FALSE;
    m = mremap(e->map, e->span, e->span, MREMAP_MAYMOVE | MREMAP_FIXED, a); /* over the start of the new mapping */
    if (m == MAP_FAILED) {
      (void)munmap(a, span);
      return PETSC_FALSE;
    }
    *e = (placed_t){a + o, a, bytes, span};
    return PETSC_TRUE;
  }
#else
  return PETSC_FALSE; /* no mremap here: grown by a copy */
#endif
}

/* The registry entry of p, or -1. */
static int placed_find(const void *p)
{
  for (int i = nplaced - 1; i >= 0; i--)
    if (placed[i].p == p) return i;
  return -1;
}

static void placed_free(int i)
{
  (void)munmap(placed[i].map, placed[i].span);
  placed[i] = placed[--nplaced];
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
  int i = p ? placed_find(p) : -1;

  (void)line;
  (void)fn;
  (void)file;
  if (i >= 0) placed_free(i);
  else free(p);
  return PETSC_SUCCESS;
}

static PetscErrorCode hinted_realloc(size_t bytes, int line, const char fn[], const char file[], void **p)
{
  void *q;
  int   i = *p ? placed_find(*p) : -1;

  if (!bytes) {
    if (i >= 0) placed_free(i);
    else free(*p);
    *p = NULL;
    return PETSC_SUCCESS;
  }
  if (!*p) return hinted_malloc(bytes, PETSC_FALSE, line, fn, file, p);
  if (i >= 0 && placeable(bytes) && placed_grow(i, bytes)) { /* in place, or its pages moved */
    *p = placed[i].p;
    return PETSC_SUCCESS;
  }
  if (i >= 0) { /* out of the range: a new array (hinted_malloc leaves the registry as it is), and a copy */
    PetscCall(hinted_malloc(bytes, PETSC_FALSE, line, fn, file, &q));
    memcpy(q, *p, bytes < placed[i].bytes ? bytes : placed[i].bytes);
    placed_free(i);
    *p = q;
    return PETSC_SUCCESS;
  }
  q = realloc(*p, bytes); /* at least 16-byte aligned, as PETSc's (an array that grows into the range stays where realloc puts it) */
  if (!q) return out_of_memory(bytes);
  *p = q;
  return PETSC_SUCCESS;
}

PetscErrorCode pm_malloc_placed(size_t bytes, void **p)
{
  PetscFunctionBeginUser;
  *p = NULL;
  if (installed && placeable(bytes)) *p = place(bytes);
  if (!*p) PetscCall(PetscMallocA(1, PETSC_FALSE, __LINE__, PETSC_FUNCTION_NAME, __FILE__, bytes, p));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode pm_memory_init(void)
{
  PetscBool basic, eachcall, nan;

  PetscFunctionBeginUser;
  PetscCall(PetscMallocGetDebug(&basic, &eachcall, &nan));
  if (!basic && !installed) { /* -malloc_debug keeps PETSc's tracing allocator */
    PetscCall(PetscMallocSet(hinted_malloc, hinted_free, hinted_realloc));
    installed = PETSC_TRUE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
