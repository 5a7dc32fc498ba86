/* hash.c - file digests: reads on the libuv loop, hashing on the pool.
 *
 * DESIGN
 *
 * One run (pt_hash) has three parts, all driven from the loop thread:
 *
 * The cursor walks the input in output order and produces items, one per
 * file. Top-level paths are stat()ed ahead of the cursor in a small ring
 * (ARG_WINDOW requests in flight) because the cursor must know whether a
 * path is a directory before it can go on: a directory's files come before
 * the next path. A directory is read with uv_fs_scandir into a frame (its
 * entries sorted by name); the frames form a stack, so the walk is depth
 * first. Entries are classified by their d_type: a regular file becomes an
 * item straight away, a symbolic link becomes an item that stat()s its
 * target first (a link to a directory is dropped, so the walk never loops),
 * a FIFO, socket or device becomes an error item without any system call,
 * and an entry of unknown type is lstat()ed by the cursor. The cursor stops
 * while max_open items are in progress (or MAX_AHEAD results wait for an
 * earlier one), and resumes when one finishes.
 *
 * An item reads its file with uv_fs_read into two buffers of block_size
 * bytes: while one block is being hashed on the pool (EVP_DigestUpdate via
 * pt_io_bridge_submit), the next one is being read. At most one read and
 * one hashing task per file are in flight, and the blocks are hashed in
 * file order, so the digest is the one of the whole file. At end of file
 * (a short read of a regular file, or a read returning 0) the file is
 * closed and EVP_DigestFinal_ex runs on the pool: in the task that hashes
 * the last block, or in a task of its own when the file ended on a block
 * boundary. A 1 MiB file thus costs an open, one read, a close and one
 * pool task. Files are opened with O_NONBLOCK: a path that is swapped for
 * a FIFO between the stat and the open cannot block the read.
 *
 * Ownership across threads: while a hashing task runs, the pool thread
 * reads only buf[task_buf], len[task_buf], ctx and task_final and writes
 * only task_err and md/mdlen; the loop thread leaves those alone until the
 * task's completion comes back through the bridge (a mutex hand-off), and
 * works meanwhile on the other buffer. tests/tsan_io_hash.c checks this
 * under ThreadSanitizer.
 *
 * Results come out in order: items sit in a singly linked list in the
 * order the cursor made them; whenever the head is finished it is handed to
 * on_result and freed. Every callback of the run ends in settle(), which
 * runs the cursor, delivers what it can and, when everything is over,
 * closes the bridge and calls on_done as its very last action.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>

#include "ptool/error.h"
#include "ptool/hash.h"
#include "ptool/io_work.h"
#include "io_util.h"

/* 2 MiB: a file of up to 2 MiB takes one read and one pool task, and
 * measured against 1 MiB (bench section hash, 1 MiB files: 0.92x -> 1.0x
 * of openssl; 100 MiB files: no change) it wins where files are small. */
#define DEFAULT_BLOCK (2u << 20)
#define MIN_BLOCK     4096u
#define MAX_BLOCK     (64u << 20)
#define ARG_WINDOW    32    /* stat()s of top-level paths ahead of the cursor */
#define MAX_AHEAD     65536 /* finished results waiting for an earlier one */

typedef struct hitem hitem;
typedef struct pt_hash pt_hash;

/* How an item starts. */
enum origin {
    ORIG_FILE,  /* known to be a regular file: open it */
    ORIG_LINK,  /* a symbolic link found in a directory: stat it first */
    ORIG_STDIN, /* "-": read fd 0 */
    ORIG_ERROR  /* finished when made */
};

/* The state of one of an item's two buffers. */
enum bstate { B_FREE, B_READING, B_FULL, B_HASHING };

struct hitem {
    pt_hash *h;
    hitem *next; /* output order */
    char *path;
    size_t arg_index;
    uv_fs_t req; /* the item's one file-system request in flight */
    uv_file fd;  /* -1 when not open */
    EVP_MD_CTX *ctx;
    unsigned char *buf[2];
    size_t len[2];
    enum bstate bs[2];
    int rd, hs;      /* the buffer to read into next / to hash next */
    int task_buf;    /* the buffer the running hashing task reads */
    bool task_final; /* that task also finishes the digest */
    int task_err;    /* set by a pool task, read on the loop after it */
    uint64_t offset; /* next read offset (-1 reads for stdin) */
    uint64_t bytes;  /* bytes read */
    int status;      /* 0, or the item's error */
    pt_hash_kind kind;
    bool counted;  /* counts in h->open */
    bool req_busy; /* req in flight */
    bool hashing;  /* a pool task (update or final) in flight */
    bool eof, finalized, done, skip, is_stdin;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen;
};

/* A directory being walked: its sorted entries. */
typedef struct hentry {
    char *name;
    uv_dirent_type_t type;
} hentry;

typedef struct hframe {
    struct hframe *up;
    char *path;
    size_t arg_index;
    hentry *ents;
    size_t n, i;
} hframe;

/* One top-level path being stat()ed ahead of the cursor. */
typedef struct argslot {
    pt_hash *h;
    uv_fs_t req;
    size_t idx;
    enum { SLOT_EMPTY, SLOT_PENDING, SLOT_READY } state;
    bool lstat_phase; /* stat failed with ENOENT: is it a dangling link? */
    bool is_stdin;
    int err;
    pt_hash_kind kind; /* for errors */
    uint64_t mode;
} argslot;

struct pt_hash {
    uv_loop_t *loop;
    pt_pool *pool;
    pt_io_bridge *bridge;
    EVP_MD *md;
    size_t digest_len;
    size_t block;
    unsigned max_open;
    bool recurse, dash_is_stdin;
    pt_hash_result_fn on_result;
    pt_hash_done_fn on_done;
    void *arg;

    char **paths;
    char **expect; /* NULL or npaths entries (NULL entries allowed) */
    size_t npaths;

    /* cursor */
    size_t next_arg, next_stat; /* next path to consume / to stat */
    argslot ring[ARG_WINDOW];
    unsigned ring_busy; /* ring requests in flight */
    hframe *top;
    uv_fs_t creq; /* the cursor's scandir or lstat */
    bool creq_busy;
    char *cpath; /* path of creq */
    size_t carg; /* its arg_index */
    bool cursor_done, cancelled, finished, settling;
    bool stdin_busy; /* an item reads standard input */
    int status;      /* PT_ENOMEM when the run had to stop early */
    unsigned kicks;  /* no-op bridge tasks in flight (see kick()) */
    uint64_t produced, delivered;

    /* items */
    hitem *head, *tail;
    size_t ahead; /* items in the list */
    unsigned open;

    /* buffers of `block` bytes (see add_slab()) */
    unsigned char **slabs;
    size_t nslabs;
    unsigned char **spare;
    size_t nspare, spare_cap; /* spare_cap: every buffer carved so far */
};

static void settle(pt_hash *h);
static void item_advance(hitem *it);
static void fail_run(pt_hash *h, int code);

/* --- digests --------------------------------------------------------------- */

static EVP_MD *fetch_md(const char *algo)
{
    if (!algo || !*algo || strlen(algo) > 64)
        return NULL;
    return EVP_MD_fetch(NULL, algo, NULL);
}

int pt_hash_algo_info(const char *algo, size_t *digest_len, char *tag, size_t taglen)
{
    EVP_MD *md = fetch_md(algo);
    if (!md)
        return PT_EUNKNOWN;
    int size = EVP_MD_get_size(md);
    if (size <= 0 || size > PT_HASH_MAX_DIGEST) {
        EVP_MD_free(md);
        return PT_EUNKNOWN;
    }
    if (digest_len)
        *digest_len = (size_t)size;
    if (tag && taglen) {
        /* coreutils' names for the digests it has a *sum tool for. */
        static const struct {
            int nid;
            const char *tag;
        } known[] = {{NID_md5, "MD5"},           {NID_sha1, "SHA1"},     {NID_sha224, "SHA224"},
                     {NID_sha256, "SHA256"},     {NID_sha384, "SHA384"}, {NID_sha512, "SHA512"},
                     {NID_blake2b512, "BLAKE2b"}};
        int nid = EVP_MD_get_type(md);
        const char *name = NULL;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (known[i].nid == nid)
                name = known[i].tag;
        bool upper = false;
        if (!name) {
            name = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
            if (!name)
                name = EVP_MD_get0_name(md);
            upper = true;
        }
        size_t i = 0;
        for (; name[i] && i + 1 < taglen; i++) {
            char c = name[i];
            tag[i] = upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        }
        tag[i] = '\0';
    }
    EVP_MD_free(md);
    return 0;
}

int pt_hash_buffer(const char *algo, const void *data, size_t len, unsigned char *digest,
                   size_t *digest_len)
{
    if (!digest || (!data && len))
        return PT_EINVAL;
    EVP_MD *md = fetch_md(algo);
    if (!md)
        return PT_EUNKNOWN;
    int rc = PT_ENOMEM;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned n = 0;
    if (ctx && EVP_DigestInit_ex2(ctx, md, NULL) && EVP_DigestUpdate(ctx, data, len) &&
        EVP_DigestFinal_ex(ctx, digest, &n)) {
        rc = 0;
        if (digest_len)
            *digest_len = n;
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return rc;
}

/* --- buffers ----------------------------------------------------------------- */

/* Read buffers are carved out of slabs of whole 2 MiB, allocated once per
 * run and reused. No MADV_HUGEPAGE: where the kernel's THP defrag setting
 * is "madvise" (Debian's default), a fault on such a range may compact
 * memory first, and with the page cache full of the files being hashed
 * that cost up to 0.15 s of system time per run (bench section hash, 200
 * x 1 MiB); without it the runs are as fast and steady. A buffer goes back
 * to the spare list, never to malloc; the spare list has room for every
 * buffer ever carved, so putting one back cannot fail. */
#define SLAB_ALIGN ((size_t)2 << 20)

static int add_slab(pt_hash *h)
{
    size_t size = (h->block + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN;
    size_t n = size / h->block;
    unsigned char **slabs = realloc(h->slabs, (h->nslabs + 1) * sizeof(*slabs));
    if (!slabs)
        return PT_ENOMEM;
    h->slabs = slabs;
    unsigned char **spare = realloc(h->spare, (h->spare_cap + n) * sizeof(*spare));
    if (!spare)
        return PT_ENOMEM;
    h->spare = spare;
    unsigned char *slab = aligned_alloc(SLAB_ALIGN, size);
    if (!slab)
        return PT_ENOMEM;
    h->slabs[h->nslabs++] = slab;
    h->spare_cap += n;
    for (size_t i = 0; i < n; i++)
        h->spare[h->nspare++] = slab + i * h->block;
    return 0;
}

static unsigned char *buf_get(pt_hash *h)
{
    if (!h->nspare && add_slab(h))
        return NULL;
    return h->spare[--h->nspare];
}

static void buf_put(pt_hash *h, unsigned char *b)
{
    if (b)
        h->spare[h->nspare++] = b;
}

/* --- items ------------------------------------------------------------------- */

static pt_hash_kind kind_of_mode(uint64_t mode)
{
    if (S_ISREG(mode))
        return PT_HASH_KIND_FILE;
    if (S_ISDIR(mode))
        return PT_HASH_KIND_DIR;
    if (S_ISFIFO(mode))
        return PT_HASH_KIND_FIFO;
    if (S_ISSOCK(mode))
        return PT_HASH_KIND_SOCKET;
    if (S_ISCHR(mode))
        return PT_HASH_KIND_CHARDEV;
    if (S_ISBLK(mode))
        return PT_HASH_KIND_BLOCKDEV;
    return PT_HASH_KIND_OTHER;
}

static pt_hash_kind kind_of_dirent(uv_dirent_type_t t)
{
    switch (t) {
    case UV_DIRENT_FIFO:
        return PT_HASH_KIND_FIFO;
    case UV_DIRENT_SOCKET:
        return PT_HASH_KIND_SOCKET;
    case UV_DIRENT_CHAR:
        return PT_HASH_KIND_CHARDEV;
    case UV_DIRENT_BLOCK:
        return PT_HASH_KIND_BLOCKDEV;
    default:
        return PT_HASH_KIND_OTHER;
    }
}

/* Appends a new item (taking `path`) to the output list. NULL if out of
 * memory (path is freed then and the run is cancelled). */
static hitem *item_new(pt_hash *h, char *path, size_t arg_index)
{
    hitem *it = calloc(1, sizeof(*it));
    if (!it) {
        free(path);
        fail_run(h, PT_ENOMEM);
        return NULL;
    }
    it->h = h;
    it->path = path;
    it->arg_index = arg_index;
    it->fd = -1;
    it->req.data = it;
    if (h->tail)
        h->tail->next = it;
    else
        h->head = it;
    h->tail = it;
    h->ahead++;
    h->produced++;
    return it;
}

/* Marks the item finished (its result is ready) and releases its IO. */
static void item_finish(hitem *it)
{
    pt_hash *h = it->h;
    for (int b = 0; b < 2; b++) {
        buf_put(h, it->buf[b]);
        it->buf[b] = NULL;
    }
    EVP_MD_CTX_free(it->ctx);
    it->ctx = NULL;
    if (it->counted) {
        it->counted = false;
        h->open--;
    }
    if (it->is_stdin)
        h->stdin_busy = false;
    it->done = true;
}

static void item_fail(hitem *it, int status, pt_hash_kind kind)
{
    if (it->status == 0) {
        it->status = status;
        it->kind = kind;
    }
}

static void on_close(uv_fs_t *req)
{
    hitem *it = req->data;
    uv_fs_req_cleanup(req);
    it->req_busy = false;
    it->fd = -1;
    item_advance(it);
    settle(it->h);
}

static void on_update_done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    hitem *it = arg;
    it->hashing = false;
    if (status)
        item_fail(it, status, PT_HASH_KIND_FILE);
    else if (it->task_err)
        item_fail(it, PT_ENOMEM, PT_HASH_KIND_FILE);
    else if (it->task_final)
        it->finalized = true;
    it->bs[it->task_buf] = B_FREE;
    item_advance(it);
    settle(it->h);
}

static void update_work(pt_io_work *w, void *arg)
{
    (void)w;
    hitem *it = arg;
    int b = it->task_buf;
    if (!EVP_DigestUpdate(it->ctx, it->buf[b], it->len[b]))
        it->task_err = 1;
    else if (it->task_final && !EVP_DigestFinal_ex(it->ctx, it->md, &it->mdlen))
        it->task_err = 1;
}

static void on_final_done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    hitem *it = arg;
    it->hashing = false;
    it->finalized = true;
    if (status)
        item_fail(it, status, PT_HASH_KIND_FILE);
    else if (it->task_err)
        item_fail(it, PT_ENOMEM, PT_HASH_KIND_FILE);
    item_advance(it);
    settle(it->h);
}

static void final_work(pt_io_work *w, void *arg)
{
    (void)w;
    hitem *it = arg;
    if (!EVP_DigestFinal_ex(it->ctx, it->md, &it->mdlen))
        it->task_err = 1;
}

static void on_read(uv_fs_t *req)
{
    hitem *it = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    it->req_busy = false;
    int b = it->rd;
    if (n < 0) {
        item_fail(it, (int)n, PT_HASH_KIND_FILE);
        it->bs[b] = B_FREE;
    } else if (n == 0) {
        it->eof = true;
        it->bs[b] = B_FREE;
    } else {
        it->len[b] = (size_t)n;
        it->bs[b] = B_FULL;
        it->bytes += (uint64_t)n;
        it->offset += (uint64_t)n;
        it->rd ^= 1;
        /* A short read of a regular file ends it (libuv retries EINTR),
         * which saves a read per file, and lets the last block's task
         * finish the digest too. A pipe on stdin reads until 0. */
        if ((size_t)n < it->h->block && !it->is_stdin)
            it->eof = true;
    }
    item_advance(it);
    settle(it->h);
}

/* Moves an item's pipeline on: start the next hashing task and the next
 * read when their turn has come, then finalise, close, finish. */
static void item_advance(hitem *it)
{
    pt_hash *h = it->h;
    if (it->done)
        return;
    /* Hash the next block in file order. */
    if (it->status == 0 && !it->hashing && it->bs[it->hs] == B_FULL) {
        int b = it->hs;
        it->task_buf = b;
        /* The last block (end of file seen, so no read is in flight, and
         * the other buffer holds nothing): the same task finishes the
         * digest. */
        it->task_final = it->eof && it->bs[b ^ 1] != B_FULL;
        it->bs[b] = B_HASHING;
        int rc = pt_io_bridge_submit(h->bridge, update_work, on_update_done, it);
        if (rc) {
            it->bs[b] = B_FULL;
            item_fail(it, rc, PT_HASH_KIND_FILE);
        } else {
            it->hashing = true;
            it->hs ^= 1;
        }
    }
    /* Read the next block into the other buffer. */
    if (it->status == 0 && !it->eof && !it->req_busy && it->bs[it->rd] == B_FREE) {
        int b = it->rd;
        if (!it->buf[b])
            it->buf[b] = buf_get(h);
        if (!it->buf[b]) {
            item_fail(it, PT_ENOMEM, PT_HASH_KIND_FILE);
        } else {
            uv_buf_t ub = uv_buf_init((char *)it->buf[b], (unsigned)h->block);
            int64_t off = it->is_stdin ? -1 : (int64_t)it->offset;
            int rc = uv_fs_read(h->loop, &it->req, it->fd, &ub, 1, off, on_read);
            if (rc < 0) {
                item_fail(it, rc, PT_HASH_KIND_FILE);
            } else {
                it->req_busy = true;
                it->bs[b] = B_READING;
            }
        }
    }
    if (it->req_busy)
        return;
    /* Reading is over (end of file or an error): close the file. */
    if ((it->eof || it->status) && it->fd >= 0 && !it->is_stdin) {
        int rc = uv_fs_close(h->loop, &it->req, it->fd, on_close);
        if (rc == 0) {
            it->req_busy = true;
            return;
        }
        it->fd = -1;
    }
    if (it->hashing)
        return;
    if (it->status == 0 && it->eof && !it->finalized) {
        int rc = pt_io_bridge_submit(h->bridge, final_work, on_final_done, it);
        if (rc == 0) {
            it->hashing = true;
            return;
        }
        item_fail(it, rc, PT_HASH_KIND_FILE);
    }
    if (it->status || it->finalized)
        item_finish(it);
}

/* Starts reading an item whose file is open (or is stdin). */
static void item_start_reading(hitem *it)
{
    pt_hash *h = it->h;
    it->ctx = EVP_MD_CTX_new();
    if (!it->ctx || !EVP_DigestInit_ex2(it->ctx, h->md, NULL))
        item_fail(it, PT_ENOMEM, PT_HASH_KIND_FILE); /* item_advance() closes it */
    item_advance(it);
}

static void on_open(uv_fs_t *req)
{
    hitem *it = req->data;
    ssize_t fd = req->result;
    uv_fs_req_cleanup(req);
    it->req_busy = false;
    if (fd < 0) {
        item_fail(it, (int)fd, (int)fd == UV_EISDIR ? PT_HASH_KIND_DIR : PT_HASH_KIND_UNKNOWN);
        item_finish(it);
    } else {
        it->fd = (uv_file)fd;
        item_start_reading(it);
    }
    settle(it->h);
}

static void item_open(hitem *it)
{
    int rc = uv_fs_open(it->h->loop, &it->req, it->path,
                        O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0, on_open);
    if (rc < 0) {
        item_fail(it, rc, PT_HASH_KIND_UNKNOWN);
        item_finish(it);
        return;
    }
    it->req_busy = true;
}

static void on_link_stat(uv_fs_t *req)
{
    hitem *it = req->data;
    ssize_t r = req->result;
    uint64_t mode = req->statbuf.st_mode;
    uv_fs_req_cleanup(req);
    it->req_busy = false;
    if (r < 0) {
        item_fail(it, (int)r, r == UV_ENOENT ? PT_HASH_KIND_DANGLING : PT_HASH_KIND_UNKNOWN);
        item_finish(it);
    } else if (S_ISDIR(mode)) {
        it->skip = true; /* links to directories are not followed */
        item_finish(it);
    } else if (!S_ISREG(mode)) {
        item_fail(it, PT_EINVAL, kind_of_mode(mode));
        item_finish(it);
    } else {
        item_open(it);
    }
    settle(it->h);
}

/* Makes an item for a file and starts it. Takes `path`. */
static void produce(pt_hash *h, char *path, size_t arg_index, enum origin o, int status,
                    pt_hash_kind kind)
{
    hitem *it = item_new(h, path, arg_index);
    if (!it)
        return;
    if (o == ORIG_ERROR) {
        item_fail(it, status, kind);
        item_finish(it);
        return;
    }
    it->counted = true;
    h->open++;
    if (o == ORIG_STDIN) {
        it->is_stdin = true;
        h->stdin_busy = true;
        it->fd = 0;
        item_start_reading(it);
    } else if (o == ORIG_LINK) {
        int rc = uv_fs_stat(h->loop, &it->req, it->path, on_link_stat);
        if (rc < 0) {
            item_fail(it, rc, PT_HASH_KIND_UNKNOWN);
            item_finish(it);
        } else {
            it->req_busy = true;
        }
    } else {
        item_open(it);
    }
}

/* --- the cursor ---------------------------------------------------------------- */

static void fail_run(pt_hash *h, int code)
{
    if (!h->status)
        h->status = code;
    h->cancelled = true;
}

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    char *p = malloc(dl + (slash ? 0 : 1) + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (!slash)
        p[dl++] = '/';
    memcpy(p + dl, name, nl + 1);
    return p;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const hentry *)a)->name, ((const hentry *)b)->name);
}

static void frame_free(hframe *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->ents[i].name);
    free(f->ents);
    free(f->path);
    free(f);
}

/* Reads the directory's entries into a new frame on top of the stack;
 * PT_ENOMEM if that fails (nothing is pushed). Takes `path`. */
static int push_frame(pt_hash *h, uv_fs_t *req, char *path, size_t arg_index)
{
    hframe *f = calloc(1, sizeof(*f));
    size_t cap = req->result > 0 ? (size_t)req->result : 0;
    if (!f)
        goto fail_frame;
    f->path = path;
    f->arg_index = arg_index;
    if (cap) {
        f->ents = calloc(cap, sizeof(*f->ents));
        if (!f->ents)
            goto fail_ents;
    }
    uv_dirent_t ent;
    while (uv_fs_scandir_next(req, &ent) != UV_EOF) {
        if (f->n == cap)
            break; /* cannot happen: result is the count */
        f->ents[f->n].name = strdup(ent.name);
        if (!f->ents[f->n].name)
            goto fail_ents;
        f->ents[f->n].type = ent.type;
        f->n++;
    }
    if (f->n > 1)
        qsort(f->ents, f->n, sizeof(*f->ents), cmp_entry);
    f->up = h->top;
    h->top = f;
    return 0;
fail_ents:
    f->path = NULL; /* the caller keeps it */
    frame_free(f);
    return PT_ENOMEM;
fail_frame:
    return PT_ENOMEM;
}

static void on_scandir(uv_fs_t *req)
{
    pt_hash *h = req->data;
    char *path = h->cpath;
    h->cpath = NULL;
    h->creq_busy = false;
    int rc = req->result < 0 ? (int)req->result : push_frame(h, req, path, h->carg);
    uv_fs_req_cleanup(req);
    if (rc)
        produce(h, path, h->carg, ORIG_ERROR, rc, PT_HASH_KIND_DIR);
    settle(h);
}

/* Starts reading the directory `path` (taken) for the cursor. */
static void cursor_scandir(pt_hash *h, char *path, size_t arg_index)
{
    h->creq.data = h;
    int rc = uv_fs_scandir(h->loop, &h->creq, path, 0, on_scandir);
    if (rc < 0) {
        produce(h, path, arg_index, ORIG_ERROR, rc, PT_HASH_KIND_DIR);
        return;
    }
    h->cpath = path;
    h->carg = arg_index;
    h->creq_busy = true;
}

/* An entry of unknown type (a file system without d_type): lstat it. */
static void on_cursor_lstat(uv_fs_t *req)
{
    pt_hash *h = req->data;
    char *path = h->cpath;
    h->cpath = NULL;
    h->creq_busy = false;
    ssize_t r = req->result;
    uint64_t mode = req->statbuf.st_mode;
    uv_fs_req_cleanup(req);
    if (r < 0)
        produce(h, path, h->carg, ORIG_ERROR, (int)r, PT_HASH_KIND_UNKNOWN);
    else if (S_ISDIR(mode))
        cursor_scandir(h, path, h->carg);
    else if (S_ISLNK(mode))
        produce(h, path, h->carg, ORIG_LINK, 0, PT_HASH_KIND_FILE);
    else if (S_ISREG(mode))
        produce(h, path, h->carg, ORIG_FILE, 0, PT_HASH_KIND_FILE);
    else
        produce(h, path, h->carg, ORIG_ERROR, PT_EINVAL, kind_of_mode(mode));
    settle(h);
}

static void cursor_lstat(pt_hash *h, char *path, size_t arg_index)
{
    h->creq.data = h;
    int rc = uv_fs_lstat(h->loop, &h->creq, path, on_cursor_lstat);
    if (rc < 0) {
        produce(h, path, arg_index, ORIG_ERROR, rc, PT_HASH_KIND_UNKNOWN);
        return;
    }
    h->cpath = path;
    h->carg = arg_index;
    h->creq_busy = true;
}

static void on_arg_stat(uv_fs_t *req)
{
    argslot *s = req->data;
    pt_hash *h = s->h;
    ssize_t r = req->result;
    uint64_t mode = req->statbuf.st_mode;
    uv_fs_req_cleanup(req);
    if (!s->lstat_phase && r == UV_ENOENT) {
        /* Missing, or a symbolic link to something missing? */
        s->lstat_phase = true;
        if (uv_fs_lstat(h->loop, &s->req, h->paths[s->idx], on_arg_stat) == 0)
            return;
        s->err = UV_ENOENT;
    } else if (s->lstat_phase) {
        s->err = UV_ENOENT;
        if (r >= 0 && S_ISLNK(mode))
            s->kind = PT_HASH_KIND_DANGLING;
    } else if (r < 0) {
        s->err = (int)r;
    } else {
        s->mode = mode;
    }
    s->state = SLOT_READY;
    h->ring_busy--;
    settle(h);
}

/* Starts stat()s of the next top-level paths, up to ARG_WINDOW ahead. */
static void fill_ring(pt_hash *h)
{
    while (!h->cancelled && h->next_stat < h->npaths && h->next_stat < h->next_arg + ARG_WINDOW) {
        argslot *s = &h->ring[h->next_stat % ARG_WINDOW];
        s->h = h;
        s->idx = h->next_stat++;
        s->lstat_phase = false;
        s->is_stdin = false;
        s->err = 0;
        s->mode = 0;
        s->kind = PT_HASH_KIND_UNKNOWN;
        s->req.data = s;
        const char *p = h->paths[s->idx];
        if (h->dash_is_stdin && !strcmp(p, "-")) {
            s->is_stdin = true;
            s->state = SLOT_READY;
            continue;
        }
        int rc = uv_fs_stat(h->loop, &s->req, p, on_arg_stat);
        if (rc < 0) {
            s->err = rc;
            s->state = SLOT_READY;
            continue;
        }
        s->state = SLOT_PENDING;
        h->ring_busy++;
    }
}

/* The cursor takes the next top-level path, whose stat is in s. */
static void consume_arg(pt_hash *h, argslot *s)
{
    size_t idx = s->idx;
    s->state = SLOT_EMPTY;
    h->next_arg++;
    char *path = strdup(h->paths[idx]);
    if (!path) {
        fail_run(h, PT_ENOMEM);
        return;
    }
    if (s->is_stdin)
        produce(h, path, idx, ORIG_STDIN, 0, PT_HASH_KIND_FILE);
    else if (s->err)
        produce(h, path, idx, ORIG_ERROR, s->err, s->kind);
    else if (S_ISDIR(s->mode) && h->recurse)
        cursor_scandir(h, path, idx);
    else if (S_ISDIR(s->mode))
        produce(h, path, idx, ORIG_ERROR, PT_EISDIR, PT_HASH_KIND_DIR);
    else if (S_ISREG(s->mode))
        produce(h, path, idx, ORIG_FILE, 0, PT_HASH_KIND_FILE);
    else
        produce(h, path, idx, ORIG_ERROR, PT_EINVAL, kind_of_mode(s->mode));
}

/* Runs the cursor until it has to wait (for a stat, a directory, a free
 * slot) or has gone through everything. */
static void pump(pt_hash *h)
{
    fill_ring(h);
    while (!h->cancelled && !h->cursor_done && !h->creq_busy) {
        if (h->open >= h->max_open || h->ahead >= MAX_AHEAD)
            return;
        hframe *f = h->top;
        if (f) {
            if (f->i == f->n) {
                h->top = f->up;
                frame_free(f);
                continue;
            }
            hentry *e = &f->ents[f->i++];
            char *path = join_path(f->path, e->name);
            if (!path) {
                fail_run(h, PT_ENOMEM);
                return;
            }
            switch (e->type) {
            case UV_DIRENT_FILE:
                produce(h, path, f->arg_index, ORIG_FILE, 0, PT_HASH_KIND_FILE);
                break;
            case UV_DIRENT_DIR:
                cursor_scandir(h, path, f->arg_index);
                break;
            case UV_DIRENT_LINK:
                produce(h, path, f->arg_index, ORIG_LINK, 0, PT_HASH_KIND_FILE);
                break;
            case UV_DIRENT_UNKNOWN:
                cursor_lstat(h, path, f->arg_index);
                break;
            default:
                produce(h, path, f->arg_index, ORIG_ERROR, PT_EINVAL, kind_of_dirent(e->type));
                break;
            }
            continue;
        }
        if (h->next_arg < h->npaths) {
            fill_ring(h);
            argslot *s = &h->ring[h->next_arg % ARG_WINDOW];
            if (s->state != SLOT_READY)
                return;
            if (s->is_stdin && h->stdin_busy)
                return; /* "-" twice: the second one reads what is left, after */
            consume_arg(h, s);
            continue;
        }
        h->cursor_done = true;
    }
}

/* --- results ------------------------------------------------------------------- */

static void deliver(pt_hash *h)
{
    static const char digits[] = "0123456789abcdef";
    while (h->head && h->head->done) {
        hitem *it = h->head;
        h->head = it->next;
        if (!h->head)
            h->tail = NULL;
        h->ahead--;
        h->delivered++;
        if (!it->skip) {
            char hex[2 * EVP_MAX_MD_SIZE + 1];
            pt_hash_result r = {.path = it->path,
                                .arg_index = it->arg_index,
                                .status = it->status,
                                .kind = it->kind,
                                .bytes = it->bytes,
                                .match = -1};
            if (it->status == 0) {
                for (unsigned i = 0; i < it->mdlen; i++) {
                    hex[2 * i] = digits[it->md[i] >> 4];
                    hex[2 * i + 1] = digits[it->md[i] & 15];
                }
                hex[2 * it->mdlen] = '\0';
                r.digest = it->md;
                r.digest_len = it->mdlen;
                r.hex = hex;
            }
            const char *want = h->expect ? h->expect[it->arg_index] : NULL;
            if (want) {
                bool same = it->status == 0 && strlen(want) == 2 * (size_t)it->mdlen;
                for (unsigned i = 0; same && i < it->mdlen; i++)
                    same = io_hexval(want[2 * i]) == it->md[i] >> 4 &&
                           io_hexval(want[2 * i + 1]) == (it->md[i] & 15);
                r.match = same ? 1 : 0;
            }
            h->on_result(&r, h->arg);
        }
        free(it->path);
        free(it);
    }
}

/* Runs the cursor and delivers until nothing moves; when the run is over,
 * closes the bridge and calls on_done, which may free h: nothing touches h
 * after that. Every callback of the run ends here. */
static void settle(pt_hash *h)
{
    if (h->settling || h->finished)
        return;
    h->settling = true;
    for (;;) {
        uint64_t before = h->produced + h->delivered;
        pump(h);
        deliver(h);
        if (h->produced + h->delivered == before)
            break;
    }
    h->settling = false;
    bool over = (h->cursor_done || h->cancelled) && !h->head && !h->creq_busy &&
                h->ring_busy == 0 && h->open == 0 && h->kicks == 0;
    if (!over)
        return;
    h->finished = true;
    pt_io_bridge_close(h->bridge);
    h->bridge = NULL;
    int status = h->status ? h->status : h->cancelled && !h->cursor_done ? PT_ECANCELED : 0;
    if (h->on_done)
        h->on_done(h->arg, status);
}

static void kick_work(pt_io_work *w, void *arg)
{
    (void)w;
    (void)arg;
}

static void on_kick(pt_io_work *w, void *arg, int status)
{
    (void)w;
    (void)status;
    pt_hash *h = arg;
    h->kicks--;
    settle(h);
}

/* Makes the loop call settle() soon (never from inside the caller). */
static int kick(pt_hash *h)
{
    int rc = pt_io_bridge_submit(h->bridge, kick_work, on_kick, h);
    if (rc == 0)
        h->kicks++;
    return rc;
}

/* --- the run ------------------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static char **copy_strv(const char *const *v, size_t n, bool nulls_ok)
{
    char **c = calloc(n ? n : 1, sizeof(*c));
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i] && nulls_ok)
            continue;
        c[i] = v[i] ? strdup(v[i]) : NULL;
        if (!c[i]) {
            free_strv(c, n);
            return NULL;
        }
    }
    return c;
}

void pt_hash_destroy(pt_hash *h)
{
    if (!h)
        return;
    while (h->head) {
        hitem *it = h->head;
        h->head = it->next;
        free(it->path);
        free(it);
    }
    while (h->top) {
        hframe *f = h->top;
        h->top = f->up;
        frame_free(f);
    }
    for (size_t i = 0; i < h->nslabs; i++)
        free(h->slabs[i]);
    free(h->slabs);
    free(h->spare);
    free(h->cpath);
    free_strv(h->paths, h->npaths);
    free_strv(h->expect, h->npaths);
    EVP_MD_free(h->md);
    free(h);
}

int pt_hash_start(pt_hash **out, uv_loop_t *loop, pt_pool *pool, const char *const *paths,
                  size_t npaths, const pt_hash_options *opts, char *err, size_t errlen)
{
    if (!out || !loop || !pool || !opts || !opts->on_result || (npaths && !paths))
        return io_errf(err, errlen, PT_EINVAL, "hash: missing argument");
    for (size_t i = 0; i < npaths; i++)
        if (!paths[i])
            return io_errf(err, errlen, PT_EINVAL, "hash: path %zu is NULL", i);
    size_t block = opts->block_size ? opts->block_size : DEFAULT_BLOCK;
    if (block < MIN_BLOCK || block > MAX_BLOCK)
        return io_errf(err, errlen, PT_EINVAL, "hash: block size %zu is not in %u..%u", block,
                       MIN_BLOCK, MAX_BLOCK);
    const char *algo = opts->algo ? opts->algo : "sha256";
    size_t dlen;
    if (pt_hash_algo_info(algo, &dlen, NULL, 0))
        return io_errf(err, errlen, PT_EUNKNOWN, "hash: unknown digest '%s'", algo);

    int rc = PT_ENOMEM;
    pt_hash *h = calloc(1, sizeof(*h));
    if (!h)
        goto fail;
    h->loop = loop;
    h->pool = pool;
    h->block = block;
    h->digest_len = dlen;
    /* A small file spends a good part of its life opening and being read
     * (a 1 MiB copy takes a third of the time its hash does): 4 files per
     * thread keep enough blocks ready that no worker waits for one. */
    h->max_open = opts->max_open ? opts->max_open : 4 * pt_pool_threads(pool);
    h->recurse = !opts->no_recurse && !opts->expect;
    h->dash_is_stdin = opts->dash_is_stdin;
    h->on_result = opts->on_result;
    h->on_done = opts->on_done;
    h->arg = opts->arg;
    h->npaths = npaths;
    h->md = fetch_md(algo);
    if (!h->md)
        goto fail_run;
    h->paths = copy_strv(paths, npaths, false);
    if (!h->paths)
        goto fail_run;
    if (opts->expect) {
        h->expect = copy_strv(opts->expect, npaths, true);
        if (!h->expect)
            goto fail_run;
    }
    rc = pt_io_bridge_create(&h->bridge, loop, pool);
    if (rc)
        goto fail_run;
    rc = kick(h);
    if (rc)
        goto fail_bridge;
    *out = h;
    return 0;

fail_bridge:
    pt_io_bridge_close(h->bridge);
fail_run:
    pt_hash_destroy(h);
fail:
    return io_errf(err, errlen, rc, "hash: %s", pt_strerror(rc));
}

void pt_hash_cancel(pt_hash *h)
{
    if (!h || h->finished || h->cancelled)
        return;
    h->cancelled = true;
    /* Something is in flight (else the run would be over), so settle()
     * runs at its completion even if this kick cannot be queued. */
    (void)kick(h);
}

/* --- the sums-file format ------------------------------------------------------ */

/* A bounded writer with snprintf's return convention. */
typedef struct wbuf {
    char *buf;
    size_t cap, len;
} wbuf;

static void w_putc(wbuf *w, char c)
{
    if (w->len + 1 < w->cap)
        w->buf[w->len] = c;
    w->len++;
}

static void w_puts(wbuf *w, const char *s)
{
    while (*s)
        w_putc(w, *s++);
}

/* coreutils' print_filename(): with escape, "\n", "\r" and "\\". */
static void w_name(wbuf *w, const char *s, bool escape)
{
    for (; *s; s++) {
        if (escape && *s == '\n')
            w_puts(w, "\\n");
        else if (escape && *s == '\r')
            w_puts(w, "\\r");
        else if (escape && *s == '\\')
            w_puts(w, "\\\\");
        else
            w_putc(w, *s);
    }
}

static size_t w_end(wbuf *w)
{
    if (w->cap)
        w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
    return w->len;
}

size_t pt_hash_format_line(char *buf, size_t buflen, const char *tag, const char *hex,
                           const char *name, unsigned flags)
{
    wbuf w = {buf, buflen, 0};
    bool zero = flags & PT_HASH_FMT_ZERO;
    bool escape = !zero && name[strcspn(name, "\\\n\r")] != '\0';
    if (escape)
        w_putc(&w, '\\');
    if (flags & PT_HASH_FMT_TAG) {
        w_puts(&w, tag ? tag : "");
        w_puts(&w, " (");
        w_name(&w, name, escape);
        w_puts(&w, ") = ");
        w_puts(&w, hex);
    } else {
        w_puts(&w, hex);
        w_putc(&w, ' ');
        w_putc(&w, flags & PT_HASH_FMT_BINARY ? '*' : ' ');
        w_name(&w, name, escape);
    }
    w_putc(&w, zero ? '\0' : '\n');
    return w_end(&w);
}

size_t pt_hash_format_check_name(char *buf, size_t buflen, const char *name)
{
    /* sha256sum -c (9.1) escapes a reported name only when it holds a
     * newline, though its sums lines also escape '\\' and '\r'. */
    wbuf w = {buf, buflen, 0};
    bool escape = strchr(name, '\n') != NULL;
    if (escape)
        w_putc(&w, '\\');
    w_name(&w, name, escape);
    return w_end(&w);
}

static bool is_white(char c)
{
    return c == ' ' || c == '\t';
}

/* Undoes the escapes of a name of len bytes in place and terminates it;
 * false for a lone backslash at the end, any escape but \\ \n \r, or a NUL. */
static bool unescape_name(char *s, size_t len)
{
    char *dst = s;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0')
            return false;
        if (s[i] != '\\') {
            *dst++ = s[i];
            continue;
        }
        if (++i == len)
            return false;
        if (s[i] == 'n')
            *dst++ = '\n';
        else if (s[i] == 'r')
            *dst++ = '\r';
        else if (s[i] == '\\')
            *dst++ = '\\';
        else
            return false;
    }
    if (dst < s + len)
        *dst = '\0';
    return true;
}

/* Exactly n hex digits, then the end of the string. */
static bool hex_exact(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (io_hexval(s[i]) < 0)
            return false;
    return s[n] == '\0';
}

/* "TAG (NAME) = HEX": s is what follows the '('. */
static int parse_tagged(const pt_hash_parser *p, char *s, size_t len, bool escaped,
                        pt_hash_line *out)
{
    if (len == 0)
        return PT_EPARSE;
    size_t i = len - 1; /* the name ends at the last ')' */
    while (i && s[i] != ')')
        i--;
    if (s[i] != ')')
        return PT_EPARSE;
    if (escaped && !unescape_name(s, i))
        return PT_EPARSE;
    s[i++] = '\0';
    while (is_white(s[i]))
        i++;
    if (s[i++] != '=')
        return PT_EPARSE;
    while (is_white(s[i]))
        i++;
    if (!hex_exact(s + i, p->hex_len))
        return PT_EPARSE;
    out->name = s;
    out->hex = s + i;
    out->binary = false;
    return 1;
}

int pt_hash_parse_line(pt_hash_parser *p, char *line, size_t len, pt_hash_line *out)
{
    if (!p || !line || !out || p->hex_len == 0)
        return PT_EINVAL;
    /* What sha256sum -c skips: comments, then (after the line end) empty lines. */
    if (len && line[0] == '#')
        return 0;
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    line[len] = '\0';

    size_t i = 0;
    while (is_white(line[i]))
        i++;
    bool escaped = false;
    if (line[i] == '\\') {
        escaped = true;
        i++;
    }
    size_t taglen = p->tag ? strlen(p->tag) : 0;
    if (taglen && !strncmp(line + i, p->tag, taglen)) {
        i += taglen;
        if (line[i] == ' ')
            i++;
        if (line[i] != '(')
            return PT_EPARSE;
        i++;
        return parse_tagged(p, line + i, len - i, escaped, out);
    }
    /* HEX, one blank, then ' ' or '*' and the name (or, in the reversed BSD
     * format, the name straight away). At least one character of name. */
    if (len - i < p->hex_len + 2 + (line[i] == '\\' ? 1u : 0u))
        return PT_EPARSE;
    char *hex = line + i;
    i += p->hex_len;
    if (!is_white(line[i]))
        return PT_EPARSE;
    line[i++] = '\0';
    if (!hex_exact(hex, p->hex_len))
        return PT_EPARSE;
    bool binary = false;
    if (len - i == 1 || (line[i] != ' ' && line[i] != '*')) {
        /* A file may not mix the two formats (a name with a leading blank
         * could otherwise pass for the other one). */
        if (p->bsd_reversed == 1)
            return PT_EPARSE;
        p->bsd_reversed = 2;
    } else if (p->bsd_reversed != 2) {
        p->bsd_reversed = 1;
        binary = line[i++] == '*';
    }
    if (escaped && !unescape_name(line + i, len - i))
        return PT_EPARSE;
    out->hex = hex;
    out->name = line + i;
    out->binary = binary;
    return 1;
}
