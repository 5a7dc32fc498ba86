/* cmd_serve.c - `ptool serve`: the HTTP server of io/serve.h on one libuv
 * loop, with graceful shutdown on SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ptool/fetch.h>
#include <ptool/serve.h>
#include <uv.h>

#include "cli.h"

#define MAX_UPSTREAMS 16

static void usage(void)
{
    puts("Usage: ptool serve [OPTIONS]\n"
         "\n"
         "An HTTP/1.1 server that runs ptool's jobs on any backend. Endpoints:\n"
         "  GET  /healthz                 liveness\n"
         "  GET  /metrics                 Prometheus text format\n"
         "  GET  /jobs                    the job catalog and parameters\n"
         "  GET  /backends                backends and OpenCL devices\n"
         "  GET  /is_prime/N[,N...]       primality (?backend= ?method=mr|trial ?strict=1\n"
         "                                ?threads=N)\n"
         "  POST /run/JOB                 any job; JSON parameters in the body, plus\n"
         "                                \"backend\", \"threads\", \"strict\"\n"
         "  POST /fanout                  a file read, an upstream fetch and a job at once\n"
         "Job parameters that name files (--input, --output) are refused over HTTP.\n"
         "\n"
         "Options:\n"
         "  --host ADDR              IPv4/IPv6 address to bind (default: 127.0.0.1)\n"
         "  --port N                 TCP port (default: 8080; 0 = any free port)\n"
         "  --print-port             print the port on stdout once listening\n"
         "  --backend B              backend for requests that name none: serial|threads|\n"
         "                           processes|openmp|opencl|auto (default: $PTOOL_BACKEND,\n"
         "                           else auto)\n"
         "  --threads N              threads per job run, and the most a request may ask\n"
         "                           for (default: $PTOOL_THREADS, else the usable CPUs)\n"
         "  --workers N              threads running requests' CPU work (default: --threads)\n"
         "  --max-jobs N             job runs at once (default: --workers)\n"
         "  --max-queued-jobs N      runs waiting for a slot; beyond: 503 (default: 1024)\n"
         "  --max-connections N      open connections; beyond: 503 (default: 1024)\n"
         "  --max-header BYTES       request line + headers; beyond: 431 (default: 8192)\n"
         "  --max-body BYTES         request body; beyond: 413 (default: 1048576)\n"
         "  --idle-timeout S         close idle keep-alive connections (default: 30)\n"
         "  --request-timeout S      a request must arrive whole within S of its first byte,\n"
         "                           else 408 and close: slow clients (default: 10)\n"
         "  --shutdown-timeout S     on SIGINT/SIGTERM, in-flight requests get S seconds\n"
         "                           (default: 10)\n"
         "  --files DIR              the directory /fanout may read plain file names from\n"
         "                           (default: none: the file leg is off)\n"
         "  --upstream PREFIX        a URL prefix /fanout may fetch (repeatable)\n"
         "  --device D, --cache-dir DIR   OpenCL device and kernel cache, as for 'ptool run'\n"
         "  -h, --help               this help\n"
         "\n"
         "Stop with SIGINT or SIGTERM: the server stops accepting, answers the requests\n"
         "that have arrived and exits 0 (1 if the shutdown deadline cut some off).");
}

typedef struct serve_state {
    pt_server *srv;
    uv_signal_t sigint, sigterm;
    uv_timer_t hard;
    unsigned shutdown_ms;
    int signals;
    int clean;
    pt_fetcher *fetcher; /* /fanout's fetch leg; NULL without --upstream */
} serve_state;

static void on_hard_deadline(uv_timer_t *t)
{
    (void)t;
    cli_error("serve: job runs still going 2 s after the shutdown deadline: exiting");
    fflush(stderr);
    _exit(EXIT_FAIL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    serve_state *st = h->data;
    if (++st->signals > 1) {
        cli_error("serve: second signal: exiting now");
        fflush(stderr);
        _exit(EXIT_FAIL);
    }
    cli_error("serve: %s: stopping (finishing in-flight requests, at most %.3g s)",
              signum == SIGINT ? "SIGINT" : "SIGTERM", st->shutdown_ms / 1000.0);
    pt_server_stop(st->srv);
    /* Job runs cannot be interrupted: past the deadline and a grace period,
     * give up on them. */
    uv_timer_start(&st->hard, on_hard_deadline, st->shutdown_ms + 2000, 0);
}

static void on_stopped(pt_server *s, void *arg, int clean)
{
    (void)s;
    serve_state *st = arg;
    st->clean = clean;
    /* No request needs the fetcher any more; its kept-alive connections
     * would keep the loop running. */
    pt_fetcher_destroy(st->fetcher);
    st->fetcher = NULL;
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->hard, NULL);
}

/* Parses a number in [min, max] (an integer unless `real`): -1, or the exit
 * status after the message. */
static int parse_num(const char *opt, const char *v, double min, double max, bool real, double *out)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || errno || !(x >= min && x <= max) ||
        (!real && x != (double)(long long)x))
        return cli_usage_error("serve", "%s: '%s' is not %s in %g..%g", opt, v ? v : "",
                               real ? "a number" : "an integer", min, max);
    *out = x;
    return -1;
}

/* --- /fanout's fetch leg over io/'s fetcher ------------------------------- */

typedef struct fanout_fetch {
    pt_server_fetch_done_fn done;
    void *req;
} fanout_fetch;

/* The fetcher's outcome as the server's seam wants it: 0 and the HTTP
 * status when a response came (a non-2xx status has no body), else a ptool
 * error code. */
static int fetch_error_code(pt_fetch_status st)
{
    switch (st) {
    case PT_FETCH_OK:
    case PT_FETCH_EHTTP:
        return 0;
    case PT_FETCH_ETIMEOUT:
        return PT_ETIMEDOUT;
    case PT_FETCH_ETOOBIG:
        return PT_ERANGE;
    case PT_FETCH_ECANCELED:
        return PT_ECANCELED;
    case PT_FETCH_ECONNECT:
        return -ECONNREFUSED;
    case PT_FETCH_ERESOLVE:
        return -EHOSTUNREACH;
    default:
        return PT_EIO;
    }
}

static void fanout_fetch_done(void *ctx, pt_fetch_result *r)
{
    fanout_fetch *ff = ctx;
    ff->done(ff->req, fetch_error_code(r->status), r->http_status, r->body, r->body_len);
    free(ff);
}

static int fanout_fetch_start(void *ctx, uv_loop_t *loop, const char *url, size_t max_bytes,
                              pt_server_fetch_done_fn done, void *req)
{
    (void)loop, (void)max_bytes; /* the fetcher was made on this loop with this cap */
    fanout_fetch *ff = malloc(sizeof(*ff));
    if (!ff)
        return PT_ENOMEM;
    ff->done = done;
    ff->req = req;
    pt_fetch_request rq = {
        .url = url, .sink = PT_FETCH_MEMORY, .on_done = fanout_fetch_done, .ctx = ff};
    char err[256];
    int rc = pt_fetcher_add(ctx, &rq, err, sizeof(err));
    if (rc)
        free(ff); /* then done never runs */
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    pt_server_options so = {0};
    cli_run_opts ro = {0};
    const char *upstreams[MAX_UPSTREAMS];
    bool print_port = false;
    double port = 8080;
    int erc = cli_check_env("serve");
    if (erc >= 0)
        return erc;
    const char *envb = getenv("PTOOL_BACKEND");
    if (envb && *envb && pt_backend_parse(envb, &so.backend) != 0)
        return cli_usage_error("serve", "PTOOL_BACKEND: unknown backend '%s'", envb);

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return cli_finish_stdout(EXIT_OK);
        }
        if (!strcmp(a, "--print-port")) {
            print_port = true;
            continue;
        }
        /* Every other option takes a value, "--opt V" or "--opt=V". */
        const char *eq = strchr(a, '=');
        char name[40];
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (strncmp(a, "--", 2) != 0 || nlen >= sizeof(name))
            return cli_usage_error("serve", "unexpected argument '%s'", a);
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return cli_usage_error("serve", "%s needs a value", name);
            v = argv[++i];
        }
        double x;
        int rc = -1;
        if (!strcmp(name, "--host")) {
            so.host = v;
        } else if (!strcmp(name, "--port")) {
            rc = parse_num(name, v, 0, 65535, false, &port);
        } else if (!strcmp(name, "--backend")) {
            if (pt_backend_parse(v, &so.backend) != 0)
                return cli_usage_error("serve",
                                       "--backend: unknown backend '%s' (choose from serial, "
                                       "threads, processes, openmp, opencl, auto)",
                                       v);
        } else if (!strcmp(name, "--threads")) {
            if ((rc = parse_num(name, v, 1, 4096, false, &x)) < 0)
                ro.threads = so.threads = (unsigned)x;
        } else if (!strcmp(name, "--workers")) {
            if ((rc = parse_num(name, v, 1, 4096, false, &x)) < 0)
                so.workers = (unsigned)x;
        } else if (!strcmp(name, "--max-jobs")) {
            if ((rc = parse_num(name, v, 1, 65536, false, &x)) < 0)
                so.max_jobs = (unsigned)x;
        } else if (!strcmp(name, "--max-queued-jobs")) {
            if ((rc = parse_num(name, v, 1, 1e6, false, &x)) < 0)
                so.max_queued_jobs = (unsigned)x;
        } else if (!strcmp(name, "--max-connections")) {
            if ((rc = parse_num(name, v, 1, 1e6, false, &x)) < 0)
                so.max_connections = (unsigned)x;
        } else if (!strcmp(name, "--max-header")) {
            if ((rc = parse_num(name, v, 256, 1 << 20, false, &x)) < 0)
                so.max_header_bytes = (size_t)x;
        } else if (!strcmp(name, "--max-body")) {
            if ((rc = parse_num(name, v, 1, 1 << 30, false, &x)) < 0)
                so.max_body_bytes = (size_t)x;
        } else if (!strcmp(name, "--idle-timeout")) {
            if ((rc = parse_num(name, v, 0.001, 86400, true, &x)) < 0)
                so.idle_timeout_ms = (unsigned)(x * 1000 + 0.5);
        } else if (!strcmp(name, "--request-timeout")) {
            if ((rc = parse_num(name, v, 0.001, 86400, true, &x)) < 0)
                so.request_timeout_ms = (unsigned)(x * 1000 + 0.5);
        } else if (!strcmp(name, "--shutdown-timeout")) {
            if ((rc = parse_num(name, v, 0.001, 86400, true, &x)) < 0)
                so.shutdown_timeout_ms = (unsigned)(x * 1000 + 0.5);
        } else if (!strcmp(name, "--files")) {
            if (access(v, R_OK | X_OK) != 0)
                return cli_usage_error("serve", "--files: cannot read directory '%s': %s", v,
                                       strerror(errno));
            so.files_dir = v;
        } else if (!strcmp(name, "--upstream")) {
            if (so.nupstreams == MAX_UPSTREAMS)
                return cli_usage_error("serve", "--upstream: at most %d prefixes", MAX_UPSTREAMS);
            if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
                return cli_usage_error("serve", "--upstream: '%s' is not an http(s):// URL", v);
            upstreams[so.nupstreams++] = v;
        } else if (!strcmp(name, "--device")) {
            ro.device = v;
        } else if (!strcmp(name, "--cache-dir")) {
            ro.cache_dir = v;
        } else {
            return cli_usage_error("serve", "unknown option '%s'", a);
        }
        if (rc >= 0)
            return rc;
    }
    so.port = (unsigned)port;
    so.upstreams = upstreams;

    /* A peer that goes away must not kill the server with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    /* The runtime first: it forks the process pool while we have one thread. */
    pt_runtime *rt = NULL;
    int rc = cli_make_runtime(&ro, true, &rt);
    if (rc >= 0)
        return rc;
    uv_loop_t loop;
    if ((rc = uv_loop_init(&loop)) != 0) {
        cli_error("serve: uv_loop_init: %s", uv_strerror(rc));
        pt_runtime_destroy(rt);
        return EXIT_FAIL;
    }
    /* /fanout's fetch leg goes through io/'s fetcher on the same loop. */
    pt_fetcher *fetcher = NULL;
    if (so.nupstreams) {
        char ferr[256];
        pt_fetch_options fo = {.concurrency = 16,
                               .timeout_s = 10,
                               .max_bytes = so.max_file_bytes ? so.max_file_bytes : 1 << 20};
        if (pt_fetcher_create(&fetcher, &loop, &fo, ferr, sizeof(ferr)) != 0) {
            cli_error("serve: fetcher: %s", ferr);
            uv_loop_close(&loop);
            pt_runtime_destroy(rt);
            return EXIT_FAIL;
        }
        so.fetch = fanout_fetch_start;
        so.fetch_ctx = fetcher;
    }
    serve_state st = {.shutdown_ms = so.shutdown_timeout_ms ? so.shutdown_timeout_ms : 10000,
                      .fetcher = fetcher};
    so.on_stopped = on_stopped;
    so.on_stopped_arg = &st;
    char err[512];
    rc = pt_server_create(&st.srv, &loop, rt, &so, err, sizeof(err));
    if (rc) {
        cli_error("serve: %s", err);
        pt_fetcher_destroy(fetcher);
        uv_run(&loop, UV_RUN_DEFAULT); /* lets anything half-opened close */
        uv_loop_close(&loop);
        pt_runtime_destroy(rt);
        return rc == PT_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    uv_signal_init(&loop, &st.sigint);
    uv_signal_init(&loop, &st.sigterm);
    uv_timer_init(&loop, &st.hard);
    uv_unref((uv_handle_t *)&st.hard);
    st.sigint.data = st.sigterm.data = &st;
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);

    const char *host = so.host ? so.host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    cli_error("serve: listening on http://%s%s%s:%u (backend %s, %u threads)", v6 ? "[" : "", host,
              v6 ? "]" : "", pt_server_port(st.srv), pt_backend_name(so.backend),
              so.threads ? so.threads : pt_runtime_threads(rt));
    if (print_port) {
        printf("%u\n", pt_server_port(st.srv));
        fflush(stdout);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    pt_server_destroy(st.srv);
    uv_loop_close(&loop);
    pt_runtime_destroy(rt);
    if (!st.clean) {
        cli_error("serve: the shutdown deadline closed connections with requests in flight");
        return EXIT_FAIL;
    }
    cli_error("serve: stopped");
    return EXIT_OK;
}
