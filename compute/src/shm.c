/* shm.c - the shared memory arena of the process backend.
 *
 * DESIGN. Worker processes are forked (by the fork server) long before a job
 * exists, so memory the parent maps later would not be visible to them. We
 * therefore reserve one large MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE region
 * when the runtime starts, before the first fork. It costs address space
 * only; pages appear when touched. Because the mapping is inherited, it sits
 * at the same address in every process and plain pointers into it work
 * everywhere: the job, its state and its buffers are allocated here.
 *
 * Only the parent allocates and frees (under a mutex). The free list holds
 * extents sorted by offset and coalesces on free. Invariant: free memory is
 * zero. On free, whole pages are returned to the kernel with MADV_REMOVE
 * (which for shared memory both frees and zeroes them) and the partial pages
 * at the ends are cleared with memset, so alloc never has to clear.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

typedef struct extent {
    size_t off, len;
} extent;

struct pt__shm {
    unsigned char *base;
    size_t size;
    size_t page;
    extent *free; /* sorted by off */
    size_t nfree, capfree;
    pthread_mutex_t lock;
};

int pt__shm_create(pt__shm **out, size_t reserve)
{
    pt__shm *shm = calloc(1, sizeof(*shm));
    if (!shm)
        return PT_ENOMEM;
    shm->page = (size_t)sysconf(_SC_PAGESIZE);
    reserve = (reserve + shm->page - 1) / shm->page * shm->page;
    void *base = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        int e = -errno;
        free(shm);
        return e;
    }
    shm->base = base;
    shm->size = reserve;
    shm->capfree = 64;
    shm->free = malloc(shm->capfree * sizeof(*shm->free));
    if (!shm->free) {
        munmap(base, reserve);
        free(shm);
        return PT_ENOMEM;
    }
    shm->free[0].off = 0;
    shm->free[0].len = reserve;
    shm->nfree = 1;
    pthread_mutex_init(&shm->lock, NULL);
    *out = shm;
    return 0;
}

void pt__shm_destroy(pt__shm *shm)
{
    if (!shm)
        return;
    munmap(shm->base, shm->size);
    pthread_mutex_destroy(&shm->lock);
    free(shm->free);
    free(shm);
}

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

void *pt__shm_alloc(pt__shm *shm, size_t bytes)
{
    if (!bytes)
        bytes = 1;
    size_t align = bytes >= 65536 ? shm->page : 64;
    if (bytes > shm->size)
        return NULL;
    bytes = round_up(bytes, 64);
    void *p = NULL;
    pthread_mutex_lock(&shm->lock);
    for (size_t i = 0; i < shm->nfree; i++) {
        extent *e = &shm->free[i];
        size_t start = round_up(e->off, align);
        if (start - e->off + bytes > e->len)
            continue;
        size_t head = start - e->off;
        size_t tail = e->len - head - bytes;
        p = shm->base + start;
        if (head && tail) {
            /* split in two: need one more slot */
            if (shm->nfree == shm->capfree) {
                extent *n = realloc(shm->free, 2 * shm->capfree * sizeof(*n));
                if (!n) {
                    p = NULL;
                    break;
                }
                shm->free = n;
                shm->capfree *= 2;
                e = &shm->free[i];
            }
            memmove(&shm->free[i + 2], &shm->free[i + 1], (shm->nfree - i - 1) * sizeof(*e));
            shm->free[i + 1].off = start + bytes;
            shm->free[i + 1].len = tail;
            e->len = head;
            shm->nfree++;
        } else if (head) {
            e->len = head;
        } else if (tail) {
            e->off = start + bytes;
            e->len = tail;
        } else {
            memmove(&shm->free[i], &shm->free[i + 1], (shm->nfree - i - 1) * sizeof(*e));
            shm->nfree--;
        }
        break;
    }
    pthread_mutex_unlock(&shm->lock);
    return p;
}

/* Returns the extent's memory to the zero state (see the invariant above). */
static void zero_extent(pt__shm *shm, size_t off, size_t len)
{
    size_t a = round_up(off, shm->page);
    size_t b = (off + len) / shm->page * shm->page;
    if (a < b) {
        if (madvise(shm->base + a, b - a, MADV_REMOVE) != 0)
            memset(shm->base + a, 0, b - a);
        memset(shm->base + off, 0, a - off);
        memset(shm->base + b, 0, off + len - b);
    } else {
        memset(shm->base + off, 0, len);
    }
}

void pt__shm_free(pt__shm *shm, void *p, size_t bytes)
{
    if (!p)
        return;
    if (!bytes)
        bytes = 1;
    bytes = round_up(bytes, 64);
    size_t off = (size_t)((unsigned char *)p - shm->base);
    zero_extent(shm, off, bytes);
    pthread_mutex_lock(&shm->lock);
    size_t i = 0;
    while (i < shm->nfree && shm->free[i].off < off)
        i++;
    bool merge_prev = i > 0 && shm->free[i - 1].off + shm->free[i - 1].len == off;
    bool merge_next = i < shm->nfree && off + bytes == shm->free[i].off;
    if (merge_prev && merge_next) {
        shm->free[i - 1].len += bytes + shm->free[i].len;
        memmove(&shm->free[i], &shm->free[i + 1], (shm->nfree - i - 1) * sizeof(extent));
        shm->nfree--;
    } else if (merge_prev) {
        shm->free[i - 1].len += bytes;
    } else if (merge_next) {
        shm->free[i].off = off;
        shm->free[i].len += bytes;
    } else {
        if (shm->nfree == shm->capfree) {
            extent *n = realloc(shm->free, 2 * shm->capfree * sizeof(*n));
            if (!n) {
                /* Leak the extent rather than corrupt the list; it stays zero. */
                pthread_mutex_unlock(&shm->lock);
                return;
            }
            shm->free = n;
            shm->capfree *= 2;
        }
        memmove(&shm->free[i + 1], &shm->free[i], (shm->nfree - i) * sizeof(extent));
        shm->free[i].off = off;
        shm->free[i].len = bytes;
        shm->nfree++;
    }
    pthread_mutex_unlock(&shm->lock);
}

bool pt__shm_contains(const pt__shm *shm, const void *p)
{
    const unsigned char *c = p;
    return shm && c >= shm->base && c < shm->base + shm->size;
}

size_t pt__shm_reserved(const pt__shm *shm)
{
    return shm ? shm->size : 0;
}
