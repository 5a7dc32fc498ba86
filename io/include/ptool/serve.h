/* ptool/serve.h - an HTTP/1.1 server on a libuv loop that runs ptool's jobs
 * on any backend (`ptool serve`; the course's Flask thread-pool and
 * process-pool services, done for real).
 *
 * The server lives on the caller's loop and borrows the caller's runtime.
 * HTTP parsing, routing, metrics and every socket operation happen on the
 * loop thread; CPU work (job set-up, runs, result JSON) goes to a thread
 * pool of the server's own through the loop<->pool bridge (io_work.h), and
 * the answers come back to the loop. Endpoints (see README.md):
 *
 *   GET  /healthz              liveness, answered on the loop thread
 *   GET  /metrics              Prometheus text format 0.0.4
 *   GET  /jobs                 the job catalog, from the job descriptors
 *   GET  /backends             backends (available or why not), OpenCL devices
 *   GET  /is_prime/1,2,3       the course's process-pool service
 *   POST /run/JOB              any catalog job, JSON parameters in the body
 *   POST /fanout               the course's thread-pool service: a file read,
 *                              an upstream fetch and a job, concurrently
 *
 * Connections: keep-alive, pipelined requests answered in arrival order,
 * limits on header and body size, connections, queued requests and running
 * jobs, an idle timeout and a whole-request deadline (a slowloris client is
 * dropped), and a graceful stop (stop accepting, answer what has arrived,
 * close). Writing to a peer that has gone raises SIGPIPE: a program that
 * embeds the server must ignore SIGPIPE (the `ptool` CLI does).
 *
 * Requests never name server-side paths: job parameters of type
 * PT_TYPE_STRING (file names such as --input/--output) are refused, job
 * output files are never written, and /fanout reads only plain file names
 * inside the directory the operator gave (options.files_dir).
 */
#ifndef PTOOL_SERVE_H
#define PTOOL_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ptool/backend.h"
#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_server pt_server;

/* --- the seam for /fanout's upstream fetch ---------------------------------
 * The server does not speak HTTP as a client itself: the embedder passes a
 * fetch function (the CLI wires io/'s fetcher). It is called on the loop
 * thread and must call done() exactly once, later, on the loop thread (not
 * from inside fetch()), unless it returns non-zero (then done never runs).
 * body is borrowed for the duration of done(). */
typedef void (*pt_server_fetch_done_fn)(void *req, int status, long http_status, const char *body,
                                        size_t len);
typedef int (*pt_server_fetch_fn)(void *ctx, uv_loop_t *loop, const char *url, size_t max_bytes,
                                  pt_server_fetch_done_fn done, void *req);

/* Called on the loop thread once the server has closed every handle after
 * pt_server_stop(): the loop then holds nothing of the server's. `clean` is
 * 0 when the shutdown deadline forced connections closed. */
typedef void (*pt_server_stopped_fn)(pt_server *s, void *arg, int clean);

/* Server options. Zero/NULL means the default given on each field. */
typedef struct pt_server_options {
    const char *host;      /* IPv4 or IPv6 address to bind; default "127.0.0.1" */
    unsigned port;         /* TCP port; 0 = any free port (see pt_server_port) */
    pt_backend_id backend; /* backend of requests that name none; default auto */
    unsigned threads;      /* threads per job run, and the most a request may ask for; 0 = the
                              runtime's */
    unsigned workers;      /* pool threads for request CPU work; 0 = the runtime's thread count */
    unsigned max_connections;     /* open connections; beyond: 503 and close. Default 1024 */
    size_t max_header_bytes;      /* request line + headers; beyond: 431. Default 8 KiB */
    size_t max_body_bytes;        /* request body; beyond: 413. Default 1 MiB */
    unsigned max_pipeline;        /* requests queued per connection before the server
                                     stops reading it (back-pressure). Default 32 */
    unsigned max_jobs;            /* job runs at once; default: workers */
    unsigned max_queued_jobs;     /* runs waiting for a slot; beyond: 503. Default 1024 */
    unsigned idle_timeout_ms;     /* a connection with nothing to do is closed. Default 30 s */
    unsigned request_timeout_ms;  /* a request must arrive whole (head and body) within
                                     this from its first byte; else 408 and close.
                                     Default 10 s */
    unsigned shutdown_timeout_ms; /* pt_server_stop(): in-flight requests get this long
                                     before their connections are closed. Default 10 s */
    const char *files_dir;        /* /fanout's file leg reads files only in here; NULL
                                     disables the leg */
    size_t max_file_bytes;        /* /fanout: bytes read from a file; default 1 MiB */
    const char *const *upstreams; /* /fanout: URLs must start with one of these */
    size_t nupstreams;
    pt_server_fetch_fn fetch; /* /fanout's fetch leg; NULL: the leg answers 501 */
    void *fetch_ctx;
    pt_server_stopped_fn on_stopped; /* optional, see pt_server_stopped_fn */
    void *on_stopped_arg;
} pt_server_options;

/* Creates a server on `loop` (borrowed; loop thread only from here on) that
 * runs jobs on `rt` (borrowed; create it before anything starts threads, see
 * backend.h), binds host:port and starts listening. The caller runs the loop;
 * stop with pt_server_stop(), then free with pt_server_destroy() after the
 * loop has run the stop to its end. On failure nothing is left on the loop
 * and a one-line reason is in err: PT_EINVAL (bad option), PT_ENOMEM, or a
 * libuv error as -errno (e.g. -EADDRINUSE). */
PT_EXTERN int pt_server_create(pt_server **out, uv_loop_t *loop, pt_runtime *rt,
                               const pt_server_options *opts, char *err, size_t errlen);

/* The TCP port the server listens on (the one the kernel picked for port 0). */
PT_EXTERN unsigned pt_server_port(const pt_server *s);

/* Starts a graceful stop: the listener closes (new connections are refused),
 * idle connections close, requests that have arrived are answered (the last
 * with "Connection: close"), then everything closes and on_stopped runs.
 * After options.shutdown_timeout_ms the remaining connections are closed.
 * Thread-safe and async-signal-unsafe; calling it again does nothing. */
PT_EXTERN void pt_server_stop(pt_server *s);

/* Frees the server (NULL is fine). Call it after on_stopped has run (or
 * uv_run() has returned after pt_server_stop()); not from a loop callback
 * of this server. Joins the server's worker threads. */
PT_EXTERN void pt_server_destroy(pt_server *s);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_SERVE_H */
