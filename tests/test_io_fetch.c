/* test_io_fetch.c - the fetcher (ptool/fetch.h) against real servers that
 * each test starts on 127.0.0.1 and a free port: nginx over generated files
 * (every byte compared), and tests/fixtures/fault_server.py for faults
 * (slow, drip, reset mid-body, 500 then 200, 429 + Retry-After, redirect
 * loop, oversized body, server down). The concurrency cap is checked on the
 * server side (simultaneous connections that made a request).
 *
 * Timing is only asserted where the fault needs it, as lower bounds (a
 * Retry-After of 1 s must delay the retry by about 1 s), or as generous
 * upper bounds (a capped Retry-After of 100 s must not take 100 s).
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "fetch_internal.h"
#include "io_servers.h"
#include "ptool/error.h"
#include "ptool/fetch.h"

#define MAXN 256

/* What on_done saw for one transfer. */
typedef struct got {
    int calls;
    pt_fetch_status status;
    long http;
    int version;
    int curl_code;
    uint64_t bytes;
    unsigned retries, redirects;
    char msg[512];
    char eff[1024];
    char path[1024];
    char ctype[256];
    char *body;
    size_t body_len;
    /* callback sink */
    char *data;
    size_t data_len;
    int resets;
    int stop_after; /* on_data returns non-zero after this many bytes (0: never) */
} got;

static void on_done(void *ctx, pt_fetch_result *r)
{
    got *g = ctx;
    g->calls++;
    g->status = r->status;
    g->http = r->http_status;
    g->version = r->http_version;
    g->curl_code = r->curl_code;
    g->bytes = r->bytes;
    g->retries = r->retries;
    g->redirects = r->redirects;
    snprintf(g->msg, sizeof(g->msg), "%s", r->message);
    snprintf(g->eff, sizeof(g->eff), "%s", r->effective_url ? r->effective_url : "");
    snprintf(g->path, sizeof(g->path), "%s", r->path ? r->path : "");
    snprintf(g->ctype, sizeof(g->ctype), "%s", r->content_type ? r->content_type : "");
    g->body = r->body; /* take it */
    g->body_len = r->body_len;
    r->body = NULL;
}

static int on_data(void *ctx, const char *buf, size_t len)
{
    got *g = ctx;
    g->data = realloc(g->data, g->data_len + len + 1);
    cr_assert_not_null(g->data);
    memcpy(g->data + g->data_len, buf, len);
    g->data_len += len;
    return g->stop_after && g->data_len >= (size_t)g->stop_after;
}

static void on_reset(void *ctx)
{
    got *g = ctx;
    g->resets++;
    g->data_len = 0;
}

static void got_free(got *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pt_fetch_free(g[i].body);
        free(g[i].data);
    }
}

/* A fetcher on its own loop. */
typedef struct rig {
    uv_loop_t loop;
    pt_fetcher *f;
} rig;

static void rig_open(rig *r, const pt_fetch_options *o)
{
    cr_assert_eq(uv_loop_init(&r->loop), 0);
    char err[512] = "";
    int rc = pt_fetcher_create(&r->f, &r->loop, o, err, sizeof(err));
    cr_assert_eq(rc, 0, "pt_fetcher_create: %s (%s)", pt_strerror(rc), err);
}

static void rig_add(rig *r, const char *url, pt_fetch_sink sink, const char *path, got *g)
{
    pt_fetch_request req = {.url = url,
                            .sink = sink,
                            .path = path,
                            .on_data = sink == PT_FETCH_CALLBACK ? on_data : NULL,
                            .on_reset = on_reset,
                            .on_done = on_done,
                            .ctx = g};
    char err[512] = "";
    int rc = pt_fetcher_add(r->f, &req, err, sizeof(err));
    cr_assert_eq(rc, 0, "pt_fetcher_add %s: %s (%s)", url, pt_strerror(rc), err);
}

/* Runs the loop until the fetcher has nothing left. */
static void rig_run(rig *r)
{
    while (!pt_fetcher_idle(r->f))
        uv_run(&r->loop, UV_RUN_ONCE);
}

static void rig_close(rig *r)
{
    pt_fetcher_destroy(r->f);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&r->loop), 0, "handles left open on the loop");
}

static void expect_status(const got *g, pt_fetch_status want, const char *what)
{
    cr_assert_eq(g->calls, 1, "%s: on_done ran %d times", what, g->calls);
    cr_assert_eq(g->status, want, "%s: status %s (http %ld, curl %d: %s), expected %s", what,
                 pt_fetch_status_name(g->status), g->http, g->curl_code, g->msg,
                 pt_fetch_status_name(want));
}

#define SKIP_WITHOUT_FAULT()                                                                       \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_fault_available(why_, sizeof(why_)))                                               \
            cr_skip_test("fault server: unavailable: %s", why_);                                   \
    } while (0)

#define SKIP_WITHOUT_NGINX(tls)                                                                    \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_nginx_available(tls, why_, sizeof(why_)))                                          \
            cr_skip_test("nginx: unavailable: %s", why_);                                          \
    } while (0)

/* --- nginx: every byte, memory and files ---------------------------------------- */

static const char *const big_names[] = {"empty", "one", "kib", "mib"};
#define NBIG 4

Test(io_fetch, nginx_bodies_in_memory_match_the_files, .timeout = 180)
{
    SKIP_WITHOUT_NGINX(false);
    ts_nginx n;
    ts_nginx_start(&n, false);
    static got g[NBIG + TS_NGINX_SMALL];
    rig r;
    pt_fetch_options o = {.concurrency = 8};
    rig_open(&r, &o);
    char url[256], name[64];
    for (int i = 0; i < NBIG + TS_NGINX_SMALL; i++) {
        if (i < NBIG)
            snprintf(name, sizeof(name), "/%s", big_names[i]);
        else
            snprintf(name, sizeof(name), "/small/%d", i - NBIG);
        rig_add(&r, ts_url(n.port, name, url, sizeof(url)), PT_FETCH_MEMORY, NULL, &g[i]);
    }
    rig_run(&r);
    pt_fetch_stats st;
    pt_fetcher_stats(r.f, &st);
    cr_assert_eq(st.done, NBIG + TS_NGINX_SMALL);
    cr_assert(st.max_active <= 8 && st.max_active >= 2, "max_active %zu", st.max_active);
    for (int i = 0; i < NBIG + TS_NGINX_SMALL; i++) {
        char path[512];
        if (i < NBIG)
            snprintf(path, sizeof(path), "%s/%s", n.html, big_names[i]);
        else
            snprintf(path, sizeof(path), "%s/small/%d", n.html, i - NBIG);
        size_t len;
        char *want = ts_read_file(path, &len);
        cr_assert_not_null(want);
        expect_status(&g[i], PT_FETCH_OK, path);
        cr_assert_eq(g[i].http, 200);
        cr_assert_eq(g[i].version, 11, "%s: HTTP version %d", path, g[i].version);
        cr_assert_eq(g[i].bytes, len, "%s: %llu bytes, file has %zu", path,
                     (unsigned long long)g[i].bytes, len);
        cr_assert_eq(g[i].body_len, len);
        cr_assert(len == 0 || memcmp(g[i].body, want, len) == 0, "%s: body differs", path);
        cr_assert(len > 0 || g[i].body == NULL);
        free(want);
    }
    got_free(g, NBIG + TS_NGINX_SMALL);
    rig_close(&r);
    ts_nginx_stop(&n);
}

Test(io_fetch, nginx_bodies_to_files_match_and_leave_no_temporaries, .timeout = 180)
{
    SKIP_WITHOUT_NGINX(false);
    ts_nginx n;
    ts_nginx_start(&n, false);
    char dir[256];
    ts_mkdtemp("out", dir, sizeof(dir));
    /* An existing file is replaced. */
    char old[512];
    snprintf(old, sizeof(old), "%s/mib", dir);
    ts_write_file(old, "old", 3);
    static got g[NBIG + 50];
    rig r;
    pt_fetch_options o = {.concurrency = 5};
    rig_open(&r, &o);
    char url[256], name[64], path[512];
    for (int i = 0; i < NBIG + 50; i++) {
        if (i < NBIG) {
            snprintf(name, sizeof(name), "/%s", big_names[i]);
            snprintf(path, sizeof(path), "%s/%s", dir, big_names[i]);
        } else {
            snprintf(name, sizeof(name), "/small/%d", i - NBIG);
            snprintf(path, sizeof(path), "%s/s%d", dir, i - NBIG);
        }
        rig_add(&r, ts_url(n.port, name, url, sizeof(url)), PT_FETCH_FILE, path, &g[i]);
    }
    rig_run(&r);
    for (int i = 0; i < NBIG + 50; i++) {
        char src[512];
        if (i < NBIG) {
            snprintf(src, sizeof(src), "%s/%s", n.html, big_names[i]);
            snprintf(path, sizeof(path), "%s/%s", dir, big_names[i]);
        } else {
            snprintf(src, sizeof(src), "%s/small/%d", n.html, i - NBIG);
            snprintf(path, sizeof(path), "%s/s%d", dir, i - NBIG);
        }
        expect_status(&g[i], PT_FETCH_OK, path);
        cr_assert_str_eq(g[i].path, path);
        size_t a, b;
        char *want = ts_read_file(src, &a), *have = ts_read_file(path, &b);
        cr_assert_not_null(have, "%s missing", path);
        cr_assert_eq(a, b, "%s: %zu bytes, expected %zu", path, b, a);
        cr_assert(memcmp(want, have, a) == 0, "%s: content differs", path);
        free(want);
        free(have);
    }
    size_t hidden;
    cr_assert_eq(ts_count_entries(dir, &hidden), NBIG + 50);
    cr_assert_eq(hidden, 0, "temporary files left in %s", dir);
    got_free(g, NBIG + 50);
    rig_close(&r);
    ts_rmtree(dir);
    ts_nginx_stop(&n);
}

/* --- TLS and HTTP/2 ---------------------------------------------------------------- */

Test(io_fetch, tls_is_verified_and_http2_is_used_when_offered, .timeout = 180)
{
    SKIP_WITHOUT_NGINX(true);
    ts_nginx n;
    ts_nginx_start(&n, true);
    char url[256];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/kib", n.tls_port);
    char src[512];
    snprintf(src, sizeof(src), "%s/kib", n.html);
    size_t len;
    char *want = ts_read_file(src, &len);

    /* Default: the self-signed certificate is rejected. */
    got g1 = {0};
    rig r;
    rig_open(&r, NULL);
    rig_add(&r, url, PT_FETCH_MEMORY, NULL, &g1);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g1, PT_FETCH_ETLS, "default verification");

    /* Trusting the certificate: HTTP/2, several transfers. */
    got g2[6] = {0};
    pt_fetch_options o = {.ca_file = n.ca_file, .concurrency = 6};
    rig_open(&r, &o);
    for (int i = 0; i < 6; i++)
        rig_add(&r, url, PT_FETCH_MEMORY, NULL, &g2[i]);
    rig_run(&r);
    rig_close(&r);
    for (int i = 0; i < 6; i++) {
        expect_status(&g2[i], PT_FETCH_OK, "with ca_file");
        cr_assert_eq(g2[i].version, 20, "HTTP version %d, expected 2", g2[i].version);
        cr_assert_eq(g2[i].body_len, len);
        cr_assert(memcmp(g2[i].body, want, len) == 0);
    }

    /* insecure: verification off. */
    got g3 = {0};
    pt_fetch_options o3 = {.insecure = true};
    rig_open(&r, &o3);
    rig_add(&r, url, PT_FETCH_MEMORY, NULL, &g3);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g3, PT_FETCH_OK, "insecure");
    cr_assert_eq(g3.version, 20);
    free(want);
    got_free(&g1, 1);
    got_free(g2, 6);
    got_free(&g3, 1);
    ts_nginx_stop(&n);
}

/* --- concurrency and connection reuse ------------------------------------------------ */

Test(io_fetch, concurrency_cap_holds_on_the_server_side, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    enum { N = 24, CAP = 4 };
    static got g[N];
    rig r;
    pt_fetch_options o = {.concurrency = CAP};
    rig_open(&r, &o);
    char url[256], path[64];
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/slow/300?ms=150&i=%d", i);
        rig_add(&r, ts_url(s.port, path, url, sizeof(url)), PT_FETCH_MEMORY, NULL, &g[i]);
    }
    rig_run(&r);
    for (int i = 0; i < N; i++) {
        expect_status(&g[i], PT_FETCH_OK, "slow");
        cr_assert(g[i].body_len == 300 && ts_is_pattern((unsigned char *)g[i].body, 300));
    }
    long max_active = ts_fault_stat(&s, "max_active");
    long requests = ts_fault_stat(&s, "requests");
    pt_fetch_stats st;
    pt_fetcher_stats(r.f, &st);
    cr_assert_eq(requests, N);
    cr_assert(max_active <= CAP, "the server saw %ld connections at once, cap %d", max_active, CAP);
    cr_assert(max_active >= 2, "the server never saw two transfers at once (%ld)", max_active);
    cr_assert(st.max_active <= CAP && st.max_active >= 2, "fetcher max_active %zu", st.max_active);
    got_free(g, N);
    rig_close(&r);
    ts_fault_stop(&s);
}

Test(io_fetch, connections_are_kept_alive_and_reused, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    enum { N = 60, CAP = 3 };
    static got g[N];
    rig r;
    pt_fetch_options o = {.concurrency = CAP};
    rig_open(&r, &o);
    char url[256];
    for (int i = 0; i < N; i++)
        rig_add(&r, ts_url(s.port, "/bytes/100", url, sizeof(url)), PT_FETCH_DISCARD, NULL, &g[i]);
    rig_run(&r);
    for (int i = 0; i < N; i++) {
        expect_status(&g[i], PT_FETCH_OK, "bytes");
        cr_assert_eq(g[i].bytes, 100);
    }
    long conns = ts_fault_stat(&s, "connections") - 1; /* minus the /stats one */
    cr_assert(conns >= 1 && conns <= CAP, "%d requests used %ld connections (cap %d)", N, conns,
              CAP);
    rig_close(&r);
    ts_fault_stop(&s);
}

/* --- retries ------------------------------------------------------------------------- */

Test(io_fetch, http_500_then_200_is_retried, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    got ok = {0}, out = {0}, nf = {0}, impl = {0};
    rig r;
    pt_fetch_options o = {.retries = 3, .retry_base_ms = 20};
    rig_open(&r, &o);
    char url[256];
    rig_add(&r, ts_url(s.port, "/flaky/a?fail=2&len=1000", url, sizeof(url)), PT_FETCH_MEMORY, NULL,
            &ok);
    rig_add(&r, ts_url(s.port, "/flaky/b?fail=10&code=503", url, sizeof(url)), PT_FETCH_MEMORY,
            NULL, &out);
    rig_add(&r, ts_url(s.port, "/status/404", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &nf);
    rig_add(&r, ts_url(s.port, "/flaky/c?fail=10&code=501", url, sizeof(url)), PT_FETCH_MEMORY,
            NULL, &impl);
    rig_run(&r);
    expect_status(&ok, PT_FETCH_OK, "500, 500, 200");
    cr_assert_eq(ok.retries, 2);
    cr_assert(ok.body_len == 1000 && ts_is_pattern((unsigned char *)ok.body, 1000));
    cr_assert_eq(ts_fault_hits(&s, "/flaky/a", 0, NULL), 3);

    expect_status(&out, PT_FETCH_EHTTP, "503 every time");
    cr_assert_eq(out.http, 503);
    cr_assert_eq(out.retries, 3);
    cr_assert_eq(ts_fault_hits(&s, "/flaky/b", 0, NULL), 4);
    cr_assert_null(out.body, "a failed transfer has no body");
    cr_assert(strstr(out.msg, "503"), "message: %s", out.msg);

    expect_status(&nf, PT_FETCH_EHTTP, "404");
    cr_assert_eq(nf.http, 404);
    cr_assert_eq(nf.retries, 0, "a 404 is not retried");
    cr_assert_str_eq(nf.msg, "HTTP 404 Not Found");

    expect_status(&impl, PT_FETCH_EHTTP, "501");
    cr_assert_eq(impl.retries, 0, "a 501 is not retried");
    got_free(&ok, 1);
    rig_close(&r);
    ts_fault_stop(&s);
}

Test(io_fetch, http_429_waits_for_retry_after, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    got secs = {0}, date = {0}, capped = {0};
    rig r;
    pt_fetch_options o = {.retries = 2, .retry_base_ms = 10, .retry_after_max_ms = 1500};
    rig_open(&r, &o);
    char url[256];
    rig_add(&r, ts_url(s.port, "/busy/s?fail=1&after=1", url, sizeof(url)), PT_FETCH_MEMORY, NULL,
            &secs);
    rig_add(&r, ts_url(s.port, "/busy/d?fail=1&after=1&date=1", url, sizeof(url)), PT_FETCH_MEMORY,
            NULL, &date);
    rig_add(&r, ts_url(s.port, "/busy/c?fail=1&after=100", url, sizeof(url)), PT_FETCH_MEMORY, NULL,
            &capped);
    rig_run(&r);
    double gap = 0;
    expect_status(&secs, PT_FETCH_OK, "Retry-After: 1");
    cr_assert_eq(secs.retries, 1);
    cr_assert_eq(ts_fault_hits(&s, "/busy/s", 0, &gap), 2);
    cr_assert(gap >= 0.9, "retried after %.3f s, Retry-After said 1 s", gap);

    expect_status(&date, PT_FETCH_OK, "Retry-After: HTTP date");
    cr_assert_eq(ts_fault_hits(&s, "/busy/d", 0, &gap), 2);
    cr_assert(gap >= 0.9, "retried after %.3f s, the date was >= 1 s ahead", gap);

    expect_status(&capped, PT_FETCH_OK, "Retry-After: 100, capped at 1.5 s");
    cr_assert_eq(ts_fault_hits(&s, "/busy/c", 0, &gap), 2);
    cr_assert(gap >= 1.3 && gap < 30, "retried after %.3f s, the cap is 1.5 s", gap);
    got_free(&secs, 1);
    got_free(&date, 1);
    got_free(&capped, 1);
    rig_close(&r);
    ts_fault_stop(&s);
}

Test(io_fetch, backoff_doubles_with_jitter_and_is_capped)
{
    uint64_t rng = 12345;
    for (int k = 0; k < 200; k++) {
        uint64_t d1 = pt__fetch_backoff_ms(1, 100, 1000, &rng);
        uint64_t d3 = pt__fetch_backoff_ms(3, 100, 1000, &rng);
        uint64_t d9 = pt__fetch_backoff_ms(9, 100, 1000, &rng);
        cr_assert(d1 >= 50 && d1 <= 100, "retry 1: %llu", (unsigned long long)d1);
        cr_assert(d3 >= 200 && d3 <= 400, "retry 3: %llu", (unsigned long long)d3);
        cr_assert(d9 >= 500 && d9 <= 1000, "retry 9: %llu", (unsigned long long)d9);
    }
}

Test(io_fetch, reset_mid_body_fails_or_retries_from_scratch, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char dir[256];
    ts_mkdtemp("out", dir, sizeof(dir));
    char p1[512], p2[512], url[256];
    snprintf(p1, sizeof(p1), "%s/fails", dir);
    snprintf(p2, sizeof(p2), "%s/retried", dir);
    got fails = {0}, retried = {0}, cb = {0};
    rig r;
    pt_fetch_options o0 = {.retries = 0};
    rig_open(&r, &o0);
    /* 600000 of 1000000 bytes, then RST: more than one buffer went to disk. */
    rig_add(&r, ts_url(s.port, "/reset/x?n=600000&len=1000000", url, sizeof(url)), PT_FETCH_FILE,
            p1, &fails);
    rig_run(&r);
    rig_close(&r);
    expect_status(&fails, PT_FETCH_ERECV, "reset, no retries");
    cr_assert(strstr(fails.msg, "reset") || strstr(fails.msg, "Recv"), "message: %s", fails.msg);
    cr_assert_eq(access(p1, F_OK), -1, "a partial file exists");

    pt_fetch_options o2 = {.retries = 2, .retry_base_ms = 10};
    rig_open(&r, &o2);
    rig_add(&r, ts_url(s.port, "/reset/y?fail=1&n=600000&len=1000000", url, sizeof(url)),
            PT_FETCH_FILE, p2, &retried);
    rig_add(&r, ts_url(s.port, "/reset/z?fail=1&n=600000&len=1000000", url, sizeof(url)),
            PT_FETCH_CALLBACK, NULL, &cb);
    rig_run(&r);
    rig_close(&r);
    expect_status(&retried, PT_FETCH_OK, "reset once, then whole");
    cr_assert_eq(retried.retries, 1);
    size_t len;
    unsigned char *data = (unsigned char *)ts_read_file(p2, &len);
    cr_assert_not_null(data);
    cr_assert_eq(len, 1000000, "file has %zu bytes", len);
    cr_assert(ts_is_pattern(data, len), "file content differs");
    free(data);
    expect_status(&cb, PT_FETCH_OK, "callback sink, reset once");
    cr_assert_eq(cb.resets, 1, "on_reset ran %d times", cb.resets);
    cr_assert_eq(cb.data_len, 1000000);
    cr_assert(ts_is_pattern((unsigned char *)cb.data, cb.data_len));
    size_t hidden;
    cr_assert_eq(ts_count_entries(dir, &hidden), 1);
    cr_assert_eq(hidden, 0);
    got_free(&cb, 1);
    ts_rmtree(dir);
    ts_fault_stop(&s);
}

Test(io_fetch, server_down_is_a_connect_error_and_is_retried, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    /* A port nobody listens on: where a fault server listened a moment ago. */
    ts_fault s;
    ts_fault_start(&s);
    int port = s.port;
    ts_fault_stop(&s);
    got g = {0};
    rig r;
    pt_fetch_options o = {.retries = 2, .retry_base_ms = 10};
    rig_open(&r, &o);
    char url[256];
    rig_add(&r, ts_url(port, "/bytes/10", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &g);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g, PT_FETCH_ECONNECT, "server down");
    cr_assert_eq(g.retries, 2);
    cr_assert_eq(g.http, 0);
    cr_assert(strstr(g.msg, "onnect"), "message: %s", g.msg);
}

/* --- redirects ----------------------------------------------------------------------- */

Test(io_fetch, redirects_are_followed_and_a_loop_is_named, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    got loop = {0}, chain = {0};
    rig r;
    rig_open(&r, NULL);
    char url[256], want[256];
    rig_add(&r, ts_url(s.port, "/loop/a", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &loop);
    rig_add(&r, ts_url(s.port, "/chain/3", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &chain);
    rig_run(&r);
    rig_close(&r);
    expect_status(&loop, PT_FETCH_EREDIRECT, "/loop/a");
    cr_assert(strstr(loop.msg, "redirect loop"), "message: %s", loop.msg);
    expect_status(&chain, PT_FETCH_OK, "/chain/3");
    cr_assert_eq(chain.redirects, 3);
    cr_assert_str_eq(chain.eff, ts_url(s.port, "/bytes/100", want, sizeof(want)));
    cr_assert(chain.body_len == 100 && ts_is_pattern((unsigned char *)chain.body, 100));

    got longer = {0}, nofollow = {0};
    pt_fetch_options o = {.max_redirects = 2};
    rig_open(&r, &o);
    rig_add(&r, ts_url(s.port, "/chain/5", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &longer);
    rig_run(&r);
    rig_close(&r);
    expect_status(&longer, PT_FETCH_EREDIRECT, "/chain/5, max 2");
    cr_assert(strstr(longer.msg, "more than 2 redirects"), "message: %s", longer.msg);
    cr_assert_null(strstr(longer.msg, "loop"), "not a loop: %s", longer.msg);

    pt_fetch_options o2 = {.max_redirects = -1};
    rig_open(&r, &o2);
    rig_add(&r, ts_url(s.port, "/chain/1", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &nofollow);
    rig_run(&r);
    rig_close(&r);
    expect_status(&nofollow, PT_FETCH_EHTTP, "not following");
    cr_assert_eq(nofollow.http, 302);
    got_free(&chain, 1);
    ts_fault_stop(&s);
}

Test(io_fetch, a_reused_handle_reports_its_own_url_and_content_type, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    /* One slot: every transfer reuses the same easy handle. */
    static const char *const paths[] = {"/bytes/10", "/bytes/20", "/chain/1", "/bytes/30"};
    got g[4];
    memset(g, 0, sizeof(g));
    char url[4][256], want[256];
    rig r;
    pt_fetch_options o = {.concurrency = 1};
    rig_open(&r, &o);
    for (int i = 0; i < 4; i++)
        rig_add(&r, ts_url(s.port, paths[i], url[i], sizeof(url[i])), PT_FETCH_MEMORY, NULL, &g[i]);
    rig_run(&r);
    rig_close(&r);
    for (int i = 0; i < 4; i++) {
        expect_status(&g[i], PT_FETCH_OK, paths[i]);
        const char *eff = i == 2 ? ts_url(s.port, "/bytes/100", want, sizeof(want)) : url[i];
        cr_assert_str_eq(g[i].eff, eff, "%s: effective URL %s", paths[i], g[i].eff);
        cr_assert_str_eq(g[i].ctype, "application/octet-stream", "%s: Content-Type %s", paths[i],
                         g[i].ctype);
    }
    got_free(g, 4);
    ts_fault_stop(&s);
}

/* --- limits ---------------------------------------------------------------------------- */

Test(io_fetch, max_bytes_stops_large_bodies_with_or_without_length, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char dir[256];
    ts_mkdtemp("out", dir, sizeof(dir));
    got len = {0}, chunked = {0}, fits = {0}, fits_chunked = {0};
    char p1[512], p2[512], url[256];
    snprintf(p1, sizeof(p1), "%s/len", dir);
    snprintf(p2, sizeof(p2), "%s/chunked", dir);
    rig r;
    pt_fetch_options o = {.max_bytes = 300000, .retries = 2};
    rig_open(&r, &o);
    rig_add(&r, ts_url(s.port, "/bytes/300001", url, sizeof(url)), PT_FETCH_FILE, p1, &len);
    rig_add(&r, ts_url(s.port, "/bytes/600000?chunked=1", url, sizeof(url)), PT_FETCH_FILE, p2,
            &chunked);
    rig_add(&r, ts_url(s.port, "/bytes/300000", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &fits);
    rig_add(&r, ts_url(s.port, "/bytes/300000?chunked=1", url, sizeof(url)), PT_FETCH_MEMORY, NULL,
            &fits_chunked);
    rig_run(&r);
    rig_close(&r);
    expect_status(&len, PT_FETCH_ETOOBIG, "Content-Length over the limit");
    expect_status(&chunked, PT_FETCH_ETOOBIG, "chunked body over the limit");
    cr_assert_eq(len.retries, 0, "too big is not retried");
    cr_assert(chunked.bytes <= 300000);
    cr_assert(strstr(len.msg, "300000"), "message: %s", len.msg);
    expect_status(&fits, PT_FETCH_OK, "exactly the limit");
    expect_status(&fits_chunked, PT_FETCH_OK, "exactly the limit, chunked");
    cr_assert(fits_chunked.body_len == 300000 &&
              ts_is_pattern((unsigned char *)fits_chunked.body, 300000));
    cr_assert_eq(ts_count_entries(dir, NULL), 0, "files left after too-big bodies");
    got_free(&fits, 1);
    got_free(&fits_chunked, 1);
    ts_rmtree(dir);
    ts_fault_stop(&s);
}

Test(io_fetch, slow_drip_hits_the_total_timeout, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char dir[256], p[512], url[256];
    ts_mkdtemp("out", dir, sizeof(dir));
    snprintf(p, sizeof(p), "%s/drip", dir);
    got g = {0};
    rig r;
    pt_fetch_options o = {.timeout_s = 0.6};
    rig_open(&r, &o);
    rig_add(&r, ts_url(s.port, "/drip/100?ms=100", url, sizeof(url)), PT_FETCH_FILE, p, &g);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g, PT_FETCH_ETIMEOUT, "drip");
    cr_assert(g.bytes < 100, "%llu bytes", (unsigned long long)g.bytes);
    cr_assert_eq(ts_count_entries(dir, NULL), 0);
    ts_rmtree(dir);
    ts_fault_stop(&s);
}

/* --- the API ------------------------------------------------------------------------------ */

static int done_calls;
static void count_done(void *ctx, pt_fetch_result *r)
{
    (void)ctx;
    (void)r;
    done_calls++;
}

Test(io_fetch, bad_urls_and_requests_are_refused_without_callbacks)
{
    rig r;
    rig_open(&r, NULL);
    static const char *const bad[] = {"not a url", "ftp://example.org/x", "http://",
                                      "file:///etc/passwd", "example.org/no-scheme"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        pt_fetch_request req = {.url = bad[i], .on_done = count_done};
        int rc = pt_fetcher_add(r.f, &req, err, sizeof(err));
        cr_assert_eq(rc, PT_EINVAL, "%s: %s", bad[i], pt_strerror(rc));
        cr_assert(strstr(err, "bad URL"), "%s: message '%s'", bad[i], err);
    }
    char err[512] = "";
    pt_fetch_request nopath = {.url = "http://127.0.0.1/", .sink = PT_FETCH_FILE};
    cr_assert_eq(pt_fetcher_add(r.f, &nopath, err, sizeof(err)), PT_EINVAL);
    pt_fetch_request nodata = {.url = "http://127.0.0.1/", .sink = PT_FETCH_CALLBACK};
    cr_assert_eq(pt_fetcher_add(r.f, &nodata, err, sizeof(err)), PT_EINVAL);
    pt_fetch_request dirname = {.url = "http://127.0.0.1/", .sink = PT_FETCH_FILE, .path = "/tmp/"};
    cr_assert_eq(pt_fetcher_add(r.f, &dirname, err, sizeof(err)), PT_EISDIR);
    cr_assert(pt_fetcher_idle(r.f));
    rig_close(&r);
    cr_assert_eq(done_calls, 0, "a refused transfer must not call back");

    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_fetcher *f = NULL;
    pt_fetch_options bad_opts = {.timeout_s = -1};
    cr_assert_eq(pt_fetcher_create(&f, &loop, &bad_opts, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "timeout"), "%s", err);
    cr_assert_eq(pt_fetcher_create(NULL, &loop, NULL, err, sizeof(err)), PT_EINVAL);
    pt_fetcher_destroy(NULL);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

typedef struct pause_ctx {
    rig *r;
    ts_fault *s;
    int phase;
    size_t queued_seen, active_seen;
    long requests_seen;
} pause_ctx;

static void pause_check(uv_timer_t *t)
{
    pause_ctx *c = t->data;
    pt_fetch_stats st;
    pt_fetcher_stats(c->r->f, &st);
    c->queued_seen = st.queued;
    c->active_seen = st.active;
    c->requests_seen = ts_fault_stat(c->s, "requests");
    pt_fetcher_resume(c->r->f);
    uv_close((uv_handle_t *)t, NULL);
}

Test(io_fetch, pause_holds_new_transfers_until_resume, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    enum { N = 5 };
    got g[N] = {0};
    rig r;
    rig_open(&r, NULL);
    pt_fetcher_pause(r.f);
    char url[256];
    for (int i = 0; i < N; i++)
        rig_add(&r, ts_url(s.port, "/bytes/10", url, sizeof(url)), PT_FETCH_MEMORY, NULL, &g[i]);
    pause_ctx c = {.r = &r, .s = &s};
    uv_timer_t t;
    uv_timer_init(&r.loop, &t);
    t.data = &c;
    uv_timer_start(&t, pause_check, 300, 0);
    rig_run(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    cr_assert_eq(c.queued_seen, N, "queued while paused: %zu", c.queued_seen);
    cr_assert_eq(c.active_seen, 0);
    cr_assert_eq(c.requests_seen, 0, "the server saw requests while paused");
    for (int i = 0; i < N; i++)
        expect_status(&g[i], PT_FETCH_OK, "after resume");
    got_free(g, N);
    rig_close(&r);
    ts_fault_stop(&s);
}

typedef struct cancel_ctx {
    rig *r;
    int rc;
} cancel_ctx;

static void cancel_now(uv_timer_t *t)
{
    cancel_ctx *c = t->data;
    c->rc = pt_fetcher_cancel_all(c->r->f);
    uv_close((uv_handle_t *)t, NULL);
}

Test(io_fetch, cancel_all_ends_everything_and_removes_temporaries, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char dir[256], p[512], url[256];
    ts_mkdtemp("out", dir, sizeof(dir));
    enum { N = 8, CAP = 3 };
    static got g[N];
    rig r;
    pt_fetch_options o = {.concurrency = CAP, .retries = 3};
    rig_open(&r, &o);
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof(p), "%s/f%d", dir, i);
        /* 600000 bytes at once (written to a temporary file), then a stall. */
        rig_add(&r, ts_url(s.port, "/stall/600000?len=1000000", url, sizeof(url)), PT_FETCH_FILE, p,
                &g[i]);
    }
    cancel_ctx c = {.r = &r, .rc = 1};
    uv_timer_t t;
    uv_timer_init(&r.loop, &t);
    t.data = &c;
    uv_timer_start(&t, cancel_now, 1500, 0);
    rig_run(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    cr_assert_eq(c.rc, 0);
    int canceled = 0;
    for (int i = 0; i < N; i++) {
        expect_status(&g[i], PT_FETCH_ECANCELED, "canceled");
        canceled += g[i].bytes > 0;
    }
    cr_assert(canceled >= 1 && canceled <= CAP, "%d transfers had data", canceled);
    size_t hidden;
    cr_assert_eq(ts_count_entries(dir, &hidden), 0, "files left after cancel_all (%zu hidden)",
                 hidden);
    rig_close(&r);
    ts_rmtree(dir);
    ts_fault_stop(&s);
}

Test(io_fetch, a_data_callback_can_stop_its_transfer, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    got g = {.stop_after = 5000};
    rig r;
    rig_open(&r, NULL);
    char url[256];
    rig_add(&r, ts_url(s.port, "/bytes/100000", url, sizeof(url)), PT_FETCH_CALLBACK, NULL, &g);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g, PT_FETCH_EWRITE, "callback stop");
    cr_assert(strstr(g.msg, "callback"), "message: %s", g.msg);
    got_free(&g, 1);
    ts_fault_stop(&s);
}

Test(io_fetch, a_file_that_cannot_be_written_is_a_write_error, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    got g = {0};
    rig r;
    rig_open(&r, NULL);
    char url[256];
    rig_add(&r, ts_url(s.port, "/bytes/10", url, sizeof(url)), PT_FETCH_FILE,
            "/nonexistent-dir-ptool/x", &g);
    rig_run(&r);
    rig_close(&r);
    expect_status(&g, PT_FETCH_EWRITE, "missing directory");
    cr_assert(strstr(g.msg, "/nonexistent-dir-ptool/x"), "message names the file: %s", g.msg);
    ts_fault_stop(&s);
}

/* --- file names ----------------------------------------------------------------------------- */

Test(io_fetch, url_file_names_are_safe)
{
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"http://h/a/b.txt?x=1#frag", "b.txt"},
        {"http://h/", "index.html"},
        {"http://h", "index.html"},
        {"http://h/dir/", "index.html"},
        {"http://h/../../etc/passwd", "passwd"},
        {"http://h/x/%2e%2e", "_."},
        {"http://h/x/..%2f..%2fetc", "_._.._etc"},
        {"http://h/.hidden", "_hidden"},
        {"http://h/a%20b%3Bc", "a_b_c"},
        {"http://h/caf%C3%A9.html", "caf__.html"},
        {"http://h/a:b*c", "a_b_c"},
        {"not a url", "index.html"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        pt_fetch_url_filename(cases[i].url, buf, sizeof(buf));
        cr_assert_str_eq(buf, cases[i].want, "%s -> '%s', expected '%s'", cases[i].url, buf,
                         cases[i].want);
        cr_assert_null(strchr(buf, '/'));
    }
    char longurl[2048] = "http://h/";
    memset(longurl + 9, 'a', 1000);
    longurl[1009] = '\0';
    char buf[512];
    cr_assert_eq(strlen(pt_fetch_url_filename(longurl, buf, sizeof(buf))), 200);
    char tiny[4];
    cr_assert_str_eq(pt_fetch_url_filename("http://h/abcdef", tiny, sizeof(tiny)), "abc");
}
