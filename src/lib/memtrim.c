/*
 * memtrim.c - the heap's free pages back to the kernel after a burst.
 *
 * Owns: the call to the allocator (glibc's malloc_trim).  Never: decides
 * when (its callers know when a burst is over), or frees anything of ours.
 */
#include "config.h"

#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif

#include "lib/memtrim.h"

void
mem_trim(void)
{
#ifdef HAVE_MALLOC_TRIM
	/* 0: keep no padding at the top; the next burst grows it again. */
	malloc_trim(0);
#endif
}
