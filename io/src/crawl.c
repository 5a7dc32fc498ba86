/* crawl.c - the crawler pipeline: fetcher -> bounded queue -> parser tasks
 * on the pool -> back to the loop.
 *
 * DESIGN
 *
 * Everything but parsing runs on the loop thread. A page (struct page) is
 * created when its URL is scheduled and lives until it is reported and its
 * links are followed:
 *
 *   add_url --pt_fetcher_add--> fetch_done --+-- not HTML, failed --> report
 *                                            |
 *                          enqueue: try_push +-- full --> held (fetcher paused)
 *                                            |
 *      parse_work (pool thread: pop, parse) <+
 *                                            |
 *               parse_done (loop, via the bridge): refill from held, report,
 *               expand (add_url for each link) or defer to the next level
 *
 * Queue and tasks: every page pushed into the pt_queue is matched by one
 * parse task submitted through the pt_io_bridge right after the push; a task
 * pops whatever page is at the head (FIFO), so the number of tasks not yet
 * started always equals the number of pages in the queue, and a pop never
 * finds it empty. The loop only ever uses try_push: when it fails (the
 * queue is full) the page goes to the `held` list and the fetcher is paused;
 * every parse_done moves held pages into the queue while there is room and
 * resumes the fetcher once `held` is empty. The page popped by a task frees
 * one place before its parse_done runs, so each parse_done can move at
 * least one held page. While paused, only transfers that were already
 * running can add to `held`, so held <= concurrency and queued + held <=
 * capacity + concurrency (stats.max_waiting records the peak).
 *
 * Depth levels: pages are pending at level `cur` or `cur + 1` only (links
 * are followed only from level `cur`, so new pages are at `cur + 1`). A
 * parsed page at level `cur` has its links followed at once; one at
 * `cur + 1` keeps its links in `deferred` until level `cur` has no pending
 * page, then `cur` advances and the deferred pages are expanded. So a URL
 * is always first found from a page of the smallest depth that links to it,
 * and its depth is its shortest link distance from a seed, whatever the
 * completion order. Fetching and parsing of level `cur + 1` go on in the
 * meantime; only the scheduling of level `cur + 2` waits.
 *
 * The crawl has ended when no page is pending at either level: every
 * scheduled URL has been reported (or cancelled) and expanded.
 *
 * Re-entrancy: pt_fetcher_add() can end a transfer at once (out of memory),
 * so fetch_done, report and page_done may run inside add_url, inside
 * expand. advance() guards against nesting; counters are updated before
 * anything that can call back.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl_internal.h"
#include "io_util.h"
#include "ptool/crawl.h"
#include "ptool/error.h"
#include "ptool/io_work.h"
#include "ptool/queue.h"

typedef struct page page;

struct page {
    page *next; /* held or deferred list */
    pt_crawler *c;
    char *url;
    unsigned depth;
    /* the fetch */
    pt_fetch_status fstatus;
    long http_status;
    char *eff;   /* effective URL when it differs from url */
    char *ctype; /* Content-Type */
    char *msg;   /* why the fetch failed */
    char *body;  /* owned until parsed (pt_fetch_free) */
    size_t body_len;
    uint64_t bytes;
    double seconds;
    unsigned retries;
    /* the parse (written by the parser thread, read after parse_done) */
    bool html;
    int parse_rc;
    pt__crawl_doc doc;
    char perr[256];
};

/* One parse task; `p` is the page it popped (set on the pool thread). */
typedef struct parse_job {
    pt_crawler *c;
    page *p;
} parse_job;

struct pt_crawler {
    uv_loop_t *loop;
    pt_pool *pool;
    pt_fetcher *f;
    pt_queue *q;
    pt_io_bridge *bridge;
    pt_crawl_options o; /* seeds not kept */
    size_t capacity;    /* of q */
    pt__strset seen;    /* every URL scheduled, and effective URLs of redirects */
    pt__strset hosts;   /* same_host: the seeds' "host:port" */
    page *held, *held_tail;
    size_t nheld;
    page *deferred;   /* parsed pages of level cur + 1 with links to follow */
    unsigned cur;     /* the depth level being completed */
    size_t pend_cur;  /* pages of level cur not yet done */
    size_t pend_next; /* pages of level cur + 1 not yet done */
    size_t parsing;   /* parse tasks in flight */
    uint64_t scheduled, fetched, reported, ok, failed, parsed, canceled, skipped;
    size_t max_waiting;
    unsigned in_cb; /* inside on_page / on_finish */
    bool paused, stopping, destroying, finished, advancing;
};

static void free_page(page *p)
{
    if (!p)
        return;
    free(p->url);
    free(p->eff);
    free(p->ctype);
    free(p->msg);
    pt_fetch_free(p->body);
    pt__crawl_doc_free(&p->doc);
    free(p);
}

/* "host:port" of a normalised http(s) URL into buf (the port explicit or
 * the scheme's default). */
static void authority(const char *url, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *s = strstr(url, "://");
    if (!s)
        return;
    bool https = s - url == 5;
    s += 3;
    size_t n = strcspn(s, "/?#");
    const char *end = s + n;
    for (const char *p = s; p < end; p++)
        if (*p == '@')
            s = p + 1; /* after user:password@ */
    const char *host_end = end, *port = NULL;
    const char *colon = s[0] == '[' ? memchr(s, ']', (size_t)(end - s)) : s;
    if (colon) {
        colon = memchr(colon, ':', (size_t)(end - colon));
        if (colon) {
            host_end = colon;
            port = colon + 1;
        }
    }
    if (port)
        snprintf(buf, len, "%.*s:%.*s", (int)(host_end - s), s, (int)(end - port), port);
    else
        snprintf(buf, len, "%.*s:%s", (int)(host_end - s), s, https ? "443" : "80");
}

/* --- levels and the end ------------------------------------------------------- */

static void expand(pt_crawler *c, page *p);

static void maybe_finish(pt_crawler *c)
{
    if (c->finished || c->pend_cur || c->pend_next)
        return;
    c->finished = true;
    if (c->o.on_finish && !c->destroying) {
        c->in_cb++;
        c->o.on_finish(c->o.ctx);
        c->in_cb--;
    }
}

/* Moves to the next level while the current one has nothing pending,
 * following the links the next level's parsed pages deferred. */
static void advance(pt_crawler *c)
{
    if (c->advancing || c->destroying)
        return;
    c->advancing = true;
    while (c->pend_cur == 0 && c->pend_next > 0) {
        c->cur++;
        c->pend_cur = c->pend_next;
        c->pend_next = 0;
        page *list = c->deferred;
        c->deferred = NULL;
        while (list) {
            page *p = list;
            list = p->next;
            expand(c, p); /* adds at the new cur + 1 */
            c->pend_cur--;
            free_page(p);
        }
    }
    c->advancing = false;
    maybe_finish(c);
}

/* p is finished with (reported, links followed or not to be): free it. */
static void page_done(pt_crawler *c, page *p)
{
    if (p->depth == c->cur) {
        assert(c->pend_cur > 0);
        c->pend_cur--;
    } else {
        assert(p->depth == c->cur + 1 && c->pend_next > 0);
        c->pend_next--;
    }
    free_page(p);
    advance(c);
}

/* --- reporting ------------------------------------------------------------------ */

static void report(pt_crawler *c, page *p)
{
    pt_crawl_page r;
    memset(&r, 0, sizeof(r));
    r.url = p->url;
    r.effective_url = p->eff;
    r.depth = p->depth;
    r.fetch_status = p->fstatus;
    r.http_status = p->http_status;
    r.content_type = p->ctype;
    r.html = p->html;
    r.title = p->doc.title;
    r.links = (const char *const *)p->doc.links;
    r.nlinks = p->doc.nlinks;
    r.bytes = p->bytes;
    r.seconds = p->seconds;
    r.retries = p->retries;
    r.ok = p->fstatus == PT_FETCH_OK && p->parse_rc == 0;
    if (p->fstatus != PT_FETCH_OK)
        r.error = p->msg && *p->msg ? p->msg : pt_fetch_status_name(p->fstatus);
    else if (p->parse_rc != 0)
        r.error = p->perr[0] ? p->perr : pt_strerror(p->parse_rc);
    c->reported++;
    if (r.ok)
        c->ok++;
    else
        c->failed++;
    c->in_cb++;
    c->o.on_page(c->o.ctx, &r);
    c->in_cb--;
}

/* --- scheduling ------------------------------------------------------------------ */

static void fetch_done(void *ctx, pt_fetch_result *res);

/* Reports a URL that could not even be scheduled. */
static void report_unscheduled(pt_crawler *c, page *p, const char *why)
{
    p->fstatus = PT_FETCH_EOTHER;
    free(p->msg);
    p->msg = io_strdup(why);
    report(c, p);
    page_done(c, p);
}

/* Schedules url (normalised) at depth unless it was seen, is on another
 * host (same_host) or beyond max_pages. */
static void add_url(pt_crawler *c, const char *url, unsigned depth)
{
    if (c->stopping)
        return;
    if (c->o.same_host) {
        char a[512];
        authority(url, a, sizeof(a));
        if (!pt__strset_has(&c->hosts, a, strlen(a)))
            return;
    }
    int r = pt__strset_add(&c->seen, url, strlen(url));
    if (r == 0)
        return;
    if (r > 0 && c->o.max_pages && c->scheduled >= c->o.max_pages) {
        c->skipped++;
        return;
    }
    page *p = calloc(1, sizeof(*p));
    if (p && !(p->url = io_strdup(url))) {
        free(p);
        p = NULL;
    }
    if (!p) {
        /* Nothing to report it with; count it (the crawl then exits 1). */
        c->failed++;
        return;
    }
    p->c = c;
    p->depth = depth;
    if (depth == c->cur)
        c->pend_cur++;
    else
        c->pend_next++;
    c->scheduled++;
    if (r < 0) {
        report_unscheduled(c, p, "out of memory");
        return;
    }
    char err[256];
    pt_fetch_request req = {
        .url = p->url, .sink = PT_FETCH_MEMORY, .on_done = fetch_done, .ctx = p};
    if (pt_fetcher_add(c->f, &req, err, sizeof(err)) != 0)
        report_unscheduled(c, p, err);
}

/* Follows p's links (p is at level cur). */
static void expand(pt_crawler *c, page *p)
{
    if (c->stopping || p->depth >= c->o.max_depth)
        return;
    for (size_t i = 0; i < p->doc.nlinks && !c->stopping; i++)
        add_url(c, p->doc.links[i], p->depth + 1);
}

/* A parsed page's last step: follow its links now, later, or never. */
static void after_parse(pt_crawler *c, page *p)
{
    bool links = !c->stopping && p->depth < c->o.max_depth && p->doc.nlinks > 0;
    if (links && p->depth == c->cur + 1) {
        /* Level cur is not done: keep only the links until it is. */
        free(p->doc.title);
        p->doc.title = NULL;
        free(p->doc.base);
        p->doc.base = NULL;
        p->next = c->deferred;
        c->deferred = p;
        return;
    }
    if (links)
        expand(c, p);
    page_done(c, p);
}

/* --- parsing ---------------------------------------------------------------------- */

static void parse_work(pt_io_work *w, void *arg)
{
    (void)w;
    parse_job *j = arg;
    void *item;
    if (pt_queue_try_pop(j->c->q, &item) != 0)
        return; /* cannot happen: one task per queued page */
    page *p = item;
    j->p = p;
    const char *base = p->eff ? p->eff : p->url;
    p->parse_rc =
        pt__crawl_parse(p->body, p->body_len, base, p->ctype, &p->doc, p->perr, sizeof(p->perr));
    pt_fetch_free(p->body);
    p->body = NULL;
}

static void parse_done(pt_io_work *w, void *arg, int status);

static void note_waiting(pt_crawler *c)
{
    size_t w = pt_queue_size(c->q) + c->nheld;
    if (w > c->max_waiting)
        c->max_waiting = w;
}

/* Submits the task for a page just pushed. On failure, takes a page back
 * out of the queue (any one: the counts stay matched) and fails it. */
static void submit_parse(pt_crawler *c)
{
    parse_job *j = malloc(sizeof(*j));
    int rc = PT_ENOMEM;
    if (j) {
        j->c = c;
        j->p = NULL;
        rc = pt_io_bridge_submit(c->bridge, parse_work, parse_done, j);
    }
    if (rc == 0) {
        c->parsing++;
        return;
    }
    free(j);
    void *item;
    if (pt_queue_try_pop(c->q, &item) == 0) {
        page *p = item;
        p->parse_rc = rc;
        snprintf(p->perr, sizeof(p->perr), "parse: cannot start a parser task: %s",
                 pt_strerror(rc));
        report(c, p);
        page_done(c, p);
    }
}

/* A fetched HTML page goes to the parsers, or waits on the loop. */
static void enqueue(pt_crawler *c, page *p)
{
    if (!c->held && pt_queue_try_push(c->q, p) == 0) {
        note_waiting(c);
        submit_parse(c);
        return;
    }
    /* Full (or older pages are waiting): hold it, stop fetching. */
    p->next = NULL;
    if (c->held_tail)
        c->held_tail->next = p;
    else
        c->held = p;
    c->held_tail = p;
    c->nheld++;
    note_waiting(c);
    if (!c->paused) {
        c->paused = true;
        pt_fetcher_pause(c->f);
    }
}

/* Moves held pages into the queue while there is room; resumes fetching
 * once none is held. */
static void refill(pt_crawler *c)
{
    while (c->held) {
        page *p = c->held, *next = p->next; /* p belongs to the parsers once pushed */
        if (pt_queue_try_push(c->q, p) != 0)
            break;
        c->held = next;
        if (!next)
            c->held_tail = NULL;
        c->nheld--;
        submit_parse(c);
    }
    if (!c->held && c->paused) {
        c->paused = false;
        pt_fetcher_resume(c->f);
    }
}

static void parse_done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    parse_job *j = arg;
    pt_crawler *c = j->c;
    page *p = j->p;
    free(j);
    c->parsing--;
    if (!p) {
        /* The task did not run (status != 0): its page is still queued. */
        void *item;
        if (pt_queue_try_pop(c->q, &item) != 0)
            return;
        p = item;
        p->parse_rc = status ? status : PT_ECANCELED;
        snprintf(p->perr, sizeof(p->perr), "parse: %s", pt_strerror(p->parse_rc));
    }
    if (c->destroying) {
        free_page(p);
        return;
    }
    if (p->parse_rc != PT_ECANCELED)
        c->parsed++;
    refill(c);
    report(c, p);
    after_parse(c, p);
}

/* --- fetching ---------------------------------------------------------------------- */

static void fetch_done(void *ctx, pt_fetch_result *res)
{
    page *p = ctx;
    pt_crawler *c = p->c;
    if (c->destroying) {
        free_page(p);
        return;
    }
    if (res->status == PT_FETCH_ECANCELED) {
        c->canceled++;
        page_done(c, p);
        return;
    }
    c->fetched++;
    p->fstatus = res->status;
    p->http_status = res->http_status;
    p->bytes = res->bytes;
    p->seconds = res->seconds;
    p->retries = res->retries;
    p->ctype = io_strdup(res->content_type);
    if (res->status != PT_FETCH_OK)
        p->msg = io_strdup(res->message);
    if (res->effective_url && strcmp(res->effective_url, p->url) != 0) {
        p->eff = io_strdup(res->effective_url);
        /* The target of a redirect counts as seen: not fetched again. */
        char *norm;
        if (pt__crawl_resolve(NULL, res->effective_url, &norm, NULL, 0) == 0) {
            pt__strset_add(&c->seen, norm, strlen(norm));
            free(norm);
        }
    }
    if (res->status == PT_FETCH_OK && pt__crawl_is_html(res->content_type)) {
        p->html = true;
        if (res->body_len > 0) {
            p->body = res->body; /* ours now */
            p->body_len = res->body_len;
            res->body = NULL;
            enqueue(c, p);
            return;
        }
        c->parsed++; /* empty: nothing to find */
    }
    report(c, p);
    page_done(c, p);
}

/* --- public API ---------------------------------------------------------------------- */

int pt_crawler_create(pt_crawler **out, uv_loop_t *loop, pt_pool *pool,
                      const pt_crawl_options *opts, char *err, size_t errlen)
{
    if (!out || !loop || !pool || !opts)
        return io_errf(err, errlen, PT_EINVAL, "pt_crawler_create: NULL argument");
    *out = NULL;
    if (!opts->on_page)
        return io_errf(err, errlen, PT_EINVAL, "pt_crawler_create: no on_page callback");
    if (!opts->seeds || opts->nseeds == 0)
        return io_errf(err, errlen, PT_EINVAL, "no seed URLs");
    if (opts->queue_capacity > (1u << 24))
        return io_errf(err, errlen, PT_EINVAL, "queue capacity %zu is above %u",
                       opts->queue_capacity, 1u << 24);
    pt__crawl_xml_init();

    pt_crawler *c = calloc(1, sizeof(*c));
    if (!c)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    c->loop = loop;
    c->pool = pool;
    c->o = *opts;
    c->o.seeds = NULL;
    c->o.nseeds = 0;
    int rc = 0;
    char **seeds = calloc(opts->nseeds, sizeof(*seeds));
    if (!seeds) {
        rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < opts->nseeds; i++) {
        char why[512];
        if (!opts->seeds[i]) {
            rc = io_errf(err, errlen, PT_EINVAL, "seed %zu is NULL", i);
            goto out_seeds;
        }
        rc = pt__crawl_resolve(NULL, opts->seeds[i], &seeds[i], why, sizeof(why));
        if (rc) {
            rc = rc == PT_ENOMEM ? io_errf(err, errlen, rc, "out of memory")
                                 : io_errf(err, errlen, rc, "seed %s", why);
            goto out_seeds;
        }
        char a[512];
        authority(seeds[i], a, sizeof(a));
        if (c->o.same_host && pt__strset_add(&c->hosts, a, strlen(a)) < 0) {
            rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
            goto out_seeds;
        }
    }
    c->capacity = opts->queue_capacity;
    if (!c->capacity) {
        c->capacity = 4 * (size_t)pt_pool_threads(pool);
        if (c->capacity < 8)
            c->capacity = 8;
    }
    if ((rc = pt_queue_create(&c->q, c->capacity)) != 0) {
        io_errf(err, errlen, rc, "cannot create the parse queue: %s", pt_strerror(rc));
        goto out_seeds;
    }
    if ((rc = pt_io_bridge_create(&c->bridge, loop, pool)) != 0) {
        io_errf(err, errlen, rc, "cannot create the loop-pool bridge: %s", pt_strerror(rc));
        goto out_queue;
    }
    if ((rc = pt_fetcher_create(&c->f, loop, &opts->fetch, err, errlen)) != 0)
        goto out_bridge;
    for (size_t i = 0; i < opts->nseeds; i++)
        add_url(c, seeds[i], 0);
    for (size_t i = 0; i < opts->nseeds; i++)
        free(seeds[i]);
    free(seeds);
    *out = c;
    return 0;

out_bridge:
    pt_io_bridge_close(c->bridge); /* freed when the loop runs next */
out_queue:
    pt_queue_destroy(c->q);
out_seeds:
    for (size_t i = 0; i < opts->nseeds; i++)
        free(seeds[i]);
    free(seeds);
out_free:
    pt__strset_free(&c->hosts);
    free(c);
    return rc;
}

void pt_crawler_stop(pt_crawler *c)
{
    if (!c || c->stopping)
        return;
    c->stopping = true;
    /* No level will be expanded any more: drop the deferred links. */
    while (c->deferred) {
        page *p = c->deferred;
        c->deferred = p->next;
        c->pend_next--;
        free_page(p);
    }
    pt_fetcher_cancel_all(c->f); /* each cancelled page ends in page_done */
    if (c->paused && !c->held) {
        c->paused = false;
        pt_fetcher_resume(c->f);
    }
    advance(c); /* on_finish, when nothing was in flight */
}

void pt_crawler_stats(const pt_crawler *c, pt_crawl_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!c)
        return;
    st->scheduled = c->scheduled;
    st->fetched = c->fetched;
    st->reported = c->reported;
    st->ok = c->ok;
    st->failed = c->failed;
    st->parsed = c->parsed;
    st->canceled = c->canceled;
    st->skipped = c->skipped;
    st->seen = c->seen.n;
    st->queued = pt_queue_size(c->q);
    st->held = c->nheld;
    st->parsing = c->parsing;
    st->max_waiting = c->max_waiting;
    st->queue_capacity = c->capacity;
    st->depth = c->cur;
    st->paused = c->paused;
    st->finished = c->finished;
    pt_fetcher_stats(c->f, &st->fetch);
}

void pt_crawler_destroy(pt_crawler *c)
{
    if (!c)
        return;
    assert(!c->in_cb); /* documented: not from a callback */
    c->destroying = true;
    c->stopping = true;
    pt_fetcher_destroy(c->f);      /* cancelled pages are freed in fetch_done */
    pt_io_bridge_close(c->bridge); /* waits for the parses; parse_done frees */
    while (c->held) {
        page *p = c->held;
        c->held = p->next;
        free_page(p);
    }
    while (c->deferred) {
        page *p = c->deferred;
        c->deferred = p->next;
        free_page(p);
    }
    void *item;
    while (pt_queue_try_pop(c->q, &item) == 0)
        free_page(item);
    pt_queue_destroy(c->q);
    pt__strset_free(&c->seen);
    pt__strset_free(&c->hosts);
    free(c);
}
