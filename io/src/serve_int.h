/* serve_int.h - what the server's files share (serve.c: connections and
 * HTTP; serve_routes.c: the endpoints; serve_metrics.c: counters and the
 * Prometheus text). Internal to libptool_io. Everything here is touched on
 * the loop thread only, unless a field says otherwise. */
#ifndef PTOOL_SERVE_INT_H
#define PTOOL_SERVE_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#include "io_util.h"
#include "ptool/io_work.h"
#include "ptool/ptool.h"
#include "ptool/serve.h"

/* --- a growable byte buffer ---------------------------------------------- */

typedef struct pt__sbuf {
    char *p;
    size_t len, cap;
} pt__sbuf;

/* Room for n more bytes: 0 or PT_ENOMEM. */
int pt__sbuf_reserve(pt__sbuf *b, size_t n);
/* Appends n bytes: 0 or PT_ENOMEM. */
int pt__sbuf_add(pt__sbuf *b, const void *data, size_t n);
int pt__sbuf_adds(pt__sbuf *b, const char *s);
int pt__sbuf_addf(pt__sbuf *b, const char *fmt, ...) PT__PRINTF(2, 3);
void pt__sbuf_free(pt__sbuf *b);
/* A pt_write_fn that appends to the pt__sbuf in ctx. */
int pt__sbuf_write(void *ctx, const char *buf, size_t len);

/* --- routes and metrics -------------------------------------------------- */

typedef enum pt__route {
    PT__ROUTE_HEALTHZ,
    PT__ROUTE_METRICS,
    PT__ROUTE_JOBS,
    PT__ROUTE_BACKENDS,
    PT__ROUTE_ISPRIME,
    PT__ROUTE_RUN,
    PT__ROUTE_FANOUT,
    PT__ROUTE_OTHER,   /* no such path: 404 */
    PT__ROUTE_INVALID, /* the request could not be parsed: 4xx, then close */
    PT__ROUTE_COUNT
} pt__route;

/* The route's label in metrics ("/is_prime/{numbers}"). */
const char *pt__route_label(pt__route r);

#define PT__MAX_JOBS_TRACKED 64 /* the catalog's capacity (job.h) */
#define PT__NBUCKETS         17 /* latency histogram buckets, +Inf included */

typedef struct pt__metrics {
    uint64_t requests[PT__ROUTE_COUNT][500]; /* by status - 100 */
    uint64_t hist[PT__ROUTE_COUNT][PT__NBUCKETS];
    double hist_sum[PT__ROUTE_COUNT]; /* seconds */
    uint64_t hist_count[PT__ROUTE_COUNT];
    uint64_t in_flight; /* requests parsed and not yet answered */
    uint64_t conns_accepted, conns_rejected, conns_timed_out;
    const pt_job_desc *job_desc[PT__MAX_JOBS_TRACKED];
    uint64_t jobs[PT__MAX_JOBS_TRACKED][PT_BACKEND_COUNT];
    double job_seconds[PT__MAX_JOBS_TRACKED][PT_BACKEND_COUNT];
    uint64_t job_failures[PT__MAX_JOBS_TRACKED];
} pt__metrics;

/* --- requests ------------------------------------------------------------ */

typedef struct pt__conn pt__conn;
typedef struct pt__req pt__req;

/* One request, from its last byte until its response is queued for writing.
 * A request whose connection closes while its work is still running is
 * orphaned (conn = NULL) and freed when the work completes. */
struct pt__req {
    pt_server *srv;
    pt__conn *conn; /* NULL once orphaned */
    pt__req *next;  /* the connection's queue, in arrival order */
    pt__route route;
    bool head;       /* HEAD: headers only */
    bool keep_alive; /* per the request; the server may still close */
    bool http10;
    bool ready;   /* the response below is complete */
    bool pending; /* asynchronous work in progress */
    int status;
    const char *ctype;
    char extra[128]; /* extra header lines, each ending in \r\n */
    pt__sbuf body;
    uint64_t start_ns; /* first byte of the request (uv_hrtime) */
};

/* What the router hands a handler (borrowed for the call only). */
typedef struct pt__http_in {
    const char *path; /* percent-decoded, NUL-terminated */
    size_t path_len;
    const char *query; /* raw, NUL-terminated ("" if none) */
    const char *body;
    size_t body_len;
} pt__http_in;

/* Completes a request: the body (moved in; may be NULL) with the status and
 * content type. The connection writes it when every earlier request has been
 * answered. An orphaned request is freed instead. */
void pt__req_complete(pt__req *r, int status, const char *ctype, pt__sbuf *body);

/* Completes a request with {"error": MESSAGE, "status": N}. */
void pt__req_error(pt__req *r, int status, const char *fmt, ...) PT__PRINTF(3, 4);

/* Completes a request with a JSON error whose message is taken as is. */
void pt__req_error_msg(pt__req *r, int status, const char *msg);

/* A job run waiting for, or holding, one of the server's job slots. */
typedef struct pt__job_task pt__job_task;
struct pt__job_task {
    pt_server *srv;
    pt__req *req; /* the HTTP request it answers (checked for orphaning) */
    const pt_job_desc *desc;
    pt_params *params; /* owned */
    pt_run_options ro;
    bool isprime_shape; /* /is_prime's answer shape, else /run's */
    pt__sbuf json;      /* POST /run/JOB: the body, read on the pool thread */
    /* filled in on the pool thread */
    int status; /* HTTP status */
    pt__sbuf body;
    bool ran;
    pt_backend_id ran_on;
    double seconds;
    uint64_t queued_ns; /* uv_hrtime when it was queued */
    /* on the loop thread when the run is over (or was cancelled) */
    void (*finish)(pt__job_task *t);
    void *finish_arg;
    pt__job_task *next_wait;
};

/* Queues a job run (takes ownership of t): it starts when a slot is free.
 * PT_EBUSY when max_queued_jobs are already waiting (t is not taken). */
int pt__job_submit(pt__job_task *t);

/* Frees a task (params, body). */
void pt__job_task_free(pt__job_task *t);

/* An error found while reading a request: its HTTP status and message. */
typedef struct pt__reqerr {
    int status;
    char msg[1024];
} pt__reqerr;

/* Fills e; returns -1. */
int pt__reqerr_set(pt__reqerr *e, int status, const char *fmt, ...) PT__PRINTF(3, 4);

/* A task for request r from {"job": NAME, "params": {...}, "backend",
 * "threads", "strict"} (for /fanout): 0 and *out, or -1 with the error in e.
 * Any thread. Its finish is the caller's to set. */
int pt__job_task_from_json(pt__req *r, json_t *spec, pt__job_task **out, pt__reqerr *e);

/* POST /fanout (serve_fanout.c). */
void pt__fanout_start(pt__req *r, const pt__http_in *in);

/* Runs fn(arg) on the server's pool, done(arg) on the loop thread after,
 * and counts it as pending work for the graceful stop. */
int pt__server_work(pt_server *s, pt_io_work_fn fn, pt_io_done_fn done, void *arg);

/* Marks one piece of server work (a fetch, a file read) started/finished,
 * so that a stop waits for it. */
void pt__server_pending_add(pt_server *s);
void pt__server_pending_done(pt_server *s);

/* --- the server -------------------------------------------------------- */

typedef enum pt__state {
    PT__RUNNING,
    PT__DRAINING, /* pt_server_stop(): no new connections, answering the rest */
    PT__CLOSING,  /* closing the server's own handles */
    PT__STOPPED
} pt__state;

struct pt_server {
    uv_loop_t *loop;
    pt_runtime *rt;
    pt_server_options o; /* with defaults applied; strings point into the fields below */
    char host[256];
    char *files_dir;
    char **upstreams;
    unsigned port;
    unsigned max_threads; /* the most threads a request may ask for */

    uv_tcp_t listener;
    uv_async_t stop_async;
    uv_timer_t shutdown_timer;
    atomic_bool stop_requested; /* any thread */
    pt__state state;
    bool forced;           /* the shutdown deadline closed connections */
    bool create_failed;    /* pt_server_create() failed after opening handles */
    unsigned open_handles; /* the server's own handles not yet closed */

    pt_pool *pool;
    pt_io_bridge *bridge;
    unsigned pending; /* asynchronous work not finished, orphaned included */

    pt__conn *conns; /* doubly linked */
    unsigned nconns;

    unsigned jobs_running, jobs_waiting;
    pt__job_task *wait_head, *wait_tail;

    http_parser_settings settings;
    pt__metrics metrics;
    char date[40]; /* "Date: ..." value, refreshed once a second */
    uint64_t date_sec;
    char readbuf[64 * 1024]; /* every read lands here; parsed before the next */
};

/* --- routes (serve_routes.c) -------------------------------------------- */

/* Matches a decoded path: the route, and the methods it allows ("GET, HEAD"). */
pt__route pt__route_match(const char *path, const char **allow);

/* Runs the handler of route r for request r (method already checked). */
void pt__route_dispatch(pt__req *r, const pt__http_in *in);

/* --- metrics (serve_metrics.c) ------------------------------------------ */

void pt__metrics_request(pt__metrics *m, pt__route r, int status, double seconds);
void pt__metrics_job(pt__metrics *m, const pt_job_desc *d, pt_backend_id b, double seconds,
                     bool ok);
/* The Prometheus text exposition (format 0.0.4) into out. */
int pt__metrics_render(const pt_server *s, pt__sbuf *out);

/* --- small helpers --------------------------------------------------- */

const char *pt__http_reason(int status);
/* Writes {"error":msg,"status":N}\n into b. */
int pt__json_error_body(pt__sbuf *b, int status, const char *msg);

#endif /* PTOOL_SERVE_INT_H */
