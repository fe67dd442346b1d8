/*
 * memtrim.h - the heap's free pages back to the kernel after a burst.
 * Owns: the call to the allocator.  Never: frees anything of ours.
 */
#ifndef CERTSYNC_MEMTRIM_H
#define CERTSYNC_MEMTRIM_H

/* Hands the free pages of every malloc arena (the main thread's and each
 * worker's) back to the kernel.  For the end of a burst (a mass event's
 * jobs, a full refresh): glibc keeps up to its trim threshold free at the
 * top of each arena, and every free page below it, so a process that
 * once held a mass event's data keeps that RSS for good otherwise.
 * Cheap next to a burst (a walk of the free lists), wasted inside one (the
 * pages fault straight back): call it when the work is done.  A no-op
 * without malloc_trim (not glibc). */
void mem_trim(void);

#endif
