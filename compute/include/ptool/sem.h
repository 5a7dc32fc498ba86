/* ptool/sem.h - a counting semaphore (the course's asyncio.Semaphore(10) and
 * threading.Semaphore, for threads).
 *
 * The count never goes below zero: acquire blocks while it is zero. Release
 * may raise it past the initial value (like threading.Semaphore, not
 * BoundedSemaphore). All functions are thread-safe.
 */
#ifndef PTOOL_SEM_H
#define PTOOL_SEM_H

#include <stdbool.h>
#include <stddef.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_sem pt_sem;

/* Creates a semaphore with `initial` permits into *out; the caller owns it
 * and frees it with pt_sem_destroy(). PT_EINVAL if out is NULL, PT_ENOMEM. */
PT_EXTERN int pt_sem_create(pt_sem **out, unsigned initial);

/* Frees the semaphore (NULL is fine). No thread may be blocked in it. */
PT_EXTERN void pt_sem_destroy(pt_sem *sem);

/* Takes one permit, blocking while none is available. Returns 0. */
PT_EXTERN int pt_sem_acquire(pt_sem *sem);

/* Takes one permit if one is available now: 0, else PT_EAGAIN. */
PT_EXTERN int pt_sem_try_acquire(pt_sem *sem);

/* Like pt_sem_acquire() but gives up after timeout_ms: PT_ETIMEDOUT. */
PT_EXTERN int pt_sem_acquire_timed(pt_sem *sem, unsigned timeout_ms);

/* Returns n permits and wakes up to n waiters. PT_EINVAL if n is 0 or the
 * count would overflow. */
PT_EXTERN int pt_sem_release(pt_sem *sem, unsigned n);

/* The number of permits available now (a snapshot). */
PT_EXTERN unsigned pt_sem_value(pt_sem *sem);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_SEM_H */
