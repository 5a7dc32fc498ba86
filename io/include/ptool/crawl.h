/* ptool/crawl.h - a web crawler on a libuv loop: the course's
 * producer/consumer crawler, done for real.
 *
 * The fetcher (ptool/fetch.h) produces pages: bodies of text/html
 * responses, in memory, go into a bounded pt_queue (ptool/queue.h). Parser
 * tasks on a pt_pool consume them: each page is parsed with libxml2's HTML
 * parser (title, <a href>, <area href>, <base href>), its links are resolved
 * against the page's effective URL with libcurl's URL API, normalised
 * (scheme and host lower case, dot segments and default ports removed,
 * fragments dropped) and kept when http or https. The results come back to
 * the loop thread, which de-duplicates URLs (a set of every URL scheduled),
 * applies the depth limit, the same-host rule and the page limit, and
 * hands new URLs to the fetcher.
 *
 * Backpressure: the loop never blocks on the queue. When a page does not
 * fit (the parsers are behind), the fetcher is paused and the page is held
 * on the loop; as parses finish, held pages move into the queue, and the
 * fetcher resumes once none is held. Transfers already running when the
 * fetcher paused still complete, so at most `queue_capacity + concurrency`
 * fetched pages wait for a parser at any time (stats.max_waiting). The
 * bodies in memory are bounded by that plus the running transfers and the
 * parses in progress, each at most fetch.max_bytes. What grows with the
 * site is the URL set (every distinct URL scheduled), the frontier (URLs
 * scheduled and not yet fetched, queued in the fetcher) and the links of
 * the pages of one depth level waiting for the level above to finish
 * (below): URLs only, never bodies; max_pages bounds them all.
 *
 * Depth: seeds have depth 0, and a page first linked from a page of depth d
 * has depth d + 1; pages deeper than max_depth are not fetched. So that a
 * page's depth is its shortest link distance from a seed whatever order
 * transfers finish in, links are followed level by level: the links of a
 * page of depth d + 1 are followed only once every page of depth d has been
 * parsed (fetching and parsing go on meanwhile; only the new URLs wait).
 * The set of pages crawled is then exactly the pages within max_depth
 * links of a seed (less any beyond max_pages).
 *
 * Every URL scheduled ends in exactly one on_page call, unless the crawl is
 * stopped or destroyed first (then transfers not finished end silently).
 * When nothing is left to do, on_finish runs once.
 *
 * Threads: a crawler and its callbacks belong to the thread that runs its
 * loop; call every function here on that thread only. The parsing runs on
 * the pool's threads.
 */
#ifndef PTOOL_CRAWL_H
#define PTOOL_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ptool/export.h"
#include "ptool/fetch.h"
#include "ptool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_crawler pt_crawler;

/* One page, as reported to on_page. Every pointer in it is borrowed and
 * valid only until on_page returns. */
typedef struct pt_crawl_page {
    const char *url;              /* the normalised URL fetched */
    const char *effective_url;    /* after redirects, when it differs from url; else NULL */
    unsigned depth;               /* link distance from a seed (seeds: 0) */
    bool ok;                      /* fetched (2xx) and, if HTML, parsed */
    pt_fetch_status fetch_status; /* PT_FETCH_OK or why the fetch failed */
    long http_status;             /* status of the last response; 0: none */
    const char *content_type;     /* the Content-Type header; NULL if none */
    bool html;                    /* parsed as HTML (text/html or application/xhtml+xml) */
    const char *title;            /* the first <title>, whitespace collapsed; NULL if none */
    const char *const *links;     /* distinct http(s) links of the page, resolved and
                                     normalised, in document order */
    size_t nlinks;
    uint64_t bytes;    /* body bytes received */
    double seconds;    /* fetch time, retries included */
    unsigned retries;  /* fetch attempts after the first */
    const char *error; /* one line when !ok ("HTTP 404 Not Found", "parse: ..."); else NULL */
} pt_crawl_page;

/* Called on the loop thread once per page. It may call pt_crawler_stop()
 * and pt_crawler_stats(), not pt_crawler_destroy(). */
typedef void (*pt_crawl_page_fn)(void *ctx, const pt_crawl_page *page);

/* Called on the loop thread once, when the crawl has ended: every page
 * reported (or, after pt_crawler_stop(), every page in progress drained).
 * It may not call pt_crawler_destroy(): stop the loop (uv_stop) and destroy
 * the crawler after uv_run returns. */
typedef void (*pt_crawl_finish_fn)(void *ctx);

typedef struct pt_crawl_options {
    const char *const *seeds; /* http(s) URLs to start from (copied) */
    size_t nseeds;
    unsigned max_depth;           /* follow links up to this depth; 0 = the seeds only */
    bool same_host;               /* follow only links whose host and port are a seed's */
    size_t queue_capacity;        /* fetched pages waiting for a parser; 0 = 4 x pool threads
                                     (at least 8) */
    uint64_t max_pages;           /* fetch at most this many URLs; 0 = no limit */
    pt_fetch_options fetch;       /* concurrency, retries, timeouts, max_bytes, TLS */
    pt_crawl_page_fn on_page;     /* required */
    pt_crawl_finish_fn on_finish; /* optional */
    void *ctx;                    /* passed to the callbacks */
} pt_crawl_options;

/* Counters, for progress displays and tests. */
typedef struct pt_crawl_stats {
    uint64_t scheduled;  /* URLs handed to the fetcher (seeds included) */
    uint64_t fetched;    /* transfers ended, any outcome but cancelled */
    uint64_t reported;   /* on_page calls */
    uint64_t ok, failed; /* reported pages by outcome */
    uint64_t parsed;     /* pages parsed as HTML */
    uint64_t canceled;   /* transfers ended by pt_crawler_stop() (not reported) */
    uint64_t skipped;    /* distinct new URLs not scheduled because of max_pages */
    size_t seen;         /* distinct URLs in the de-duplication set */
    size_t queued;       /* pages in the parse queue now */
    size_t held;         /* fetched pages held on the loop, waiting for room in the queue */
    size_t parsing;      /* parse tasks submitted and not finished */
    size_t max_waiting;  /* most pages ever queued + held at once (<= capacity + concurrency) */
    size_t queue_capacity;
    unsigned depth; /* the depth level being completed */
    bool paused;    /* the fetcher is paused for backpressure */
    bool finished;  /* on_finish has run */
    pt_fetch_stats fetch;
} pt_crawl_stats;

/* Creates a crawler on `loop` and `pool` (both borrowed; they must outlive
 * it) into *out, and schedules the seeds (duplicates once): the crawl runs
 * while the loop runs. PT_EINVAL with a message in err for a bad option or
 * a seed that is not an http(s) URL (named in the message), PT_ENOMEM,
 * PT_EIO. The pool must accept submissions without blocking (max_queued 0,
 * or above queue_capacity). The caller frees it with pt_crawler_destroy().
 * On failure no callback runs; handles already made are closed and freed
 * when the loop runs next. Initialises libxml2 (xmlInitParser) on first
 * use. */
PT_EXTERN int pt_crawler_create(pt_crawler **out, uv_loop_t *loop, pt_pool *pool,
                                const pt_crawl_options *opts, char *err, size_t errlen);

/* Stops the crawl: running and queued transfers are cancelled (their pages
 * are not reported), no new URL is scheduled, pages already fetched are
 * still parsed and reported. on_finish follows once they are (it may run
 * before this returns). Idempotent. */
PT_EXTERN void pt_crawler_stop(pt_crawler *c);

/* A snapshot of the counters. */
PT_EXTERN void pt_crawler_stats(const pt_crawler *c, pt_crawl_stats *st);

/* Cancels what is left without reporting it, waits for parses in progress
 * (blocking the loop briefly), frees the crawler; its fetcher and handles
 * are freed once the loop runs their close callbacks: run the loop (uv_run)
 * after this. NULL is fine. Not from inside a crawler callback. */
PT_EXTERN void pt_crawler_destroy(pt_crawler *c);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_CRAWL_H */
