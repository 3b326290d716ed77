/* Memory hints. */
#include "phasemap/core.h"
#include <stdint.h>
#include <sys/mman.h>

/* Above this the kernel's compaction of 2 MiB pages at fault time (transparent huge pages in
 * madvise mode) cost more than the faults saved: the tree's 1.6 GB graph of lowdim 1M on 1 rank
 * took 40.8 -> 51.3 s with the hint, while 32-160 MB arrays gained 4-8 % (docs/knn.md). */
#define PM_HUGE_MAX ((size_t)256 << 20)

void pm_advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t       a = ((uintptr_t)p + huge - 1) & ~(huge - 1), b = ((uintptr_t)p + bytes) & ~(huge - 1);

  if (bytes <= PM_HUGE_MAX && b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: its failure changes nothing */
#else
  (void)p;
  (void)bytes;
#endif
}
