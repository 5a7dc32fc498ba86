/* fetch.c - HTTP(S) transfers with libcurl's multi_socket API on a libuv loop.
 *
 * DESIGN
 *
 * One CURLM per fetcher. curl tells us which sockets to watch through
 * CURLMOPT_SOCKETFUNCTION: each socket gets a uv_poll_t (a sockctx, attached
 * with curl_multi_assign), stopped and closed on CURL_POLL_REMOVE. curl asks
 * for one timeout through CURLMOPT_TIMERFUNCTION: one uv_timer_t, started
 * with exactly the delay asked for, 0 included (turning 0 into 1 ms, as
 * curl's multi-uv example does, caps a serial fetch at ~900 req/s; see
 * TOOLCHAIN.md section 3). When a poll or the timer fires we call
 * curl_multi_socket_action() and then drain curl_multi_info_read() for
 * finished transfers. (libuv 1.44 runs a timer restarted with 0 from its
 * own callback again in the same loop pass: with a fast server, finished
 * transfers and their successors chain without an epoll_wait between.)
 * uv_poll_start() costs an epoll_ctl DEL and ADD every time, so it is only
 * called when curl's interest in a socket changes.
 *
 * The concurrency cap is a semaphore in front of the multi handle: at most
 * `concurrency` easy handles are added at once. Transfers wait in FIFOs
 * (`ready` for retries that are due, then `queue` for new ones) and
 * start_queued() moves them into the multi as slots free up, unless the
 * fetcher is paused or cancelling. CURLMOPT_MAX_HOST_CONNECTIONS and
 * MAXCONNECTS are sized to the cap, so a host never sees more connections
 * than the cap and every idle connection stays cached for reuse. Easy
 * handles live in slots, kept in a free list (at most `concurrency`) and
 * reused: the fetcher-wide options are set once per handle, and what only
 * a running attempt needs (error buffer, redirect hops) lives in the slot,
 * so a queued transfer is small. Each URL is parsed once, by
 * pt_fetcher_add() (which must reject bad ones), and curl gets the parsed
 * handle (CURLOPT_CURLU) instead of parsing the string again.
 *
 * A failed attempt that may succeed later (no connection, broken transfer,
 * timeout, HTTP 408/429/5xx except 501/505) waits in `waiting`, sorted by
 * due time, behind one uv_timer_t armed for the earliest; it does not hold
 * a slot while it waits.
 *
 * No curl function may be called from inside a curl callback, so anything
 * that would (pt_fetcher_add from on_data, unpausing) only queues work while
 * `in_curl` is set, and the code that called into curl finishes it after
 * curl returns (after_curl()).
 *
 * File sinks: body bytes are buffered per transfer; at FLUSH_AT bytes the
 * buffer is written on libuv's thread pool (uv_queue_work; at most one
 * operation per file in flight, ordered). If the buffer reaches PAUSE_AT
 * while a write is still in flight, the write callback returns
 * CURL_WRITEFUNC_PAUSE and the transfer resumes when the write is done.
 * The file is written under a hidden temporary name in the target
 * directory (".NAME.part-PID-N") and renamed over the final name at commit,
 * so a reader never sees a partial file; a failure or a cancel removes it
 * (only SIGKILL or a crash can leave one behind). No fsync:
 * a fetch can be repeated, and syncing every small file would cost more than
 * the fetch. A retry after data was written sets `reset`: later writes start
 * at offset 0 and the commit truncates to the final length.
 *
 * Lifetime: every accepted transfer ends in deliver() (one on_done call).
 * `refs` counts what must finish before the fetcher may be freed: open uv
 * handles and thread-pool operations in flight. destroy() cancels, cleans
 * up curl, closes the handles; the last close or operation frees it.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetch_internal.h"
#include "io_util.h"
#include "ptool/error.h"
#include "ptool/fetch.h"
#include "ptool/ptool.h"

#define FLUSH_AT (256u * 1024u)  /* write the file buffer out at this size */
#define PAUSE_AT (1024u * 1024u) /* pause the transfer while a write is in flight */
#define MAX_HOPS 32              /* URLs remembered per attempt for loop detection */

typedef struct xfer xfer;
typedef struct sockctx sockctx;

/* An easy handle with what only a running attempt needs (kept out of the
 * queued transfers, which are many). At most `concurrency` exist. */
typedef struct slot {
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    char reason[64];         /* reason phrase of the last status line */
    uint64_t hops[MAX_HOPS]; /* hashes of the URLs answered in this attempt */
    unsigned nhops;
    int loop; /* a URL came back in the redirect chain */
} slot;

/* A doubly linked list of transfers. */
typedef struct xlist {
    xfer *head, *tail;
    size_t n;
} xlist;

enum where { X_NONE, X_QUEUED, X_READY, X_ACTIVE, X_WAITING, X_FINISHING };
enum fileop_kind { OP_FLUSH, OP_COMMIT, OP_ABORT };

/* State of a file sink. While `busy`, the worker thread owns fd, tmp,
 * data/len/op_off and op_err/op_step; the loop thread owns the rest, and
 * everything once fileop_after() runs (uv_queue_work orders the two). */
typedef struct filestate {
    xfer *x;              /* owner */
    char *path;           /* final name */
    char *dir;            /* its directory */
    char *tmp;            /* hidden temporary name (malloc'd), NULL until needed */
    int fd;               /* -1 until the first operation opens it */
    uint64_t off;         /* where the next write goes */
    int reset;            /* a retry restarted the body: truncate at commit */
    int busy;             /* an operation is in flight */
    int pending;          /* -1, or OP_COMMIT / OP_ABORT to run after it */
    int err;              /* first error (errno), 0 if none */
    const char *err_step; /* what failed ("write", "rename", ...) */
    /* the operation in flight */
    uv_work_t work;
    int op;
    char *data;
    size_t len;
    uint64_t op_off;
    int op_truncate;     /* COMMIT: cut the file at op_off + len */
    int op_err;          /* set by the worker: errno of the failed step */
    const char *op_step; /* and which step */
} filestate;

struct xfer {
    pt_fetcher *f;
    xfer *prev, *next;
    enum where where;
    slot *s; /* while X_ACTIVE */
    char *url;
    CURLU *uh; /* url, parsed */
    pt_fetch_sink sink;
    pt_fetch_data_fn on_data;
    pt_fetch_reset_fn on_reset;
    pt_fetch_done_fn on_done;
    void *ctx;
    filestate *file;
    /* body buffer: the memory sink's body, the file sink's unwritten bytes */
    char *buf;
    size_t len, cap;
    /* this attempt */
    uint64_t bytes;
    int checked_status; /* the response code was looked at for this response */
    int deliver;        /* this response's body goes to the sink */
    int delivered;      /* the callback sink got bytes in this attempt */
    int too_big;
    int sink_failed;
    int io_paused; /* returned CURL_WRITEFUNC_PAUSE, waiting on a write */
    /* the whole transfer */
    unsigned retries;
    uint64_t due; /* X_WAITING: uv_now() when the retry is due */
    uint64_t t0;  /* uv_hrtime() at the first start; 0 before */
    char *msg;    /* why it failed (malloc'd); NULL: nothing to say */
    char *eff;    /* the effective URL when it differs from url (malloc'd) */
    char *ctype;  /* the last response's Content-Type (malloc'd); NULL if none */
    int got_eff;  /* an attempt got that far: the effective URL is known */
    pt_fetch_result res;
};

struct sockctx {
    uv_poll_t poll;
    pt_fetcher *f;
    curl_socket_t fd;
    int events;           /* UV_READABLE | UV_WRITABLE, as curl asked */
    sockctx *prev, *next; /* open sockets, for destroy */
};

struct pt_fetcher {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;       /* curl's timeout */
    uv_timer_t retry_timer; /* the earliest waiting retry */
    pt_fetch_options opts;
    char *ca_file, *user_agent;
    xlist queue;   /* new transfers, FIFO */
    xlist ready;   /* retries that are due, FIFO, before `queue` */
    xlist active;  /* in the multi handle */
    xlist waiting; /* retries, sorted by due */
    size_t finishing;
    sockctx *socks;
    slot **free_slots; /* reusable easy handles */
    size_t nfree;
    unsigned in_curl;   /* inside a curl call (its callbacks may run) */
    unsigned canceling; /* inside cancel_all: start nothing */
    unsigned in_cb;     /* inside on_done: destroy() is not allowed */
    int paused;
    int destroying;
    int need_start; /* start_queued() was wanted while in_curl */
    int env_proxy;  /* a proxy variable is set: let curl read them */
    size_t refs;    /* open handles + pool operations */
    uint64_t done, bytes, seq, rng;
    size_t max_active;
};

/* --- small helpers ---------------------------------------------------------- */

static void list_push(xlist *l, xfer *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
    l->n++;
}

static void list_insert_before(xlist *l, xfer *pos, xfer *x)
{
    if (!pos) {
        list_push(l, x);
        return;
    }
    x->next = pos;
    x->prev = pos->prev;
    if (pos->prev)
        pos->prev->next = x;
    else
        l->head = x;
    pos->prev = x;
    l->n++;
}

static void list_remove(xlist *l, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

static xlist *list_of(pt_fetcher *f, enum where w)
{
    switch (w) {
    case X_QUEUED:
        return &f->queue;
    case X_READY:
        return &f->ready;
    case X_ACTIVE:
        return &f->active;
    case X_WAITING:
        return &f->waiting;
    default:
        return NULL;
    }
}

static void move_to(pt_fetcher *f, xfer *x, enum where w)
{
    xlist *from = list_of(f, x->where), *to = list_of(f, w);
    if (from)
        list_remove(from, x);
    x->where = w;
    if (to)
        list_push(to, x);
    if (w == X_FINISHING)
        f->finishing++;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
set_msg(xfer *x, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(x->msg);
    x->msg = io_strdup(buf); /* NULL (no message) if out of memory */
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 88172645463325252ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint64_t pt__fetch_backoff_ms(unsigned retry, unsigned base_ms, unsigned max_ms, uint64_t *rng)
{
    uint64_t d = base_ms;
    for (unsigned i = 1; i < retry && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    uint64_t half = d / 2;
    return half + (d - half ? next_rand(rng) % (d - half + 1) : 0);
}

static void maybe_free(pt_fetcher *f)
{
    if (!f->destroying || f->refs)
        return;
    free(f->ca_file);
    free(f->user_agent);
    free(f->free_slots);
    free(f);
}

static void on_handle_closed(uv_handle_t *h)
{
    pt_fetcher *f = h->data;
    f->refs--;
    maybe_free(f);
}

/* --- results and delivery --------------------------------------------------- */

static void xfer_free(xfer *x)
{
    if (x->file) {
        free(x->file->path);
        free(x->file->dir);
        free(x->file->tmp);
        free(x->file->data);
        free(x->file);
    }
    free(x->buf);
    free(x->msg);
    free(x->eff);
    free(x->ctype);
    free(x->url);
    curl_url_cleanup(x->uh);
    free(x);
}

/* Ends x: one on_done call, then it is freed. */
static void deliver(xfer *x)
{
    pt_fetcher *f = x->f;
    if (x->where == X_FINISHING)
        f->finishing--;
    x->where = X_NONE;
    f->done++;
    pt_fetch_result *r = &x->res;
    r->url = x->url;
    r->message = x->msg ? x->msg : "";
    r->effective_url = x->eff ? x->eff : x->got_eff ? x->url : NULL;
    r->content_type = x->ctype;
    if (r->status == PT_FETCH_OK && x->sink == PT_FETCH_MEMORY && x->len) {
        r->body = x->buf;
        r->body_len = x->len;
        x->buf = NULL;
    }
    if (r->status == PT_FETCH_OK && x->file)
        r->path = x->file->path;
    if (x->on_done) {
        f->in_cb++;
        x->on_done(x->ctx, r);
        f->in_cb--;
    }
    free(r->body);
    xfer_free(x);
}

/* --- file sink: operations on libuv's thread pool --------------------------- */

/* Names the temporary file: ".NAME.part-PID-N" next to the final one. */
static int tmp_name(pt_fetcher *f, xfer *x)
{
    filestate *fs = x->file;
    const char *base = strrchr(fs->path, '/');
    base = base ? base + 1 : fs->path;
    size_t len = strlen(fs->dir) + strlen(base) + 64;
    if (!(fs->tmp = malloc(len)))
        return ENOMEM;
    snprintf(fs->tmp, len, "%s/.%.180s.part-%ld-%llu", fs->dir, base, (long)getpid(),
             (unsigned long long)++f->seq);
    return 0;
}

/* Worker side: creates the temporary file if needed. A named hidden file
 * rather than O_TMPFILE + linkat: on tmpfs that pair costs 5x more per
 * small file (measured: 400 vs 70 us), and SIGINT/SIGTERM are handled. */
static int fs_open(filestate *fs)
{
    if (fs->fd >= 0)
        return 0;
    fs->fd = open(fs->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    return fs->fd >= 0 ? 0 : errno;
}

static int fs_write(filestate *fs, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fs->fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static void fs_discard(filestate *fs)
{
    if (fs->fd >= 0)
        close(fs->fd);
    fs->fd = -1;
    if (fs->tmp)
        unlink(fs->tmp);
    free(fs->tmp);
    fs->tmp = NULL;
}

static void fileop_work(uv_work_t *req)
{
    filestate *fs = req->data;
    int e = 0;
    const char *step = NULL;
    if (fs->op == OP_ABORT) {
        fs_discard(fs);
        return;
    }
    if ((e = fs_open(fs)) != 0) {
        step = "create";
        goto fail;
    }
    if (fs->len && (e = fs_write(fs, fs->data, fs->len, fs->op_off)) != 0) {
        step = "write";
        goto fail;
    }
    if (fs->op == OP_FLUSH)
        return;
    if (fs->op_truncate && ftruncate(fs->fd, (off_t)(fs->op_off + fs->len)) != 0) {
        e = errno;
        step = "truncate";
        goto fail;
    }
    if (rename(fs->tmp, fs->path) != 0) {
        e = errno;
        step = "rename";
        goto fail;
    }
    free(fs->tmp);
    fs->tmp = NULL;
    close(fs->fd);
    fs->fd = -1;
    return;
fail:
    fs->op_err = e;
    fs->op_step = step;
    fs_discard(fs);
}

static void fileop_after(uv_work_t *req, int status);

static void set_write_error(xfer *x)
{
    filestate *fs = x->file;
    x->res.status = PT_FETCH_EWRITE;
    set_msg(x, "%s: %s failed: %s", fs->path, fs->err_step ? fs->err_step : "write",
            pt_strerror(-fs->err));
}

/* Loop side: starts operation `op` on x's file, or, while one is in
 * flight, records a commit or abort to run after it (a flush then is simply
 * not started: the buffer keeps growing, up to PAUSE_AT). */
static void fileop_submit(xfer *x, int op)
{
    pt_fetcher *f = x->f;
    filestate *fs = x->file;
    if (fs->busy) {
        if (op != OP_FLUSH)
            fs->pending = op;
        return;
    }
    if (op == OP_COMMIT && fs->err) {
        set_write_error(x);
        op = OP_ABORT;
    }
    if (op == OP_ABORT && fs->fd < 0 && !fs->tmp) {
        deliver(x); /* nothing on disk */
        return;
    }
    fs->op = op;
    fs->data = NULL;
    fs->len = 0;
    if (op != OP_ABORT) {
        fs->data = x->buf;
        fs->len = x->len;
        fs->op_off = fs->off;
        fs->off += x->len;
        x->buf = NULL;
        x->len = x->cap = 0;
    }
    if (!fs->tmp && tmp_name(f, x) != 0) {
        fs->err = ENOMEM;
        fs->err_step = "create";
        free(fs->data);
        fs->data = NULL;
        if (op == OP_COMMIT)
            set_write_error(x);
        if (op != OP_FLUSH)
            deliver(x);
        return;
    }
    fs->op_truncate = op == OP_COMMIT && fs->reset;
    fs->work.data = fs;
    fs->busy = 1;
    fs->pending = -1;
    fs->op_err = 0;
    fs->op_step = NULL;
    if (uv_queue_work(f->loop, &fs->work, fileop_work, fileop_after) != 0) {
        /* Only fails for a bad loop or callback; fail the transfer cleanly. */
        fs->busy = 0;
        free(fs->data);
        fs->data = NULL;
        if (!fs->err) {
            fs->err = EIO;
            fs->err_step = "queue";
        }
        if (op == OP_COMMIT)
            set_write_error(x);
        if (op != OP_FLUSH)
            deliver(x);
        return;
    }
    f->refs++; /* the operation holds the fetcher */
}

static void after_curl(pt_fetcher *f);

static void fileop_after(uv_work_t *req, int status)
{
    (void)status; /* never cancelled: nothing calls uv_cancel on it */
    filestate *fs = req->data;
    xfer *x = fs->x;
    pt_fetcher *f = x->f;
    int op = fs->op;
    f->refs--;
    fs->busy = 0;
    if (fs->op_err && !fs->err) { /* the worker's result, now ours to read */
        fs->err = fs->op_err;
        fs->err_step = fs->op_step;
    }
    free(fs->data);
    fs->data = NULL;
    fs->len = 0;
    if (op == OP_COMMIT || op == OP_ABORT) {
        if (op == OP_COMMIT && fs->err)
            set_write_error(x);
        deliver(x);
    } else if (fs->pending >= 0) {
        fileop_submit(x, fs->pending);
    } else if (x->io_paused && x->s) {
        /* curl may deliver the held data right away (and pause again). */
        x->io_paused = 0;
        f->in_curl++;
        curl_easy_pause(x->s->easy, CURLPAUSE_CONT);
        f->in_curl--;
        after_curl(f);
    }
    maybe_free(f);
}

/* --- curl callbacks --------------------------------------------------------- */

static int buf_append(xfer *x, const char *p, size_t n)
{
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *nb = realloc(x->buf, cap);
        if (!nb)
            return -1;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    pt_fetcher *f = x->f;
    size_t n = size * nmemb;
    if (!x->checked_status) {
        long code = 0;
        curl_easy_getinfo(x->s->easy, CURLINFO_RESPONSE_CODE, &code);
        x->deliver = code >= 200 && code < 300;
        x->checked_status = 1;
    }
    /* Chunked bodies have no Content-Length for CURLOPT_MAXFILESIZE. */
    if (f->opts.max_bytes && x->bytes + n > f->opts.max_bytes) {
        x->too_big = 1;
        return 0;
    }
    if (x->deliver) {
        switch (x->sink) {
        case PT_FETCH_DISCARD:
            break;
        case PT_FETCH_MEMORY:
            if (buf_append(x, p, n) != 0) {
                x->sink_failed = 1;
                return 0;
            }
            break;
        case PT_FETCH_CALLBACK:
            x->delivered = 1;
            if (x->on_data(x->ctx, p, n) != 0) {
                x->sink_failed = 1;
                return 0;
            }
            break;
        case PT_FETCH_FILE: {
            filestate *fs = x->file;
            if (fs->err) {
                x->sink_failed = 1;
                return 0;
            }
            if (fs->busy && x->len + n > PAUSE_AT) {
                x->io_paused = 1;
                return CURL_WRITEFUNC_PAUSE; /* curl hands us these bytes again */
            }
            if (buf_append(x, p, n) != 0) {
                fs->err = ENOMEM;
                fs->err_step = "buffer";
                x->sink_failed = 1;
                return 0;
            }
            if (x->len >= FLUSH_AT && !fs->busy)
                fileop_submit(x, OP_FLUSH);
            break;
        }
        }
    }
    x->bytes += n;
    f->bytes += n;
    return n;
}

/* Sees each response's status line: remembers its reason phrase and, when
 * following redirects, the URL it answers, to tell a loop from a long chain. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    slot *sl = x->s;
    size_t n = size * nmemb;
    if (n < 12 || memcmp(p, "HTTP/", 5) != 0)
        return n;
    x->checked_status = 0;
    const char *sp = memchr(p, ' ', n), *end = p + n;
    const char *reason = sp ? memchr(sp + 1, ' ', (size_t)(end - sp - 1)) : NULL;
    size_t rlen = 0;
    if (reason) {
        reason++;
        while (end > reason && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        rlen = (size_t)(end - reason);
        if (rlen >= sizeof(sl->reason))
            rlen = sizeof(sl->reason) - 1;
        memcpy(sl->reason, reason, rlen);
    }
    sl->reason[rlen] = '\0';
    if (x->f->opts.max_redirects >= 0) {
        char *u = NULL;
        curl_easy_getinfo(sl->easy, CURLINFO_EFFECTIVE_URL, &u);
        if (u) {
            uint64_t h = fnv1a(u);
            for (unsigned i = 0; i < sl->nhops; i++)
                if (sl->hops[i] == h)
                    sl->loop = 1;
            if (sl->nhops < MAX_HOPS)
                sl->hops[sl->nhops++] = h;
        }
    }
    return n;
}

static void on_poll(uv_poll_t *h, int status, int events);
static void on_timer(uv_timer_t *t);

static void on_sock_closed(uv_handle_t *h)
{
    sockctx *sc = h->data;
    pt_fetcher *f = sc->f;
    free(sc);
    f->refs--;
    maybe_free(f);
}

static void sock_close(pt_fetcher *f, sockctx *sc)
{
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        f->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    /* Close now, while curl has not closed the fd yet: uv_close() removes
     * it from epoll at once (not later, when the number may be reused). No
     * uv_poll_stop() first: that would be a second epoll_ctl(DEL). */
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
    if (f->multi)
        curl_multi_assign(f->multi, sc->fd, NULL);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    pt_fetcher *f = userp;
    sockctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc)
            sock_close(f, sc);
        return 0;
    }
    if (f->destroying)
        return 0;
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return -1;
        if (uv_poll_init_socket(f->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        sc->f = f;
        sc->fd = s;
        sc->next = f->socks;
        if (f->socks)
            f->socks->prev = sc;
        f->socks = sc;
        f->refs++;
        curl_multi_assign(f->multi, s, sc);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    /* uv_poll_start() always costs an epoll_ctl DEL and ADD: skip it when
     * nothing changes. */
    if (ev != sc->events || !uv_is_active((uv_handle_t *)&sc->poll)) {
        sc->events = ev;
        uv_poll_start(&sc->poll, ev, on_poll);
    }
    return 0;
}

static int on_curl_timer(CURLM *m, long ms, void *userp)
{
    (void)m;
    pt_fetcher *f = userp;
    if (f->destroying)
        return 0;
    if (ms < 0)
        uv_timer_stop(&f->timer);
    else /* 0 means "now": the next loop iteration, not 1 ms later */
        uv_timer_start(&f->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sockctx *sc = h->data;
    pt_fetcher *f = sc->f;
    int flags = 0, running;
    /* On an error (POLLERR: a reset) libuv stops the handle and reports no
     * events. Let curl read or write what it was waiting for, so it sees the
     * real error ("Connection reset by peer") instead of a bare
     * CURL_CSELECT_ERR, and watch the socket again if curl keeps it. */
    if (status < 0)
        events = sc->events;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    f->in_curl++;
    curl_multi_socket_action(f->multi, sc->fd, flags, &running);
    f->in_curl--;
    if (status < 0 && !uv_is_closing((uv_handle_t *)&sc->poll))
        uv_poll_start(&sc->poll, sc->events, on_poll);
    after_curl(f);
}

static void on_timer(uv_timer_t *t)
{
    pt_fetcher *f = t->data;
    int running;
    f->in_curl++;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    f->in_curl--;
    after_curl(f);
}

/* --- starting, finishing, retrying ------------------------------------------ */

static slot *get_slot(pt_fetcher *f)
{
    if (f->nfree)
        return f->free_slots[--f->nfree];
    slot *sl = calloc(1, sizeof(*sl));
    CURL *e = sl ? curl_easy_init() : NULL;
    if (!e) {
        free(sl);
        return NULL;
    }
    sl->easy = e;
    const pt_fetch_options *o = &f->opts;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (o->max_redirects >= 0) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
    }
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (f->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, f->ca_file);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_s * 1000.0 + 0.5));
    if (o->timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000.0 + 0.5));
    if (o->max_bytes)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    curl_easy_setopt(e, CURLOPT_USERAGENT, f->user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf);
    if (!f->env_proxy) /* same outcome, without curl's getenv()s per transfer */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    return sl;
}

static void free_slot(slot *sl)
{
    curl_easy_cleanup(sl->easy);
    free(sl);
}

static void release_slot(pt_fetcher *f, slot *sl)
{
    if (f->nfree < f->opts.concurrency && !f->destroying)
        f->free_slots[f->nfree++] = sl;
    else
        free_slot(sl);
}

/* The transfer has ended for good: file commit/abort, then deliver(). */
static void finish(xfer *x)
{
    pt_fetcher *f = x->f;
    pt_fetch_result *r = &x->res;
    if (x->t0)
        r->seconds = (double)(uv_hrtime() - x->t0) / 1e9;
    r->retries = x->retries;
    r->bytes = x->bytes;
    x->io_paused = 0;
    move_to(f, x, X_FINISHING);
    if (x->file)
        fileop_submit(x, r->status == PT_FETCH_OK ? OP_COMMIT : OP_ABORT);
    else
        deliver(x);
}

static void start_one(pt_fetcher *f, xfer *x)
{
    slot *sl = get_slot(f);
    if (!sl) {
        x->res.status = PT_FETCH_EOTHER;
        set_msg(x, "out of memory");
        finish(x);
        return;
    }
    CURL *e = sl->easy;
    x->bytes = 0;
    x->checked_status = x->deliver = x->delivered = 0;
    x->too_big = x->sink_failed = x->io_paused = 0;
    sl->nhops = 0;
    sl->loop = 0;
    sl->reason[0] = sl->errbuf[0] = '\0';
    if (!x->t0)
        x->t0 = uv_hrtime();
    x->s = sl;
    curl_easy_setopt(e, CURLOPT_CURLU, x->uh);
    /* Also the string: with CURLOPT_CURLU alone, libcurl 7.88 keeps the
     * previous transfer's URL on a reused handle as CURLINFO_EFFECTIVE_URL
     * (until a redirect replaces it). The parsed handle still takes
     * precedence for the request. */
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)x);
    /* Wait for a multiplexed (HTTP/2) connection rather than open another:
     * only https can negotiate HTTP/2 here (CURL_HTTP_VERSION_2TLS). */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(x->url, "https", 5) == 0 ? 1L : 0L);
    move_to(f, x, X_ACTIVE);
    if (f->active.n > f->max_active)
        f->max_active = f->active.n;
    f->in_curl++;
    CURLMcode mc = curl_multi_add_handle(f->multi, e);
    f->in_curl--;
    if (mc != CURLM_OK) {
        x->s = NULL;
        release_slot(f, sl);
        x->res.status = PT_FETCH_EOTHER;
        set_msg(x, "%s", curl_multi_strerror(mc));
        finish(x);
    }
}

static void start_queued(pt_fetcher *f)
{
    if (f->in_curl) {
        f->need_start = 1;
        return;
    }
    f->need_start = 0;
    while (!f->paused && !f->canceling && !f->destroying && f->active.n < f->opts.concurrency) {
        xfer *x = f->ready.head ? f->ready.head : f->queue.head;
        if (!x)
            break;
        start_one(f, x);
    }
}

static void on_retry_timer(uv_timer_t *t)
{
    pt_fetcher *f = t->data;
    uint64_t now = uv_now(f->loop);
    while (f->waiting.head && f->waiting.head->due <= now)
        move_to(f, f->waiting.head, X_READY);
    if (f->waiting.head)
        uv_timer_start(&f->retry_timer, on_retry_timer, f->waiting.head->due - now, 0);
    start_queued(f);
}

static void schedule_retry(xfer *x, long http, curl_off_t retry_after)
{
    pt_fetcher *f = x->f;
    const pt_fetch_options *o = &f->opts;
    x->retries++;
    uint64_t d = pt__fetch_backoff_ms(x->retries, o->retry_base_ms, o->retry_max_ms, &f->rng);
    if ((http == 429 || http == 503) && retry_after > 0) {
        uint64_t ra = (uint64_t)retry_after * 1000u;
        if (ra > o->retry_after_max_ms)
            ra = o->retry_after_max_ms;
        if (ra > d)
            d = ra;
    }
    /* The body starts again. */
    x->len = 0;
    if (x->sink == PT_FETCH_CALLBACK && x->delivered && x->on_reset)
        x->on_reset(x->ctx);
    if (x->file) {
        if (x->file->off || x->file->busy)
            x->file->reset = 1;
        x->file->off = 0;
    }
    uint64_t now = uv_now(f->loop);
    x->due = now + d;
    /* Keep `waiting` sorted by due time; new entries are usually the latest. */
    xlist *from = list_of(f, x->where);
    if (from)
        list_remove(from, x);
    xfer *pos = f->waiting.tail;
    while (pos && pos->due > x->due)
        pos = pos->prev;
    x->where = X_WAITING;
    list_insert_before(&f->waiting, pos ? pos->next : f->waiting.head, x);
    if (f->waiting.head == x)
        uv_timer_start(&f->retry_timer, on_retry_timer, d, 0);
}

static pt_fetch_status status_of(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return PT_FETCH_ERESOLVE;
    case CURLE_COULDNT_CONNECT:
        return PT_FETCH_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return PT_FETCH_ETIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return PT_FETCH_ERECV;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return PT_FETCH_ETLS;
    case CURLE_FILESIZE_EXCEEDED:
        return PT_FETCH_ETOOBIG;
    case CURLE_TOO_MANY_REDIRECTS:
        return PT_FETCH_EREDIRECT;
    case CURLE_WRITE_ERROR:
        return PT_FETCH_EWRITE;
    default:
        return PT_FETCH_EOTHER;
    }
}

static int retryable(pt_fetch_status s, long http)
{
    switch (s) {
    case PT_FETCH_ECONNECT:
    case PT_FETCH_ETIMEOUT:
    case PT_FETCH_ERECV:
        return 1;
    case PT_FETCH_EHTTP:
        return http == 408 || http == 429 ||
               (http >= 500 && http <= 599 && http != 501 && http != 505);
    default:
        return 0;
    }
}

/* One attempt ended (curl said CURLMSG_DONE). */
static void attempt_done(pt_fetcher *f, xfer *x, CURLcode code)
{
    slot *sl = x->s;
    CURL *e = sl->easy;
    pt_fetch_result *r = &x->res;
    long http = 0, ver = 0, redirs = 0;
    char *eff = NULL, *ctype = NULL;
    curl_off_t ra = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirs);
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
    r->http_status = http;
    r->http_version = ver == CURL_HTTP_VERSION_1_0   ? 10
                      : ver == CURL_HTTP_VERSION_1_1 ? 11
                      : ver == CURL_HTTP_VERSION_2_0 ? 20
                      : ver == CURL_HTTP_VERSION_3   ? 30
                                                     : 0;
    r->curl_code = (int)code;
    r->redirects = (unsigned)redirs;
    /* Usually the URL itself: no copy then. */
    free(x->eff);
    x->eff = eff && strcmp(eff, x->url) != 0 ? io_strdup(eff) : NULL;
    x->got_eff = eff != NULL;
    /* Copied: the slot (and curl's string) is reused before on_done when a
     * file sink commits on the thread pool. */
    free(x->ctype);
    x->ctype = ctype ? io_strdup(ctype) : NULL;

    pt_fetch_status st;
    if (x->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        st = PT_FETCH_ETOOBIG;
        set_msg(x, "body larger than the limit of %llu bytes",
                (unsigned long long)f->opts.max_bytes);
    } else if (x->sink_failed) {
        st = PT_FETCH_EWRITE;
        if (x->file && x->file->err)
            set_write_error(x);
        else if (x->sink == PT_FETCH_CALLBACK)
            set_msg(x, "the data callback stopped the transfer");
        else
            set_msg(x, "out of memory for the body");
    } else if (code == CURLE_OK) {
        if (http >= 200 && http < 300) {
            st = PT_FETCH_OK;
            free(x->msg);
            x->msg = NULL;
        } else {
            st = PT_FETCH_EHTTP;
            set_msg(x, "HTTP %ld%s%s", http, sl->reason[0] ? " " : "", sl->reason);
        }
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
        st = PT_FETCH_EREDIRECT;
        if (sl->loop)
            set_msg(x,
                    "redirect loop: a URL redirected back to one already visited (stopped "
                    "after %ld redirects at %s)",
                    redirs, eff ? eff : "?");
        else
            set_msg(x, "more than %d redirects (last: %s)", f->opts.max_redirects, eff ? eff : "?");
    } else {
        st = status_of(code);
        set_msg(x, "%s", sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(code));
    }
    r->status = st;
    r->bytes = x->bytes;

    f->in_curl++;
    curl_multi_remove_handle(f->multi, e);
    f->in_curl--;
    x->s = NULL;
    release_slot(f, sl);
    x->io_paused = 0;
    if (retryable(st, http) && x->retries < f->opts.retries && !f->canceling && !f->destroying) {
        schedule_retry(x, http, ra);
        return;
    }
    finish(x);
}

static void check_done(pt_fetcher *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode code = m->data.result;
        char *p = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        attempt_done(f, (xfer *)(void *)p, code);
    }
}

static void after_curl(pt_fetcher *f)
{
    if (f->in_curl || !f->multi)
        return;
    check_done(f);
    start_queued(f);
}

/* --- public API ------------------------------------------------------------- */

static uv_once_t curl_once = UV_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *pt_fetch_status_name(pt_fetch_status s)
{
    switch (s) {
    case PT_FETCH_OK:
        return "ok";
    case PT_FETCH_EHTTP:
        return "http";
    case PT_FETCH_ERESOLVE:
        return "resolve";
    case PT_FETCH_ECONNECT:
        return "connect";
    case PT_FETCH_ETIMEOUT:
        return "timeout";
    case PT_FETCH_ERECV:
        return "recv";
    case PT_FETCH_ETLS:
        return "tls";
    case PT_FETCH_ETOOBIG:
        return "too-big";
    case PT_FETCH_EREDIRECT:
        return "redirect";
    case PT_FETCH_EWRITE:
        return "write";
    case PT_FETCH_ECANCELED:
        return "canceled";
    default:
        return "error";
    }
}

int pt_fetcher_create(pt_fetcher **out, uv_loop_t *loop, const pt_fetch_options *opts, char *err,
                      size_t errlen)
{
    static const pt_fetch_options defaults = {0};
    if (!out || !loop)
        return io_errf(err, errlen, PT_EINVAL, "pt_fetcher_create: NULL argument");
    *out = NULL;
    const pt_fetch_options *o = opts ? opts : &defaults;
    if (o->concurrency > 100000)
        return io_errf(err, errlen, PT_EINVAL, "concurrency %u is above 100000", o->concurrency);
    if (!(o->timeout_s >= 0 && o->timeout_s < 1e7) ||
        !(o->connect_timeout_s >= 0 && o->connect_timeout_s < 1e7))
        return io_errf(err, errlen, PT_EINVAL, "timeouts must be between 0 and 1e7 seconds");
    uv_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return io_errf(err, errlen, PT_EIO, "libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));

    int rc = PT_ENOMEM;
    pt_fetcher *f = calloc(1, sizeof(*f));
    if (!f)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    f->loop = loop;
    f->opts = *o;
    pt_fetch_options *fo = &f->opts;
    if (!fo->concurrency)
        fo->concurrency = 10;
    if (!fo->retry_base_ms)
        fo->retry_base_ms = 250;
    if (!fo->retry_max_ms)
        fo->retry_max_ms = 10000;
    if (!fo->retry_after_max_ms)
        fo->retry_after_max_ms = 60000;
    if (fo->connect_timeout_s <= 0)
        fo->connect_timeout_s = 30;
    if (!fo->max_redirects)
        fo->max_redirects = 10;
    if (fo->max_redirects < 0)
        fo->max_redirects = -1;
    char ua[64];
    snprintf(ua, sizeof(ua), "ptool/%s", pt_version());
    f->user_agent = io_strdup(o->user_agent ? o->user_agent : ua);
    f->ca_file = io_strdup(o->ca_file);
    fo->user_agent = fo->ca_file = NULL; /* the copies above are used */
    f->free_slots = calloc(fo->concurrency, sizeof(*f->free_slots));
    f->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)f;
    /* curl honours these (http_proxy only in lower case); none set is the
     * common case, and then each transfer need not look them up. */
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy",  "ALL_PROXY",   NULL};
    for (size_t i = 0; proxy_vars[i]; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v)
            f->env_proxy = 1;
    }
    if (!f->user_agent || (o->ca_file && !f->ca_file) || !f->free_slots)
        goto out_free;
    f->multi = curl_multi_init();
    if (!f->multi) {
        rc = io_errf(err, errlen, PT_EIO, "curl_multi_init failed");
        goto out_free;
    }
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, (void *)f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, (void *)f);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)fo->concurrency);
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)fo->concurrency);
    if ((rc = uv_timer_init(loop, &f->timer)) != 0) {
        io_errf(err, errlen, rc, "uv_timer_init: %s", uv_strerror(rc));
        goto out_multi;
    }
    f->timer.data = f;
    f->refs++;
    if ((rc = uv_timer_init(loop, &f->retry_timer)) != 0) {
        /* The first timer must close through the loop before f is freed. */
        io_errf(err, errlen, rc, "uv_timer_init: %s", uv_strerror(rc));
        f->destroying = 1;
        curl_multi_cleanup(f->multi);
        f->multi = NULL;
        uv_close((uv_handle_t *)&f->timer, on_handle_closed);
        return rc;
    }
    f->retry_timer.data = f;
    f->refs++;
    *out = f;
    return 0;

out_multi:
    curl_multi_cleanup(f->multi);
out_free:
    free(f->free_slots);
    free(f->ca_file);
    free(f->user_agent);
    free(f);
    if (rc == PT_ENOMEM)
        io_errf(err, errlen, rc, "out of memory");
    return rc;
}

/* Parses url into *out (the caller frees it with curl_url_cleanup); it must
 * be http or https. curl gets the parsed handle (CURLOPT_CURLU), so it does
 * not parse the string again at every attempt. */
static int parse_url(const char *url, CURLU **out, char *err, size_t errlen)
{
    CURLU *h = curl_url();
    if (!h)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    int rc = 0;
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        rc = io_errf(err, errlen, PT_EINVAL, "bad URL: %s", curl_url_strerror(uc));
        goto out;
    }
    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        rc =
            io_errf(err, errlen, PT_EINVAL,
                    "bad URL: unsupported scheme '%s' (only http and https)", scheme ? scheme : "");
    /* A missing host is already a parse error for http(s). */
out:
    curl_free(scheme);
    if (rc)
        curl_url_cleanup(h);
    else
        *out = h;
    return rc;
}

int pt_fetcher_add(pt_fetcher *f, const pt_fetch_request *req, char *err, size_t errlen)
{
    if (!f || !req || !req->url || f->destroying)
        return io_errf(err, errlen, PT_EINVAL,
                       "pt_fetcher_add: NULL argument or fetcher destroyed");
    if (req->sink < PT_FETCH_DISCARD || req->sink > PT_FETCH_CALLBACK)
        return io_errf(err, errlen, PT_EINVAL, "unknown sink %d", (int)req->sink);
    if (req->sink == PT_FETCH_FILE && (!req->path || !*req->path))
        return io_errf(err, errlen, PT_EINVAL, "file sink without a path");
    if (req->sink == PT_FETCH_FILE && req->path[strlen(req->path) - 1] == '/')
        return io_errf(err, errlen, PT_EISDIR, "%s: is a directory name", req->path);
    if (req->sink == PT_FETCH_CALLBACK && !req->on_data)
        return io_errf(err, errlen, PT_EINVAL, "callback sink without on_data");
    CURLU *uh = NULL;
    int rc = parse_url(req->url, &uh, err, errlen);
    if (rc)
        return rc;
    xfer *x = calloc(1, sizeof(*x));
    if (!x) {
        curl_url_cleanup(uh);
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    }
    x->f = f;
    x->uh = uh;
    x->url = io_strdup(req->url);
    x->sink = req->sink;
    x->on_data = req->on_data;
    x->on_reset = req->on_reset;
    x->on_done = req->on_done;
    x->ctx = req->ctx;
    if (!x->url)
        goto nomem;
    if (req->sink == PT_FETCH_FILE) {
        filestate *fs = calloc(1, sizeof(*fs));
        if (!fs)
            goto nomem;
        x->file = fs;
        fs->x = x;
        fs->fd = -1;
        fs->pending = -1;
        fs->path = io_strdup(req->path);
        if (!fs->path)
            goto nomem;
        const char *slash = strrchr(fs->path, '/');
        if (!slash) {
            fs->dir = io_strdup(".");
        } else if (slash == fs->path) {
            fs->dir = io_strdup("/");
        } else if ((fs->dir = malloc((size_t)(slash - fs->path) + 1)) != NULL) {
            memcpy(fs->dir, fs->path, (size_t)(slash - fs->path));
            fs->dir[slash - fs->path] = '\0';
        }
        if (!fs->dir)
            goto nomem;
    }
    x->where = X_NONE;
    move_to(f, x, X_QUEUED);
    start_queued(f);
    return 0;
nomem:
    xfer_free(x);
    return io_errf(err, errlen, PT_ENOMEM, "out of memory");
}

void pt_fetcher_pause(pt_fetcher *f)
{
    if (f)
        f->paused = 1;
}

void pt_fetcher_resume(pt_fetcher *f)
{
    if (!f || f->destroying)
        return;
    f->paused = 0;
    start_queued(f);
}

int pt_fetcher_cancel_all(pt_fetcher *f)
{
    if (!f)
        return PT_EINVAL;
    if (f->in_curl)
        return PT_EBUSY;
    f->canceling++;
    for (;;) {
        xfer *x = f->active.head    ? f->active.head
                  : f->waiting.head ? f->waiting.head
                  : f->ready.head   ? f->ready.head
                                    : f->queue.head;
        if (!x)
            break;
        if (x->where == X_ACTIVE) {
            f->in_curl++;
            curl_multi_remove_handle(f->multi, x->s->easy);
            f->in_curl--;
            release_slot(f, x->s);
            x->s = NULL;
        }
        x->res.status = PT_FETCH_ECANCELED;
        set_msg(x, "canceled");
        finish(x);
    }
    f->canceling--;
    uv_timer_stop(&f->retry_timer);
    return 0;
}

void pt_fetcher_stats(const pt_fetcher *f, pt_fetch_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!f)
        return;
    st->queued = f->queue.n + f->ready.n;
    st->active = f->active.n;
    st->waiting = f->waiting.n;
    st->finishing = f->finishing;
    st->done = f->done;
    st->bytes = f->bytes;
    st->max_active = f->max_active;
}

bool pt_fetcher_idle(const pt_fetcher *f)
{
    return !f || (!f->queue.n && !f->ready.n && !f->active.n && !f->waiting.n && !f->finishing);
}

void pt_fetcher_destroy(pt_fetcher *f)
{
    if (!f)
        return;
    /* Documented: not from a callback (the caller's stack still uses f). */
    assert(!f->in_cb && !f->in_curl);
    pt_fetcher_cancel_all(f);
    f->destroying = 1;
    while (f->socks)
        sock_close(f, f->socks);
    while (f->nfree)
        free_slot(f->free_slots[--f->nfree]);
    curl_multi_cleanup(f->multi);
    f->multi = NULL;
    uv_close((uv_handle_t *)&f->timer, on_handle_closed);
    uv_close((uv_handle_t *)&f->retry_timer, on_handle_closed);
}

void pt_fetch_free(void *p)
{
    free(p);
}
