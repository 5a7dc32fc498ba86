/* cmd_fetch.c - `ptool fetch URL... | -i FILE|-`: many HTTP(S) downloads at
 * once on one libuv loop (the course's asyncio + aiohttp + Semaphore crawler,
 * done with libcurl's multi interface). See fetch_help() for the contract. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include <ptool/fetch.h>

#include "cli.h"

#define CMD "fetch"

static void fetch_help(FILE *f)
{
    fputs("Usage: ptool fetch [OPTIONS] URL...\n"
          "       ptool fetch [OPTIONS] -i FILE|-\n\n"
          "Downloads many URLs at once on one event loop: libcurl's multi interface driven\n"
          "by libuv, no thread per request. At most --concurrency transfers run at the\n"
          "same time (the course's asyncio.Semaphore); the rest wait their turn, in order.\n"
          "Connections are kept alive and reused, HTTP/2 is used when an https server\n"
          "offers it, redirects are followed, TLS certificates are verified.\n\n"
          "Where the bodies go:\n"
          "  (default)                read and count them, keep nothing (a link checker)\n"
          "  --output-dir DIR         save each body in DIR (created if missing) under a\n"
          "                           name made from the URL's last path segment: query\n"
          "                           dropped, unsafe characters and a leading '.' made\n"
          "                           '_', 'index.html' for '/'. Two URLs never share a\n"
          "                           file: later ones get -1, -2... before the extension.\n"
          "                           A file from an earlier run with the same name is\n"
          "                           replaced. Files appear only when complete (written\n"
          "                           to a hidden temporary file, renamed at the end);\n"
          "                           a failed or interrupted download leaves nothing.\n"
          "  -o -                     write the bodies to stdout, each one whole, in the\n"
          "                           order they complete; the result lines then go to\n"
          "                           stderr\n"
          "Only 2xx responses count as success and are saved.\n\n",
          f);
    fputs("Options:\n"
          "  -i, --input FILE|-       read URLs from FILE ('-': stdin), one per line;\n"
          "                           blank lines and lines starting with '#' are skipped\n"
          "  --concurrency N          transfers at once (default: 10) [1..10000]\n"
          "  --retries N              retry a transfer up to N times (default: 0) when the\n"
          "                           connection failed or broke, it timed out, or the\n"
          "                           server said 408, 429 or 5xx; waits 0.25 s, 0.5 s,\n"
          "                           1 s... (with jitter, at most 10 s), or as long as a\n"
          "                           Retry-After header asks (at most 60 s) [0..100]\n"
          "  --timeout SECONDS        limit on each attempt, connect included (default:\n"
          "                           none)\n"
          "  --connect-timeout SECONDS  limit on connecting (default: 30)\n"
          "  --max-bytes N            fail a transfer whose body is larger than N bytes;\n"
          "                           suffixes K, M, G (powers of 1024) (default: none)\n"
          "  --max-redirects N        follow at most N redirects; 0 = do not follow\n"
          "                           (default: 10). A redirect loop is reported as such.\n"
          "  -k, --insecure           do not verify TLS certificates and host names (only\n"
          "                           for test servers: anyone on the path can then read\n"
          "                           and change the data)\n"
          "  --cacert FILE            trust the CA certificates in FILE (PEM) instead of\n"
          "                           the system's\n"
          "  --json                   one JSON object per URL (url, ok, result: ok|http|\n"
          "                           resolve|connect|timeout|recv|tls|too-big|redirect|\n"
          "                           write|bad-url, http_status, http_version, bytes,\n"
          "                           seconds, retries, redirects, effective_url, file,\n"
          "                           message), then {\"summary\": {...}}\n"
          "  -h, --help               this help\n\n"
          "Output: one line per URL as it completes:\n"
          "  ok     200      1024  0.003s  https://example.org/a.txt -> out/a.txt\n"
          "  failed 404       153  0.002s  https://example.org/b  (HTTP 404 Not Found)\n"
          "  failed   -         0  0.001s  htp://x  (bad URL: unsupported scheme 'htp' ...)\n"
          "(result, HTTP status, body bytes, seconds, URL, then the file or the reason and\n"
          "the retries used). A summary follows on stderr (with --json: a last JSON line).\n"
          "When stderr is a terminal a progress line shows done/total, bytes, rate and\n"
          "the time left; otherwise nothing else is printed.\n\n"
          "Ctrl-C (SIGINT) or SIGTERM stops cleanly: running transfers are aborted, their\n"
          "temporary files removed, the summary printed; URLs not finished get no line.\n"
          "A second one ends ptool at once.\n\n"
          "Exit status: 0 every URL succeeded; 1 at least one failed (a bad URL, an error\n"
          "status, a network error...); 2 bad usage (nothing fetched); 130 interrupted.\n\n"
          "Examples:\n"
          "  ptool fetch https://example.org/ https://example.com/\n"
          "  ptool fetch -i urls.txt --concurrency 50 --output-dir pages --retries 3\n"
          "  grep -v '^#' list | ptool fetch -i - --json > results.jsonl\n",
          f);
}

/* --- a set of file names used in this run ------------------------------------ */

typedef struct name_entry {
    char *name;
    unsigned long next; /* the next suffix to try when name comes again */
} name_entry;

typedef struct nameset {
    name_entry *slot;
    size_t cap, n;
} nameset;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Finds name, or adds it (copied) when add is set. NULL: out of memory, or
 * absent and not added. *added tells which. */
static name_entry *nameset_get(nameset *s, const char *name, bool add, bool *added)
{
    *added = false;
    if (add && (s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        name_entry *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i].name)
                continue;
            size_t j = hash_str(s->slot[i].name) & (ncap - 1);
            while (ns[j].name)
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slot[i];
        }
        free(s->slot);
        s->slot = ns;
        s->cap = ncap;
    }
    size_t j = hash_str(name) & (s->cap - 1);
    while (s->slot[j].name) {
        if (!strcmp(s->slot[j].name, name))
            return &s->slot[j];
        j = (j + 1) & (s->cap - 1);
    }
    if (!add || !(s->slot[j].name = strdup(name)))
        return NULL;
    s->slot[j].next = 1;
    s->n++;
    *added = true;
    return &s->slot[j];
}

static void nameset_free(nameset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i].name);
    free(s->slot);
}

/* A name for url not used before in this run, into buf: the URL's own, or
 * with -1, -2... before the extension. -1: out of memory. */
static int unique_name(nameset *s, const char *url, char *buf, size_t len)
{
    char base[256];
    bool added;
    pt_fetch_url_filename(url, base, sizeof(base));
    name_entry *e = nameset_get(s, base, true, &added);
    if (!e)
        return -1;
    snprintf(buf, len, "%s", base);
    if (added)
        return 0;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    /* Start where the last collision on this name stopped: n copies of one
     * URL cost O(n), not O(n^2). */
    for (unsigned long k = e->next;; k++) {
        snprintf(buf, len, "%.*s-%lu%s", (int)stem, base, k, base + stem);
        if (!nameset_get(s, buf, true, &added))
            return -1;
        if (added) {
            /* the table may have moved: look the base up again */
            name_entry *b = nameset_get(s, base, false, &added);
            if (b)
                b->next = k + 1;
            return 0;
        }
    }
}

/* --- the run ------------------------------------------------------------------ */

typedef struct run {
    uv_loop_t loop;
    pt_fetcher *f;
    FILE *report; /* result lines: stdout, or stderr with -o - */
    bool json, to_stdout;
    bool adding; /* still adding URLs: do not stop the loop yet */
    bool interrupted;
    size_t added, done, ok, failed, canceled;
    uint64_t bytes, retries;
    uint64_t t0;  /* uv_hrtime() at the start */
    size_t total; /* URLs given */
    uv_signal_t sigint, sigterm;
    uv_timer_t tick;
    bool progress, progress_shown, signals_on;
    bool dirty;      /* result lines written since the last flush */
    bool closing;    /* tearing down: the last uv_run must not stop early */
    size_t rejected; /* URLs pt_fetcher_add() refused (bad URLs) */
} run;

/* Every 200 ms: flush the result lines (stdio buffers them fully when
 * stdout is a file or a pipe; a write per line would cost more than the
 * request), and redraw the progress line on a terminal. */
static void on_tick(uv_timer_t *t)
{
    run *r = t->data;
    if (r->dirty) {
        fflush(r->report);
        r->dirty = false;
    }
    double el0 = (double)(uv_hrtime() - r->t0) / 1e9;
    if (!r->progress || el0 < 0.3)
        return;
    pt_fetch_stats st;
    pt_fetcher_stats(r->f, &st);
    double el = (double)(uv_hrtime() - r->t0) / 1e9;
    char b[32], rate[32], eta[32] = "?";
    cli_fmt_bytes((double)st.bytes, b, sizeof(b));
    cli_fmt_bytes(el > 0 ? (double)st.bytes / el : 0, rate, sizeof(rate));
    size_t done = r->done + r->rejected;
    if (r->done > 0 && el > 0)
        cli_fmt_seconds((double)(r->total - done) * el / (double)r->done, eta, sizeof(eta));
    fprintf(stderr, "\r\033[K%zu/%zu done, %zu running, %s, %s/s, about %s left", done, r->total,
            st.active, b, rate, eta);
    fflush(stderr);
    r->progress_shown = true;
}

static const char *http_version_str(int v)
{
    switch (v) {
    case 10:
        return "1.0";
    case 11:
        return "1.1";
    case 20:
        return "2";
    case 30:
        return "3";
    default:
        return NULL;
    }
}

/* Decimal digits of v into buf (24 bytes); returns buf. */
static char *put_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* Copies s to p padded with spaces to width (on the right when left is
 * set); returns the end. s must be shorter than 64 bytes. */
static char *put_padded(char *p, const char *s, size_t width, bool left)
{
    size_t n = strlen(s), pad = n < width ? width - n : 0;
    if (!left)
        for (; pad; pad--)
            *p++ = ' ';
    memcpy(p, s, n);
    p += n;
    for (; pad; pad--)
        *p++ = ' ';
    return p;
}

/* One result line (text or JSON) on r->report. kind/message describe a
 * failure; res may be NULL for a URL that was never added. */
static void report(run *r, const char *url, const pt_fetch_result *res, const char *kind,
                   const char *message)
{
    cli_progress_clear(&r->progress_shown);
    r->dirty = true;
    bool ok = res && res->status == PT_FETCH_OK;
    if (r->json) {
        pt_json *j;
        if (pt_json_create(&j, cli_write_file, r->report, 0) != 0)
            return;
        pt_json_object_begin(j);
        pt_json_key(j, "url");
        pt_json_str(j, url);
        pt_json_key(j, "ok");
        pt_json_bool(j, ok);
        pt_json_key(j, "result");
        pt_json_str(j, kind);
        pt_json_key(j, "http_status");
        if (res && res->http_status)
            pt_json_int(j, res->http_status);
        else
            pt_json_null(j);
        pt_json_key(j, "http_version");
        pt_json_str(j, res ? http_version_str(res->http_version) : NULL);
        pt_json_key(j, "bytes");
        pt_json_uint(j, res ? res->bytes : 0);
        pt_json_key(j, "seconds");
        pt_json_double(j, res ? res->seconds : 0.0);
        pt_json_key(j, "retries");
        pt_json_uint(j, res ? res->retries : 0);
        pt_json_key(j, "redirects");
        pt_json_uint(j, res ? res->redirects : 0);
        pt_json_key(j, "effective_url");
        pt_json_str(j, res ? res->effective_url : NULL);
        pt_json_key(j, "file");
        pt_json_str(j, res ? res->path : NULL);
        pt_json_key(j, "message");
        pt_json_str(j, ok ? NULL : message);
        pt_json_object_end(j);
        pt_json_finish(j);
        pt_json_destroy(j);
        return;
    }
    /* The common line, formatted by hand: printf's generic path cost ~4,000
     * instructions a line, 5% of a small-file fetch. Same layout as
     * "%-6s %3s %9llu  %.4fs  %s". */
    char head[96], *p = head;
    p = put_padded(p, ok ? "ok" : "failed", 6, true);
    *p++ = ' ';
    char num[24];
    if (res && res->http_status > 0 && res->http_status < 1000000)
        p = put_padded(p, put_u64(num, (uint64_t)res->http_status), 3, false);
    else
        p = put_padded(p, "-", 3, false);
    *p++ = ' ';
    p = put_padded(p, put_u64(num, res ? res->bytes : 0), 9, false);
    *p++ = ' ';
    *p++ = ' ';
    uint64_t tenk = (uint64_t)((res ? res->seconds : 0.0) * 1e4 + 0.5); /* 1e-4 s units */
    p = put_padded(p, put_u64(num, tenk / 10000), 1, false);
    *p++ = '.';
    put_u64(num, 10000 + tenk % 10000); /* "1xxxx": four digits with leading zeros */
    memcpy(p, num + 1, 4);
    p += 4;
    memcpy(p, "s  ", 3);
    p += 3;
    fwrite(head, 1, (size_t)(p - head), r->report);
    fputs(url, r->report);
    if (ok && res->path) {
        fputs(" -> ", r->report);
        fputs(res->path, r->report);
    }
    if (!ok) {
        fputs("  (", r->report);
        fputs(message, r->report);
    }
    unsigned retries = res ? res->retries : 0;
    if (retries)
        fprintf(r->report, "%s%u retr%s", ok ? "  (" : "; ", retries, retries == 1 ? "y" : "ies");
    if (!ok || retries)
        fputc(')', r->report);
    fputc('\n', r->report);
}

static void maybe_stop(run *r)
{
    if (!r->adding && !r->closing && r->done == r->added)
        uv_stop(&r->loop);
}

static void on_done(void *ctx, pt_fetch_result *res)
{
    run *r = ctx;
    r->done++;
    r->bytes += res->bytes;
    r->retries += res->retries;
    if (res->status == PT_FETCH_ECANCELED) {
        r->canceled++; /* interrupted: no line for it */
    } else {
        if (res->status == PT_FETCH_OK) {
            r->ok++;
            if (r->to_stdout && res->body_len)
                fwrite(res->body, 1, res->body_len, stdout);
        } else {
            r->failed++;
        }
        report(r, res->url, res, pt_fetch_status_name(res->status), res->message);
    }
    maybe_stop(r);
}

static void on_signal(uv_signal_t *s, int signum)
{
    run *r = s->data;
    if (r->interrupted) {
        /* A second signal: die of it now (documented in --help). */
        uv_signal_stop(&r->sigint);
        uv_signal_stop(&r->sigterm);
        signal(signum, SIG_DFL);
        raise(signum);
        return;
    }
    r->interrupted = true;
    pt_fetcher_cancel_all(r->f);
    maybe_stop(r);
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

/* --- input ---------------------------------------------------------------------- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static int strv_push(strv *s, const char *str, size_t len)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, nc * sizeof(*nv));
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = nc;
    }
    char *d = malloc(len + 1);
    if (!d)
        return -1;
    memcpy(d, str, len);
    d[len] = '\0';
    s->v[s->n++] = d;
    return 0;
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Reads URLs from path ("-": stdin). -1, or an exit status after a message. */
static int read_urls(const char *path, strv *urls)
{
    bool is_stdin = !strcmp(path, "-");
    FILE *in = is_stdin ? stdin : fopen(path, "r");
    if (!in)
        return cli_usage_error(CMD, "--input %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = -1;
    while ((n = getline(&line, &cap, in)) >= 0) {
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t'))
            len--;
        if (!len || s[0] == '#')
            continue;
        if (strv_push(urls, s, len) != 0) {
            cli_error("out of memory");
            rc = EXIT_FAIL;
            break;
        }
    }
    if (rc < 0 && ferror(in))
        rc = cli_usage_error(CMD, "--input %s: read error: %s", path, strerror(errno));
    free(line);
    if (!is_stdin)
        fclose(in);
    return rc;
}

/* --- options ---------------------------------------------------------------------- */

typedef struct fetch_args {
    pt_fetch_options fo;
    strv urls;
    const char *outdir;
    bool to_stdout, json;
} fetch_args;

static int parse_args(int argc, char **argv, fetch_args *a)
{
    bool only_urls = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (only_urls || arg[0] != '-') {
            if (strv_push(&a->urls, arg, strlen(arg)) != 0) {
                cli_error("out of memory");
                return EXIT_FAIL;
            }
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_urls = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fetch_help(stdout);
            return cli_finish_stdout(EXIT_OK);
        }
        int rc = -1;
        unsigned long long u;
        if (cli_opt_is(arg, "-i", &val) || cli_opt_is(arg, "--input", &val)) {
            CLI_TAKE_VALUE(CMD, "--input");
            rc = read_urls(val, &a->urls);
        } else if (cli_opt_is(arg, "-o", &val) || cli_opt_is(arg, "--output", &val)) {
            CLI_TAKE_VALUE(CMD, "-o");
            if (strcmp(val, "-") != 0)
                return cli_usage_error(CMD,
                                       "-o: '%s': only '-' (stdout) is supported; use "
                                       "--output-dir DIR to save files",
                                       val);
            a->to_stdout = true;
        } else if (cli_opt_is(arg, "--output-dir", &val)) {
            CLI_TAKE_VALUE(CMD, "--output-dir");
            if (!*val)
                return cli_usage_error(CMD, "--output-dir: empty directory name");
            a->outdir = val;
        } else if (cli_opt_is(arg, "--concurrency", &val)) {
            CLI_TAKE_VALUE(CMD, "--concurrency");
            if ((rc = cli_parse_count(CMD, "--concurrency", val, 1, 10000, &u)) < 0)
                a->fo.concurrency = (unsigned)u;
        } else if (cli_opt_is(arg, "--retries", &val)) {
            CLI_TAKE_VALUE(CMD, "--retries");
            if ((rc = cli_parse_count(CMD, "--retries", val, 0, 100, &u)) < 0)
                a->fo.retries = (unsigned)u;
        } else if (cli_opt_is(arg, "--timeout", &val)) {
            CLI_TAKE_VALUE(CMD, "--timeout");
            rc = cli_parse_seconds(CMD, "--timeout", val, &a->fo.timeout_s);
        } else if (cli_opt_is(arg, "--connect-timeout", &val)) {
            CLI_TAKE_VALUE(CMD, "--connect-timeout");
            rc = cli_parse_seconds(CMD, "--connect-timeout", val, &a->fo.connect_timeout_s);
        } else if (cli_opt_is(arg, "--max-bytes", &val)) {
            CLI_TAKE_VALUE(CMD, "--max-bytes");
            rc = cli_parse_bytes(CMD, "--max-bytes", val, &a->fo.max_bytes);
        } else if (cli_opt_is(arg, "--max-redirects", &val)) {
            CLI_TAKE_VALUE(CMD, "--max-redirects");
            if ((rc = cli_parse_count(CMD, "--max-redirects", val, 0, 1000, &u)) < 0)
                a->fo.max_redirects = u ? (int)u : -1;
        } else if (cli_opt_is(arg, "-k", &val) || (cli_opt_is(arg, "--insecure", &val) && !val)) {
            a->fo.insecure = true;
        } else if (cli_opt_is(arg, "--cacert", &val)) {
            CLI_TAKE_VALUE(CMD, "--cacert");
            if (access(val, R_OK) != 0)
                return cli_usage_error(CMD, "--cacert %s: %s", val, strerror(errno));
            a->fo.ca_file = val;
        } else if (cli_opt_is(arg, "--json", &val) && !val) {
            a->json = true;
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", arg);
        }
        if (rc >= 0)
            return rc;
    }
    if (a->to_stdout && a->outdir)
        return cli_usage_error(CMD, "-o - and --output-dir exclude each other");
    if (a->urls.n == 0)
        return cli_usage_error(CMD, "no URLs: give them as arguments or with -i FILE|-");
    if (a->outdir) {
        struct stat st;
        if (stat(a->outdir, &st) != 0) {
            if (errno != ENOENT || mkdir(a->outdir, 0777) != 0)
                return cli_usage_error(CMD, "--output-dir %s: %s", a->outdir, strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            return cli_usage_error(CMD, "--output-dir %s: not a directory", a->outdir);
        }
    }
    return -1;
}

static void print_summary(run *r)
{
    double el = (double)(uv_hrtime() - r->t0) / 1e9;
    double rps = el > 0 ? (double)(r->ok + r->failed) / el : 0;
    if (r->json) {
        pt_json *j;
        if (pt_json_create(&j, cli_write_file, r->report, 0) != 0)
            return;
        pt_json_object_begin(j);
        pt_json_key(j, "summary");
        pt_json_object_begin(j);
        pt_json_key(j, "urls");
        pt_json_uint(j, r->total);
        pt_json_key(j, "ok");
        pt_json_uint(j, r->ok);
        pt_json_key(j, "failed");
        pt_json_uint(j, r->failed);
        pt_json_key(j, "canceled");
        pt_json_uint(j, r->canceled);
        pt_json_key(j, "retries");
        pt_json_uint(j, r->retries);
        pt_json_key(j, "bytes");
        pt_json_uint(j, r->bytes);
        pt_json_key(j, "seconds");
        pt_json_double(j, el);
        pt_json_key(j, "requests_per_s");
        pt_json_double(j, rps);
        pt_json_key(j, "interrupted");
        pt_json_bool(j, r->interrupted);
        pt_json_object_end(j);
        pt_json_object_end(j);
        pt_json_finish(j);
        pt_json_destroy(j);
        return;
    }
    char b[32], t[32];
    cli_fmt_bytes((double)r->bytes, b, sizeof(b));
    cli_fmt_seconds(el, t, sizeof(t));
    fflush(stdout);
    if (r->interrupted)
        fprintf(stderr,
                "ptool fetch: interrupted: %zu of %zu URLs done: %zu ok, %zu failed, %zu "
                "canceled; %s in %s\n",
                r->ok + r->failed, r->total, r->ok, r->failed, r->total - r->ok - r->failed, b, t);
    else
        fprintf(stderr,
                "ptool fetch: %zu URL%s: %zu ok, %zu failed, %llu retr%s; %s in %s (%.0f "
                "req/s)\n",
                r->total, r->total == 1 ? "" : "s", r->ok, r->failed,
                (unsigned long long)r->retries, r->retries == 1 ? "y" : "ies", b, t, rps);
}

int cmd_fetch(int argc, char **argv)
{
    fetch_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        strv_free(&a.urls);
        return rc;
    }
    run r;
    memset(&r, 0, sizeof(r));
    r.json = a.json;
    r.to_stdout = a.to_stdout;
    r.report = a.to_stdout ? stderr : stdout;
    r.total = a.urls.n;
    nameset names = {0};
    char err[PT_ERRBUF_SIZE];
    int exit_code = EXIT_FAIL;

    if ((rc = uv_loop_init(&r.loop)) != 0) {
        cli_error("fetch: cannot start the event loop: %s", uv_strerror(rc));
        goto out;
    }
    if ((rc = pt_fetcher_create(&r.f, &r.loop, &a.fo, err, sizeof(err))) != 0) {
        cli_error("fetch: %s", err);
        exit_code = cli_exit_for(rc);
        goto out_loop;
    }
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigterm);
    r.sigint.data = r.sigterm.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_unref((uv_handle_t *)&r.sigint);
    uv_unref((uv_handle_t *)&r.sigterm);
    r.signals_on = true;
    uv_timer_init(&r.loop, &r.tick);
    r.tick.data = &r;
    r.progress = cli_stderr_tty();
    uv_timer_start(&r.tick, on_tick, 200, 200);
    uv_unref((uv_handle_t *)&r.tick);
    r.t0 = uv_hrtime();
    r.adding = true;
    for (size_t i = 0; i < a.urls.n; i++) {
        const char *url = a.urls.v[i];
        char path[4096];
        pt_fetch_request req = {
            .url = url,
            .sink = a.to_stdout ? PT_FETCH_MEMORY : PT_FETCH_DISCARD,
            .on_done = on_done,
            .ctx = &r,
        };
        if (a.outdir) {
            char name[256];
            if (unique_name(&names, url, name, sizeof(name)) != 0) {
                cli_error("out of memory");
                break;
            }
            snprintf(path, sizeof(path), "%s%s%s", a.outdir,
                     a.outdir[strlen(a.outdir) - 1] == '/' ? "" : "/", name);
            req.sink = PT_FETCH_FILE;
            req.path = path;
        }
        rc = pt_fetcher_add(r.f, &req, err, sizeof(err));
        if (rc == 0) {
            r.added++;
        } else {
            r.failed++;
            r.rejected++;
            report(&r, url, NULL, rc == PT_EINVAL ? "bad-url" : "error", err);
        }
        free(a.urls.v[i]); /* the fetcher has its own copy */
        a.urls.v[i] = NULL;
        /* Let the loop breathe while a long list is queued: start what can
         * start, handle a Ctrl-C. */
        if ((i & 1023) == 1023)
            uv_run(&r.loop, UV_RUN_NOWAIT);
        if (r.interrupted)
            break;
    }
    r.adding = false;
    if (r.done < r.added)
        uv_run(&r.loop, UV_RUN_DEFAULT);
    if (r.interrupted)
        pt_fetcher_cancel_all(r.f); /* URLs still being added when it came */
    uv_timer_stop(&r.tick);
    cli_progress_clear(&r.progress_shown);
    print_summary(&r);
    exit_code = r.interrupted ? 130 : (r.failed || r.ok < r.total) ? EXIT_FAIL : EXIT_OK;

    r.closing = true;
    pt_fetcher_destroy(r.f);
    uv_close((uv_handle_t *)&r.sigint, on_closed);
    uv_close((uv_handle_t *)&r.sigterm, on_closed);
    uv_close((uv_handle_t *)&r.tick, on_closed);
    uv_run(&r.loop, UV_RUN_DEFAULT);
out_loop:
    if (uv_loop_close(&r.loop) != 0)
        cli_error("fetch: event loop still busy at exit");
out:
    nameset_free(&names);
    strv_free(&a.urls);
    if (r.to_stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error("error writing output: %s", strerror(errno));
            return EXIT_FAIL;
        }
        return exit_code;
    }
    return cli_finish_stdout(exit_code);
}
