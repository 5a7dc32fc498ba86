/* test_io_fetch_cli.c - `ptool fetch` end to end: the built binary
 * ($PTOOL_BIN) against nginx and the fault server, both started by each
 * test. Checks what a user sees: exit statuses (0 all ok, 1 any failed,
 * 2 bad usage, 130 interrupted), one line per URL, files that match byte
 * for byte under safe, distinct names, and no partial or temporary files
 * after failures or SIGINT.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io_servers.h"

#define DEADLINE 120.0

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The line of s that contains needle (copied into buf), or NULL. */
static const char *line_with(const char *s, const char *needle, char *buf, size_t len)
{
    while (*s) {
        size_t n = strcspn(s, "\n");
        if (n < len) {
            memcpy(buf, s, n);
            buf[n] = '\0';
            if (strstr(buf, needle))
                return buf;
        }
        s += n + (s[n] == '\n');
    }
    return NULL;
}

/* The result line of url (text output: the URL is followed by a space or
 * the end of the line), or a failed assertion. */
static const char *result_line(const ts_proc *p, const char *text, const char *url, char *buf,
                               size_t len)
{
    char needle[600];
    snprintf(needle, sizeof(needle), "  %s", url);
    const char *s = text;
    while (*s) {
        size_t n = strcspn(s, "\n");
        if (n < len) {
            memcpy(buf, s, n);
            buf[n] = '\0';
            const char *at = strstr(buf, needle);
            if (at && (at[strlen(needle)] == ' ' || at[strlen(needle)] == '\0'))
                return buf;
        }
        s += n + (s[n] == '\n');
    }
    cr_assert_fail("%s: no result line for %s in:\n%s\n--- stderr:\n%s", p->cmd, url, p->out,
                   p->err);
    return NULL;
}

static void expect_exit(const ts_proc *p, int code)
{
    cr_assert_eq(p->status, code, "%s: exit %d, expected %d\n--- stdout:\n%s--- stderr:\n%s",
                 p->cmd, p->status, code, p->out, p->err);
}

static void run(ts_proc *p, const char *in, const char *const *args)
{
    ts_ptool_start(p, in, args);
    ts_ptool_wait(p, DEADLINE);
}

static bool same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = ts_read_file(a, &la), *y = ts_read_file(b, &lb);
    bool same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

#define SKIP_WITHOUT_NGINX()                                                                       \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_nginx_available(false, why_, sizeof(why_)))                                        \
            cr_skip_test("nginx: unavailable: %s", why_);                                          \
    } while (0)

#define SKIP_WITHOUT_FAULT()                                                                       \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_fault_available(why_, sizeof(why_)))                                               \
            cr_skip_test("fault server: unavailable: %s", why_);                                   \
    } while (0)

/* --- success ------------------------------------------------------------------------ */

Test(io_fetch_cli, output_dir_gets_every_body_under_distinct_safe_names, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    char out[256];
    ts_mkdtemp("cli", out, sizeof(out));
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/pages", out); /* created by ptool */
    /* A URL list: the small files, three URLs whose names collide ("kib"),
     * a path with "..", the site's index, comments and blank lines. */
    char list[65536] = "# fetch test\n\n";
    size_t off = strlen(list);
    char url[256];
    for (int i = 0; i < 60; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/small/%d", i);
        off += (size_t)snprintf(list + off, sizeof(list) - off, "  %s \n",
                                ts_url(n.port, path, url, sizeof(url)));
    }
    static const char *const extra[] = {"/kib",   "/kib?again=1", "/site/../kib",
                                        "/site/", "/mib",         "/empty"};
    for (size_t i = 0; i < 6; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s\n# comment\n",
                                ts_url(n.port, extra[i], url, sizeof(url)));
    ts_proc p;
    run(&p, list, TS_ARGS("fetch", "-i", "-", "--output-dir", dir, "--concurrency", "7"));
    expect_exit(&p, 0);
    cr_assert_eq(count_lines(p.out), 66, "%s: %zu result lines:\n%s", p.cmd, count_lines(p.out),
                 p.out);
    char line[1024], want[512], have[512];
    for (int i = 0; i < 60; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/small/%d", i);
        result_line(&p, p.out, ts_url(n.port, path, url, sizeof(url)), line, sizeof(line));
        cr_assert(strncmp(line, "ok ", 3) == 0, "line: %s", line);
        snprintf(want, sizeof(want), "%s/small/%d", n.html, i);
        snprintf(have, sizeof(have), "%s/%d", dir, i);
        cr_assert(same_file(want, have), "%s differs from %s", have, want);
        cr_assert(strstr(line, have), "line does not name %s: %s", have, line);
    }
    snprintf(want, sizeof(want), "%s/kib", n.html);
    static const char *const kibs[] = {"kib", "kib-1", "kib-2"};
    for (int i = 0; i < 3; i++) {
        snprintf(have, sizeof(have), "%s/%s", dir, kibs[i]);
        cr_assert(same_file(want, have), "%s differs from %s", have, want);
    }
    snprintf(want, sizeof(want), "%s/site/index.html", n.html);
    snprintf(have, sizeof(have), "%s/index.html", dir);
    cr_assert(same_file(want, have), "%s differs from %s", have, want);
    snprintf(want, sizeof(want), "%s/mib", n.html);
    snprintf(have, sizeof(have), "%s/mib", dir);
    cr_assert(same_file(want, have), "%s differs", have);
    struct stat st;
    snprintf(have, sizeof(have), "%s/empty", dir);
    cr_assert(stat(have, &st) == 0 && st.st_size == 0, "empty file missing");
    size_t hidden;
    cr_assert_eq(ts_count_entries(dir, &hidden), 66);
    cr_assert_eq(hidden, 0, "temporary files left");
    cr_assert_eq(ts_count_entries(out, NULL), 1, "files written outside --output-dir");
    cr_assert(strstr(p.err, "66 URLs: 66 ok, 0 failed"), "summary: %s", p.err);
    ts_proc_free(&p);
    ts_rmtree(out);
    ts_nginx_stop(&n);
}

Test(io_fetch_cli, stdout_gets_the_bodies_and_json_the_results, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    char url[256], url2[256], want[512];
    ts_url(n.port, "/mib", url, sizeof(url));
    ts_proc p;
    run(&p, NULL, TS_ARGS("fetch", url, "-o", "-"));
    expect_exit(&p, 0);
    snprintf(want, sizeof(want), "%s/mib", n.html);
    size_t len;
    char *w = ts_read_file(want, &len);
    cr_assert_eq(p.outlen, len, "stdout has %zu bytes, the file %zu", p.outlen, len);
    cr_assert(memcmp(p.out, w, len) == 0, "stdout differs from the file");
    free(w);
    char line[1024];
    result_line(&p, p.err, url, line, sizeof(line));
    ts_proc_free(&p);

    ts_url(n.port, "/missing", url2, sizeof(url2));
    run(&p, NULL, TS_ARGS("fetch", "--json", url, url2));
    expect_exit(&p, 1);
    cr_assert_eq(count_lines(p.out), 3, "%s", p.out);
    cr_assert_not_null(line_with(p.out, "\"http_status\":200", line, sizeof(line)), "%s", p.out);
    cr_assert(strstr(line, "\"ok\":true") && strstr(line, "\"bytes\":1048576") &&
                  strstr(line, "\"http_version\":\"1.1\""),
              "%s", line);
    cr_assert_not_null(line_with(p.out, "\"http_status\":404", line, sizeof(line)), "%s", p.out);
    cr_assert(strstr(line, "\"ok\":false") && strstr(line, "\"result\":\"http\"") &&
                  strstr(line, "Not Found"),
              "%s", line);
    cr_assert_not_null(line_with(p.out, "\"summary\"", line, sizeof(line)));
    cr_assert(strstr(line, "\"ok\":1") && strstr(line, "\"failed\":1") &&
                  strstr(line, "\"interrupted\":false"),
              "%s", line);
    cr_assert_eq(p.errlen, 0, "stderr with --json: %s", p.err);
    ts_proc_free(&p);
    ts_nginx_stop(&n);
}

Test(io_fetch_cli, tls_is_verified_unless_told_and_http2_is_used, .timeout = 180)
{
    char why[256];
    if (!ts_nginx_available(true, why, sizeof(why)))
        cr_skip_test("nginx: unavailable: %s", why);
    ts_nginx n;
    ts_nginx_start(&n, true);
    char url[256], line[1024];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/kib", n.tls_port);
    ts_proc p;
    run(&p, NULL, TS_ARGS("fetch", url));
    expect_exit(&p, 1);
    result_line(&p, p.out, url, line, sizeof(line));
    cr_assert(strncmp(line, "failed", 6) == 0 && strstr(line, "certificate"), "%s", line);
    ts_proc_free(&p);

    run(&p, NULL, TS_ARGS("fetch", "--json", "--cacert", n.ca_file, url, url, url));
    expect_exit(&p, 0);
    cr_assert_eq(count_lines(p.out), 4, "%s", p.out);
    cr_assert_not_null(line_with(p.out, "\"http_version\":\"2\"", line, sizeof(line)),
                       "HTTP/2 not used: %s", p.out);
    ts_proc_free(&p);

    run(&p, NULL, TS_ARGS("fetch", "-k", url));
    expect_exit(&p, 0);
    ts_proc_free(&p);
    ts_nginx_stop(&n);
}

/* --- failures ------------------------------------------------------------------------ */

Test(io_fetch_cli, each_failure_has_its_line_and_exit_1, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char out[256];
    ts_mkdtemp("cli", out, sizeof(out));
    char ok[256], missing[256], drip[256], big[256], reset[256], loop[256], flaky[256], busy[256];
    ts_url(s.port, "/bytes/1000", ok, sizeof(ok));
    ts_url(s.port, "/status/404", missing, sizeof(missing));
    ts_url(s.port, "/drip/100?ms=100", drip, sizeof(drip));
    ts_url(s.port, "/bytes/600000", big, sizeof(big));
    ts_url(s.port, "/reset/r?n=300000&len=400000", reset, sizeof(reset));
    ts_url(s.port, "/loop/a", loop, sizeof(loop));
    ts_url(s.port, "/flaky/f?fail=2", flaky, sizeof(flaky));
    ts_url(s.port, "/busy/b?fail=1&after=1", busy, sizeof(busy));
    ts_proc p;
    run(&p, NULL,
        TS_ARGS("fetch", "--output-dir", out, "--timeout", "1.5", "--max-bytes", "500K",
                "--retries", "2", ok, missing, "bad://url", drip, big, reset, loop, flaky, busy));
    expect_exit(&p, 1);
    cr_assert_eq(count_lines(p.out), 9, "%s", p.out);
    char line[1024];
    cr_assert(strncmp(result_line(&p, p.out, ok, line, sizeof(line)), "ok ", 3) == 0, "%s", line);
    result_line(&p, p.out, missing, line, sizeof(line));
    cr_assert(strstr(line, "failed 404") && strstr(line, "HTTP 404"), "%s", line);
    result_line(&p, p.out, "bad://url", line, sizeof(line));
    cr_assert(strstr(line, "failed") && strstr(line, "bad URL"), "%s", line);
    result_line(&p, p.out, drip, line, sizeof(line));
    cr_assert(strstr(line, "failed") && strstr(line, "timed out") && strstr(line, "2 retries"),
              "%s", line);
    result_line(&p, p.out, big, line, sizeof(line));
    cr_assert(strstr(line, "failed") && strstr(line, "larger than"), "%s", line);
    result_line(&p, p.out, reset, line, sizeof(line));
    cr_assert(strstr(line, "failed") && strstr(line, "2 retries"), "%s", line);
    result_line(&p, p.out, loop, line, sizeof(line));
    cr_assert(strstr(line, "failed") && strstr(line, "redirect loop"), "%s", line);
    result_line(&p, p.out, flaky, line, sizeof(line));
    cr_assert(strncmp(line, "ok ", 3) == 0 && strstr(line, "(2 retries)"), "%s", line);
    result_line(&p, p.out, busy, line, sizeof(line));
    cr_assert(strncmp(line, "ok ", 3) == 0 && strstr(line, "(1 retry)"), "%s", line);
    /* Only the three successes left files; nothing partial, nothing hidden. */
    size_t hidden;
    cr_assert_eq(ts_count_entries(out, &hidden), 3, "entries in %s", out);
    cr_assert_eq(hidden, 0);
    char f[512];
    snprintf(f, sizeof(f), "%s/1000", out);
    size_t len;
    unsigned char *d = (unsigned char *)ts_read_file(f, &len);
    cr_assert(d && len == 1000 && ts_is_pattern(d, len), "%s", f);
    free(d);
    cr_assert(strstr(p.err, "9 URLs: 3 ok, 6 failed"), "summary: %s", p.err);
    ts_proc_free(&p);
    ts_rmtree(out);
    ts_fault_stop(&s);
}

Test(io_fetch_cli, server_down_fails_with_exit_1, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char url[256];
    ts_url(s.port, "/bytes/10", url, sizeof(url));
    ts_fault_stop(&s);
    ts_proc p;
    run(&p, NULL, TS_ARGS("fetch", url));
    expect_exit(&p, 1);
    char line[1024];
    result_line(&p, p.out, url, line, sizeof(line));
    cr_assert(strstr(line, "failed   -") && strstr(line, "onnect"), "%s", line);
    ts_proc_free(&p);
}

/* --- concurrency ------------------------------------------------------------------------ */

Test(io_fetch_cli, concurrency_is_capped_on_the_server_side, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char list[16384] = "";
    size_t off = 0;
    for (int i = 0; i < 15; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off,
                                "http://127.0.0.1:%d/slow/100?ms=200&i=%d\n", s.port, i);
    ts_proc p;
    run(&p, list, TS_ARGS("fetch", "-i", "-", "--concurrency", "3"));
    expect_exit(&p, 0);
    long max_active = ts_fault_stat(&s, "max_active");
    cr_assert(max_active <= 3, "the server saw %ld at once with --concurrency 3", max_active);
    cr_assert(max_active >= 2, "no parallelism seen (%ld)", max_active);
    cr_assert_eq(ts_fault_stat(&s, "requests"), 15);
    ts_proc_free(&p);
    ts_fault_stop(&s);
}

/* --- interruption --------------------------------------------------------------------- */

static void interrupt_run(int sig)
{
    ts_fault s;
    ts_fault_start(&s);
    char out[256];
    ts_mkdtemp("cli", out, sizeof(out));
    char list[8192] = "", url[256];
    size_t off = 0;
    off += (size_t)snprintf(list + off, sizeof(list) - off, "%s\n",
                            ts_url(s.port, "/bytes/2000", url, sizeof(url)));
    for (int i = 0; i < 8; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off,
                                "http://127.0.0.1:%d/stall/600000?len=1000000&i=%d\n", s.port, i);
    ts_proc p;
    ts_ptool_start(&p, list,
                   TS_ARGS("fetch", "-i", "-", "--output-dir", out, "--concurrency", "4"));
    /* Wait until the stalled transfers have started and sent data. */
    long reqs = 0;
    for (int i = 0; i < 3000 && reqs < 4; i++) {
        reqs = ts_fault_stat(&s, "requests");
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(reqs >= 4, "transfers did not start (%ld requests)", reqs);
    /* ... and the first URL's line is out (however slow the machine is). */
    char outpath[512];
    snprintf(outpath, sizeof(outpath), "%s/out", p.dir);
    bool line_out = false;
    for (int i = 0; i < 6000 && !line_out; i++) {
        char *o = ts_read_file(outpath, NULL);
        line_out = o && strchr(o, '\n');
        free(o);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert(line_out, "no result line for the first URL within 60 s");
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(p.pid, sig);
    ts_ptool_wait(&p, DEADLINE);
    expect_exit(&p, 130);
    cr_assert(strstr(p.err, "interrupted") && strstr(p.err, "1 ok"), "summary: %s", p.err);
    cr_assert_eq(count_lines(p.out), 1, "lines for canceled transfers: %s", p.out);
    size_t hidden;
    cr_assert_eq(ts_count_entries(out, &hidden), 1, "partial files left in %s", out);
    cr_assert_eq(hidden, 0, "temporary files left in %s", out);
    ts_proc_free(&p);
    ts_rmtree(out);
    ts_fault_stop(&s);
}

Test(io_fetch_cli, sigint_stops_cleanly_without_partial_files, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    interrupt_run(SIGINT);
}

Test(io_fetch_cli, sigterm_stops_cleanly_without_partial_files, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    interrupt_run(SIGTERM);
}

/* --- the progress line ------------------------------------------------------------------ */

Test(io_fetch_cli, progress_line_only_on_a_terminal, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char u1[256], u2[256], u3[256];
    ts_url(s.port, "/slow/10?ms=700&i=1", u1, sizeof(u1));
    ts_url(s.port, "/slow/10?ms=700&i=2", u2, sizeof(u2));
    ts_url(s.port, "/slow/10?ms=700&i=3", u3, sizeof(u3));

    /* Not a terminal: stderr holds the summary and nothing else. */
    ts_proc p;
    run(&p, NULL, TS_ARGS("fetch", "--concurrency", "1", u1, u2));
    expect_exit(&p, 0);
    cr_assert_eq(count_lines(p.err), 1, "stderr: %s", p.err);
    cr_assert(strncmp(p.err, "ptool fetch: 2 URLs", 19) == 0, "stderr: %s", p.err);
    cr_assert_null(strchr(p.err, '\r'), "a progress line on a non-terminal: %s", p.err);
    ts_proc_free(&p);

    /* A terminal: "done/total" progress, redrawn with \r. */
    char text[65536];
    int st = ts_ptool_tty(TS_ARGS("fetch", "--concurrency", "1", u1, u2, u3), text, sizeof(text));
    cr_assert_eq(st, 0, "exit status %d: %s", st, text);
    cr_assert(strstr(text, "/3 done") && strchr(text, '\r'), "no progress line: %s", text);
    cr_assert(strstr(text, "ptool fetch: 3 URLs: 3 ok"), "no summary: %s", text);
    ts_fault_stop(&s);
}

/* --- usage ------------------------------------------------------------------------------- */

static void expect_usage(const char *const *args, const char *needle)
{
    ts_proc p;
    run(&p, NULL, args);
    expect_exit(&p, 2);
    cr_assert_eq(p.outlen, 0, "%s: stdout not empty: %s", p.cmd, p.out);
    cr_assert(strncmp(p.err, "ptool fetch: ", 13) == 0 || strncmp(p.err, "ptool: ", 7) == 0,
              "%s: %s", p.cmd, p.err);
    cr_assert(strstr(p.err, needle), "%s: stderr lacks '%s': %s", p.cmd, needle, p.err);
    ts_proc_free(&p);
}

Test(io_fetch_cli, bad_usage_exits_2_with_one_message, .timeout = 120)
{
    expect_usage(TS_ARGS("fetch"), "no URLs");
    expect_usage(TS_ARGS("fetch", "-i", "/nonexistent/urls.txt"), "/nonexistent/urls.txt");
    expect_usage(TS_ARGS("fetch", "--concurrency", "0", "http://127.0.0.1/"), "--concurrency");
    expect_usage(TS_ARGS("fetch", "--concurrency", "x", "http://127.0.0.1/"), "--concurrency");
    expect_usage(TS_ARGS("fetch", "--retries", "-1", "http://127.0.0.1/"), "--retries");
    expect_usage(TS_ARGS("fetch", "--timeout", "soon", "http://127.0.0.1/"), "--timeout");
    expect_usage(TS_ARGS("fetch", "--max-bytes", "0", "http://127.0.0.1/"), "--max-bytes");
    expect_usage(TS_ARGS("fetch", "--max-bytes", "3X", "http://127.0.0.1/"), "--max-bytes");
    expect_usage(TS_ARGS("fetch", "-o", "file.txt", "http://127.0.0.1/"), "-o");
    expect_usage(TS_ARGS("fetch", "-o", "-", "--output-dir", "/tmp", "http://127.0.0.1/"),
                 "exclude");
    expect_usage(TS_ARGS("fetch", "--output-dir", "/etc/passwd", "http://127.0.0.1/"),
                 "not a directory");
    expect_usage(TS_ARGS("fetch", "--cacert", "/nonexistent.pem", "http://127.0.0.1/"), "--cacert");
    expect_usage(TS_ARGS("fetch", "--frobnicate", "http://127.0.0.1/"), "--frobnicate");
    expect_usage(TS_ARGS("fetch", "--timeout"), "needs a value");
    /* Only comments: no URLs. */
    ts_proc p;
    run(&p, "# nothing\n\n", TS_ARGS("fetch", "-i", "-"));
    expect_exit(&p, 2);
    ts_proc_free(&p);
}

Test(io_fetch_cli, help_explains_the_contract, .timeout = 60)
{
    ts_proc p;
    run(&p, NULL, TS_ARGS("fetch", "--help"));
    expect_exit(&p, 0);
    static const char *const needles[] = {
        "--concurrency", "--output-dir", "-o -",   "--retries",   "Retry-After", "--timeout",
        "--max-bytes",   "--insecure",   "--json", "Exit status", "130",         "SIGINT"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        cr_assert(strstr(p.out, needles[i]), "help lacks %s", needles[i]);
    ts_proc_free(&p);
    run(&p, NULL, TS_ARGS("--help"));
    cr_assert(strstr(p.out, "fetch"), "ptool --help does not list fetch");
    ts_proc_free(&p);
}

/* fetch, crawl and serve live in ptool-net.so, which ptool loads only when
 * one of them runs (cli/net.c). A ptool whose module is missing still runs
 * every other command, and a network command fails with one line that
 * names the module, exit 1, nothing on stdout. */
Test(io_fetch_cli, missing_network_module_is_one_clear_error, .timeout = 120)
{
    const char *bin = getenv("PTOOL_BIN");
    cr_assert(bin && *bin, "PTOOL_BIN is not set");
    char dir[256], copy[512], file[512];
    ts_mkdtemp("nomodule", dir, sizeof(dir));
    snprintf(copy, sizeof(copy), "%s/ptool", dir);
    size_t len;
    char *data = ts_read_file(bin, &len);
    ts_write_file(copy, data, len);
    free(data);
    cr_assert(chmod(copy, 0755) == 0);
    snprintf(file, sizeof(file), "%s/data.txt", dir);
    ts_write_file(file, "abc", 3);
    char *saved = strdup(bin);
    setenv("PTOOL_BIN", copy, 1);

    const char *const *const net[] = {TS_ARGS("fetch", "http://127.0.0.1:9/"),
                                      TS_ARGS("crawl", "--help"), TS_ARGS("serve", "--port", "0")};
    for (size_t i = 0; i < sizeof(net) / sizeof(net[0]); i++) {
        ts_proc p;
        run(&p, NULL, net[i]);
        expect_exit(&p, 1);
        cr_assert_eq(p.outlen, 0, "%s: stdout: %s", p.cmd, p.out);
        cr_assert_eq(count_lines(p.err), 1, "%s: stderr:\n%s", p.cmd, p.err);
        cr_assert(strstr(p.err, "ptool-net.so") && strstr(p.err, "missing") &&
                      strstr(p.err, net[i][0]),
                  "%s: stderr: %s", p.cmd, p.err);
        ts_proc_free(&p);
    }
    /* The other commands do not need the module. */
    ts_proc p;
    run(&p, NULL, TS_ARGS("hash", file));
    expect_exit(&p, 0);
    cr_assert(strstr(p.out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              "hash: %s", p.out);
    ts_proc_free(&p);
    run(&p, NULL, TS_ARGS("run", "isprime", "97"));
    expect_exit(&p, 0);
    cr_assert_str_eq(p.out, "97 prime\n");
    ts_proc_free(&p);

    setenv("PTOOL_BIN", saved, 1);
    free(saved);
    ts_rmtree(dir);
}
