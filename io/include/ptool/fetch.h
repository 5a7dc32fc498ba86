/* ptool/fetch.h - an HTTP(S) fetcher on a libuv loop: libcurl's multi_socket
 * API driven by uv_poll and uv_timer, so no call blocks the loop and no
 * thread is started per request.
 *
 * A fetcher runs at most `concurrency` transfers at once (the course's
 * asyncio.Semaphore); transfers added beyond that wait in a FIFO and start,
 * in order, as others finish. pt_fetcher_pause() stops starting new ones
 * (backpressure for a crawler whose parse queue is full) and
 * pt_fetcher_resume() starts them again. Connections are kept alive and
 * reused, HTTP/2 is used where a TLS server offers it (transfers to one host
 * then share a connection), TLS certificates are verified unless the
 * fetcher is created with `insecure`. Redirects are followed up to a limit,
 * with a redirect loop reported as such. Failed attempts are retried with
 * exponential backoff and jitter when the failure is transient: no
 * connection, a broken or timed-out transfer, HTTP 408, 429 and 5xx (but not
 * 501/505); a Retry-After header (seconds or an HTTP date) is honoured up to
 * a cap.
 *
 * Where a body goes is chosen per transfer (pt_fetch_sink): counted and
 * dropped, collected in memory, handed to a callback, or written to a file
 * that appears only when complete (a temporary file in the same directory,
 * renamed over the final name on success, removed on failure or cancel;
 * file IO runs on libuv's thread pool, never on the loop). Only the body of
 * a successful (2xx) response reaches a sink.
 *
 * Every transfer that pt_fetcher_add() accepted ends with exactly one
 * on_done call carrying a pt_fetch_result, also when it is cancelled.
 *
 * Threads: a fetcher and everything it calls back belong to the thread that
 * runs its loop. Call every function here on that thread only.
 */
#ifndef PTOOL_FETCH_H
#define PTOOL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_fetcher pt_fetcher;

/* What ended a transfer: PT_FETCH_OK, or the kind of failure. */
typedef enum pt_fetch_status {
    PT_FETCH_OK = 0,    /* a 2xx response, body complete and delivered */
    PT_FETCH_EHTTP,     /* the server answered with a non-2xx status */
    PT_FETCH_ERESOLVE,  /* the host name did not resolve */
    PT_FETCH_ECONNECT,  /* no connection (refused, unreachable) */
    PT_FETCH_ETIMEOUT,  /* the connect or total timeout expired */
    PT_FETCH_ERECV,     /* the connection broke mid-transfer */
    PT_FETCH_ETLS,      /* TLS handshake or certificate verification failed */
    PT_FETCH_ETOOBIG,   /* the body exceeds max_bytes */
    PT_FETCH_EREDIRECT, /* too many redirects, or a redirect loop */
    PT_FETCH_EWRITE,    /* the sink failed (disk full, callback said stop) */
    PT_FETCH_ECANCELED, /* pt_fetcher_cancel_all() or destroy */
    PT_FETCH_EOTHER,    /* any other libcurl error (see curl_code) */
} pt_fetch_status;

/* A short name for a status: "ok", "http", "resolve", "connect", "timeout",
 * "recv", "tls", "too-big", "redirect", "write", "canceled", "error"
 * (static string). */
PT_EXTERN const char *pt_fetch_status_name(pt_fetch_status s);

/* The outcome of one transfer, passed to on_done. Every pointer in it is
 * borrowed and valid only until on_done returns, except `body`, which the
 * callback may take (see below). */
typedef struct pt_fetch_result {
    const char *url;           /* the URL as added */
    const char *effective_url; /* the last URL fetched (after redirects); NULL if none */
    const char *path;          /* file sink: the final file name when status is OK; else NULL */
    const char *message;       /* why it failed, one line ("" when OK) */
    const char *content_type;  /* the last response's Content-Type header; NULL if none */
    pt_fetch_status status;    /* PT_FETCH_OK or the failure */
    long http_status;          /* status code of the last response; 0: no response */
    int http_version;          /* 10, 11, 20, 30 for HTTP/1.0 .. HTTP/3; 0 unknown */
    int curl_code;             /* the libcurl CURLcode of the last attempt (0 = CURLE_OK) */
    uint64_t bytes;            /* body bytes received in the last attempt */
    double seconds;            /* from the first attempt's start to the end, with retry waits */
    unsigned retries;          /* attempts after the first */
    unsigned redirects;        /* redirects followed in the last attempt */
    /* Memory sink: the body (NUL-terminated, body_len bytes without the NUL;
     * NULL when empty or not OK). To keep it past on_done, copy the pointer
     * and set r->body to NULL; free it later with pt_fetch_free(). */
    char *body;
    size_t body_len;
} pt_fetch_result;

/* Called once per accepted transfer, on the loop thread, when it has ended
 * (for a file sink: after the file has been renamed into place or removed).
 * It may call pt_fetcher_add(), pause(), resume() and cancel_all(), but not
 * pt_fetcher_destroy(). */
typedef void (*pt_fetch_done_fn)(void *ctx, pt_fetch_result *r);

/* Callback sink: receives body bytes of a 2xx response as they arrive.
 * Return 0 to go on; anything else stops the transfer (PT_FETCH_EWRITE).
 * It must not call pt_fetcher_cancel_all() or pt_fetcher_destroy(). */
typedef int (*pt_fetch_data_fn)(void *ctx, const char *buf, size_t len);

/* Callback sink: an attempt that had delivered data failed and is retried;
 * forget what on_data delivered so far (the body starts again). */
typedef void (*pt_fetch_reset_fn)(void *ctx);

typedef enum pt_fetch_sink {
    PT_FETCH_DISCARD = 0, /* count the bytes, keep nothing */
    PT_FETCH_MEMORY,      /* collect the body; result.body */
    PT_FETCH_FILE,        /* write to `path`, via a temporary file renamed on success */
    PT_FETCH_CALLBACK,    /* hand the bytes to on_data */
} pt_fetch_sink;

/* One transfer. Strings are copied by pt_fetcher_add(). */
typedef struct pt_fetch_request {
    const char *url;            /* http:// or https:// */
    pt_fetch_sink sink;         /* where the body goes */
    const char *path;           /* PT_FETCH_FILE: the final file; an existing file is replaced */
    pt_fetch_data_fn on_data;   /* PT_FETCH_CALLBACK */
    pt_fetch_reset_fn on_reset; /* PT_FETCH_CALLBACK, optional */
    pt_fetch_done_fn on_done;   /* optional */
    void *ctx;                  /* passed to the callbacks */
} pt_fetch_request;

/* Fetcher-wide settings; zero means the default given. */
typedef struct pt_fetch_options {
    unsigned concurrency;        /* transfers at once; 0 = 10 */
    unsigned retries;            /* retries per transfer after the first attempt; 0 = none */
    unsigned retry_base_ms;      /* first backoff; doubles per retry; 0 = 250 ms */
    unsigned retry_max_ms;       /* backoff cap; 0 = 10 s */
    unsigned retry_after_max_ms; /* cap on a server's Retry-After; 0 = 60 s */
    double timeout_s;            /* whole attempt (connect + transfer); 0 = none */
    double connect_timeout_s;    /* connection setup; 0 = 30 s */
    int max_redirects;           /* redirects followed; 0 = 10; negative = do not follow */
    uint64_t max_bytes;          /* largest body accepted; 0 = no limit */
    bool insecure;               /* skip TLS certificate and host name checks (never the default) */
    const char *ca_file;         /* PEM CA bundle instead of the system's; NULL = system */
    const char *user_agent;      /* NULL = "ptool/VERSION" */
} pt_fetch_options;

/* Counters, for progress displays. */
typedef struct pt_fetch_stats {
    size_t queued;     /* accepted, waiting for a slot (retries included) */
    size_t active;     /* transfers running now (<= concurrency) */
    size_t waiting;    /* failed attempts waiting out their backoff */
    size_t finishing;  /* ended, file being renamed or removed */
    uint64_t done;     /* on_done calls so far */
    uint64_t bytes;    /* body bytes received so far, all attempts */
    size_t max_active; /* most transfers that ever ran at once */
} pt_fetch_stats;

/* Creates a fetcher on `loop` (borrowed; it must outlive the fetcher) into
 * *out. opts may be NULL for the defaults. PT_EINVAL (with a message in err)
 * for bad options, PT_ENOMEM, PT_EIO when libcurl cannot be set up. The
 * caller frees it with pt_fetcher_destroy(). Initialises libcurl globally
 * on first use (curl_global_init, not thread-safe before 7.84). */
PT_EXTERN int pt_fetcher_create(pt_fetcher **out, uv_loop_t *loop, const pt_fetch_options *opts,
                                char *err, size_t errlen);

/* Queues a transfer; it starts when a slot is free and the fetcher is not
 * paused. PT_EINVAL with a message in err for a malformed URL, a scheme
 * other than http/https, a missing path or on_data; PT_ENOMEM. If it fails,
 * no callback runs. */
PT_EXTERN int pt_fetcher_add(pt_fetcher *f, const pt_fetch_request *req, char *err, size_t errlen);

/* Stops starting transfers (running ones go on; a retry that is due waits
 * too). Idempotent. */
PT_EXTERN void pt_fetcher_pause(pt_fetcher *f);

/* Starts queued transfers again, up to the concurrency cap. */
PT_EXTERN void pt_fetcher_resume(pt_fetcher *f);

/* Ends every transfer not yet ended: queued, running and waiting ones end
 * with PT_FETCH_ECANCELED, their temporary files are removed. Most on_done
 * calls happen before this returns; those of file sinks follow once their
 * file is removed, while the loop runs. Transfers added by those callbacks
 * are cancelled too. PT_EBUSY from inside an on_data callback. */
PT_EXTERN int pt_fetcher_cancel_all(pt_fetcher *f);

/* A snapshot of the counters. */
PT_EXTERN void pt_fetcher_stats(const pt_fetcher *f, pt_fetch_stats *st);

/* Whether nothing is queued, running, waiting or finishing. */
PT_EXTERN bool pt_fetcher_idle(const pt_fetcher *f);

/* Cancels what is left (see pt_fetcher_cancel_all), closes connections and
 * handles, and frees the fetcher once the loop has run the handles' close
 * callbacks and finished any file work: run the loop (uv_run) after this.
 * NULL is fine. Not from inside a fetcher callback. */
PT_EXTERN void pt_fetcher_destroy(pt_fetcher *f);

/* A file name for the body of `url`, safe inside an output directory: the
 * last path segment, percent-decoded, with the query and fragment dropped;
 * bytes other than letters, digits, '.', '-', '_' become '_', a leading
 * '.' becomes '_' (so never "..", never hidden), "index.html" when the path
 * is empty or ends in '/'; at most len-1 bytes (and 200). Never fails for
 * len >= 16: an unparsable URL gives "index.html". Returns buf. */
PT_EXTERN char *pt_fetch_url_filename(const char *url, char *buf, size_t len);

/* Frees a body taken from a pt_fetch_result. NULL is fine. */
PT_EXTERN void pt_fetch_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_FETCH_H */
