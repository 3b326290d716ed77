/* Memory hints. */
#include "phasemap/core.h"
#include <stdint.h>
#include <sys/mman.h>

void pm_advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t       a = ((uintptr_t)p + huge - 1) & ~(huge - 1), b = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: its failure changes nothing */
#else
  (void)p;
  (void)bytes;
#endif
}
