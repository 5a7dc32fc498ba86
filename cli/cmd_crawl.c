/* cmd_crawl.c - `ptool crawl SEED_URL... --depth D`: the course's
 * producer/consumer crawler (ptool/crawl.h): the fetcher fills a bounded
 * queue, parser threads empty it, one JSON line per page. See crawl_help()
 * for the contract. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include <ptool/crawl.h>

#include "cli.h"

#define CMD               "crawl"
#define DEFAULT_MAX_BYTES (8u * 1024u * 1024u)

static void crawl_help(FILE *f)
{
    fputs("Usage: ptool crawl [OPTIONS] SEED_URL...\n\n"
          "Crawls the web from the seed URLs: the course's producer/consumer crawler.\n"
          "An event loop fetches pages (libcurl on libuv, at most --concurrency at once)\n"
          "into a bounded queue; parser threads take them out, parse them with libxml2's\n"
          "HTML parser (the first <title>, <a href> and <area href>, <base href>), resolve\n"
          "the links against the page's URL after redirects and normalise them (fragment\n"
          "dropped, host in lower case, '.' and '..' segments and default ports removed);\n"
          "the loop follows each http(s) URL once. When the parsers fall behind and the\n"
          "queue is full, fetching pauses (backpressure): at most --queue plus\n"
          "--concurrency fetched pages wait for a parser, so memory stays bounded on any\n"
          "site, but for the URLs seen and those waiting to be fetched, which grow with\n"
          "the site (bounded by --max-pages).\n\n"
          "Only text/html and application/xhtml+xml responses (by Content-Type) are\n"
          "parsed; other files are fetched and recorded. Depth is the shortest number of\n"
          "links from a seed (seeds: 0), whatever order pages arrive in.\n\n",
          f);
    fputs("Options:\n"
          "  --depth D                follow links up to D links from a seed (default: 1;\n"
          "                           0 = the seeds only) [0..1000000]\n"
          "  --same-host              follow only links to a seed's host and port (the\n"
          "                           scheme's default port when none is given)\n"
          "  --max-pages N            fetch at most N URLs (default: no limit); which pages\n"
          "                           of the last level are fetched then depends on timing\n"
          "  --concurrency N          transfers at once (default: 10) [1..10000]\n"
          "  --parsers N              parser threads (default: the number of CPUs) [1..1024]\n"
          "  --queue N                fetched pages that may wait for a parser before\n"
          "                           fetching pauses (default: 4 x parsers, at least 8)\n"
          "                           [1..1000000]\n"
          "  --max-bytes N            fail a page whose body is larger than N bytes;\n"
          "                           suffixes K, M, G (default: 8M)\n"
          "  --retries N              retry a page up to N times on connection errors,\n"
          "                           timeouts, 408, 429 and 5xx (default: 0) [0..100]\n"
          "  --timeout SECONDS        limit on each attempt (default: none)\n"
          "  --connect-timeout SECONDS  limit on connecting (default: 30)\n"
          "  --max-redirects N        follow at most N redirects; 0 = do not follow\n"
          "                           (default: 10)\n"
          "  -k, --insecure           do not verify TLS certificates (test servers only)\n"
          "  --cacert FILE            trust the CA certificates in FILE (PEM)\n"
          "  -o, --output FILE        write the JSON lines to FILE instead of stdout; FILE\n"
          "                           appears only when the crawl has ended (written under\n"
          "                           a temporary name, renamed at the end)\n"
          "  --json                   JSON lines (the default, and the only format)\n"
          "  -h, --help               this help\n\n",
          f);
    fputs("Output: one JSON object per line and page, in the order pages complete:\n"
          "  {\"url\": \"http://h/a.html\", \"depth\": 1, \"status\": 200, \"title\": \"A\",\n"
          "   \"links\": 12, \"bytes\": 5120, \"seconds\": 0.0021, \"type\": \"text/html\"}\n"
          "status is the HTTP status (null: no response); title null when the page has\n"
          "none or is not HTML; links counts the page's distinct http(s) links; type is\n"
          "the Content-Type (null if none). \"effective_url\" is added when the page was\n"
          "redirected, \"error\" (one line) when the page failed. A summary follows on\n"
          "stderr; when stderr is a terminal, a progress line too.\n\n"
          "A page fails when it cannot be fetched (a network error, a status other than\n"
          "2xx, a body above --max-bytes, a redirect loop) or parsed (text that is not\n"
          "valid in the character set the page declares).\n\n"
          "Ctrl-C (SIGINT) or SIGTERM stops the crawl: running transfers are aborted (no\n"
          "line for them), pages already fetched are still parsed and written, then the\n"
          "summary; with --output the file is not created (nothing partial is left). A\n"
          "second signal ends ptool at once.\n\n"
          "Exit status: 0 every page succeeded; 1 at least one page failed (the output is\n"
          "complete), or the output could not be written; 2 bad usage (nothing fetched);\n"
          "130 interrupted.\n\n"
          "Examples:\n"
          "  ptool crawl https://example.org/ --depth 2 --same-host\n"
          "  ptool crawl http://127.0.0.1:8080/ --depth 50 --concurrency 50 -o pages.jsonl\n",
          f);
}

/* --- options ------------------------------------------------------------------------ */

typedef struct crawl_args {
    pt_crawl_options co;
    const char **seeds;
    size_t nseeds;
    unsigned parsers;
    const char *output;
} crawl_args;

static int parse_args(int argc, char **argv, crawl_args *a)
{
    bool only_urls = false;
    a->co.max_depth = 1;
    a->co.fetch.max_bytes = DEFAULT_MAX_BYTES;
    if (!(a->seeds = calloc((size_t)argc + 1, sizeof(*a->seeds)))) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (only_urls || arg[0] != '-' || !arg[1]) {
            a->seeds[a->nseeds++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_urls = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            crawl_help(stdout);
            return cli_finish_stdout(EXIT_OK);
        }
        int rc = -1;
        unsigned long long u;
        if (cli_opt_is(arg, "--depth", &val)) {
            CLI_TAKE_VALUE(CMD, "--depth");
            if ((rc = cli_parse_count(CMD, "--depth", val, 0, 1000000, &u)) < 0)
                a->co.max_depth = (unsigned)u;
        } else if (cli_opt_is(arg, "--same-host", &val) && !val) {
            a->co.same_host = true;
        } else if (cli_opt_is(arg, "--max-pages", &val)) {
            CLI_TAKE_VALUE(CMD, "--max-pages");
            if ((rc = cli_parse_count(CMD, "--max-pages", val, 1, UINT64_MAX, &u)) < 0)
                a->co.max_pages = u;
        } else if (cli_opt_is(arg, "--concurrency", &val)) {
            CLI_TAKE_VALUE(CMD, "--concurrency");
            if ((rc = cli_parse_count(CMD, "--concurrency", val, 1, 10000, &u)) < 0)
                a->co.fetch.concurrency = (unsigned)u;
        } else if (cli_opt_is(arg, "--parsers", &val)) {
            CLI_TAKE_VALUE(CMD, "--parsers");
            if ((rc = cli_parse_count(CMD, "--parsers", val, 1, 1024, &u)) < 0)
                a->parsers = (unsigned)u;
        } else if (cli_opt_is(arg, "--queue", &val)) {
            CLI_TAKE_VALUE(CMD, "--queue");
            if ((rc = cli_parse_count(CMD, "--queue", val, 1, 1000000, &u)) < 0)
                a->co.queue_capacity = (size_t)u;
        } else if (cli_opt_is(arg, "--max-bytes", &val)) {
            CLI_TAKE_VALUE(CMD, "--max-bytes");
            rc = cli_parse_bytes(CMD, "--max-bytes", val, &a->co.fetch.max_bytes);
        } else if (cli_opt_is(arg, "--retries", &val)) {
            CLI_TAKE_VALUE(CMD, "--retries");
            if ((rc = cli_parse_count(CMD, "--retries", val, 0, 100, &u)) < 0)
                a->co.fetch.retries = (unsigned)u;
        } else if (cli_opt_is(arg, "--timeout", &val)) {
            CLI_TAKE_VALUE(CMD, "--timeout");
            rc = cli_parse_seconds(CMD, "--timeout", val, &a->co.fetch.timeout_s);
        } else if (cli_opt_is(arg, "--connect-timeout", &val)) {
            CLI_TAKE_VALUE(CMD, "--connect-timeout");
            rc = cli_parse_seconds(CMD, "--connect-timeout", val, &a->co.fetch.connect_timeout_s);
        } else if (cli_opt_is(arg, "--max-redirects", &val)) {
            CLI_TAKE_VALUE(CMD, "--max-redirects");
            if ((rc = cli_parse_count(CMD, "--max-redirects", val, 0, 1000, &u)) < 0)
                a->co.fetch.max_redirects = u ? (int)u : -1;
        } else if (cli_opt_is(arg, "-k", &val) || (cli_opt_is(arg, "--insecure", &val) && !val)) {
            a->co.fetch.insecure = true;
        } else if (cli_opt_is(arg, "--cacert", &val)) {
            CLI_TAKE_VALUE(CMD, "--cacert");
            if (access(val, R_OK) != 0)
                return cli_usage_error(CMD, "--cacert %s: %s", val, strerror(errno));
            a->co.fetch.ca_file = val;
        } else if (cli_opt_is(arg, "-o", &val) || cli_opt_is(arg, "--output", &val)) {
            CLI_TAKE_VALUE(CMD, "--output");
            if (!*val)
                return cli_usage_error(CMD, "--output: empty file name");
            a->output = strcmp(val, "-") ? val : NULL;
        } else if (cli_opt_is(arg, "--json", &val) && !val) {
            /* the default */
        } else {
            return cli_usage_error(CMD, "unknown option '%s'", arg);
        }
        if (rc >= 0)
            return rc;
    }
    if (a->nseeds == 0)
        return cli_usage_error(CMD, "no seed URLs: give at least one http(s) URL");
    a->co.seeds = a->seeds;
    a->co.nseeds = a->nseeds;
    return -1;
}

/* --- the output file: a temporary name, renamed when complete ------------------------- */

typedef struct outfile {
    const char *path; /* the final name; NULL: stdout */
    char *tmp;        /* the temporary name while it exists */
    FILE *f;
} outfile;

/* Creates the temporary file next to path. -1, or EXIT_USAGE after a
 * message. */
static int out_open(outfile *o, const char *path)
{
    o->path = path;
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return cli_usage_error(CMD, "--output %s: a directory name, not a file", path);
    size_t len = strlen(path) + 64;
    if (!(o->tmp = malloc(len))) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    snprintf(o->tmp, len, "%.*s.%s.part-%ld", (int)dirlen, path, base, (long)getpid());
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        return cli_usage_error(CMD, "--output %s: cannot create a file there: %s", path,
                               strerror(e));
    }
    return -1;
}

/* Removes the temporary file (interrupted, failed). */
static void out_discard(outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
}

/* Closes and renames the file into place: 0, or -1 after a message (the
 * temporary file is then removed). */
static int out_commit(outfile *o)
{
    int e = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        e = errno ? errno : EIO;
    if (fclose(o->f) != 0 && !e)
        e = errno;
    o->f = NULL;
    if (!e && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e) {
        cli_error("crawl: --output %s: %s", o->path, strerror(e));
        out_discard(o);
        return -1;
    }
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

/* --- the run ------------------------------------------------------------------------ */

typedef struct run {
    uv_loop_t loop;
    pt_crawler *c;
    FILE *out;
    outfile file;
    uint64_t t0; /* uv_hrtime() at the start */
    uv_signal_t sigint, sigterm;
    uv_timer_t tick;
    bool progress, progress_shown, dirty, interrupted, write_failed;
    bool ran; /* the crawl ran to its end (not interrupted) */
    unsigned max_depth_seen;
} run;

static void on_tick(uv_timer_t *t)
{
    run *r = t->data;
    if (r->dirty) {
        if (fflush(r->out) != 0)
            r->write_failed = true;
        r->dirty = false;
    }
    double el = (double)(uv_hrtime() - r->t0) / 1e9;
    if (!r->progress || el < 0.3)
        return;
    pt_crawl_stats st;
    pt_crawler_stats(r->c, &st);
    fprintf(stderr,
            "\r\033[K%llu pages (%llu failed), depth %u, %zu fetching, %zu waiting to parse, "
            "%.0f pages/s",
            (unsigned long long)st.reported, (unsigned long long)st.failed, st.depth,
            st.fetch.active, st.queued + st.held, el > 0 ? (double)st.reported / el : 0.0);
    fflush(stderr);
    r->progress_shown = true;
}

static void on_page(void *ctx, const pt_crawl_page *p)
{
    run *r = ctx;
    cli_progress_clear(&r->progress_shown);
    r->dirty = true;
    if (p->depth > r->max_depth_seen)
        r->max_depth_seen = p->depth;
    pt_json *j;
    if (pt_json_create(&j, cli_write_file, r->out, 0) != 0) {
        r->write_failed = true;
        return;
    }
    pt_json_object_begin(j);
    pt_json_key(j, "url");
    pt_json_str(j, p->url);
    pt_json_key(j, "depth");
    pt_json_uint(j, p->depth);
    pt_json_key(j, "status");
    if (p->http_status)
        pt_json_int(j, p->http_status);
    else
        pt_json_null(j);
    pt_json_key(j, "title");
    pt_json_str(j, p->title);
    pt_json_key(j, "links");
    pt_json_uint(j, p->nlinks);
    pt_json_key(j, "bytes");
    pt_json_uint(j, p->bytes);
    pt_json_key(j, "seconds");
    pt_json_double(j, p->seconds);
    pt_json_key(j, "type");
    pt_json_str(j, p->content_type);
    if (p->effective_url) {
        pt_json_key(j, "effective_url");
        pt_json_str(j, p->effective_url);
    }
    if (!p->ok) {
        pt_json_key(j, "error");
        pt_json_str(j, p->error);
    }
    pt_json_object_end(j);
    if (pt_json_finish(j) != 0)
        r->write_failed = true;
    pt_json_destroy(j);
}

static void on_finish(void *ctx)
{
    run *r = ctx;
    uv_stop(&r->loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    run *r = s->data;
    if (r->interrupted) {
        /* A second signal: die of it now, leaving no partial file. */
        out_discard(&r->file);
        uv_signal_stop(&r->sigint);
        uv_signal_stop(&r->sigterm);
        signal(signum, SIG_DFL);
        raise(signum);
        return;
    }
    r->interrupted = true;
    pt_crawler_stop(r->c); /* on_finish follows once the fetched pages are written */
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void print_summary(run *r, const pt_crawl_stats *st)
{
    double el = (double)(uv_hrtime() - r->t0) / 1e9;
    char b[32], t[32];
    cli_fmt_bytes((double)st->fetch.bytes, b, sizeof(b));
    cli_fmt_seconds(el, t, sizeof(t));
    fprintf(stderr,
            "ptool crawl: %s%llu page%s: %llu ok, %llu failed; %llu parsed as HTML, deepest "
            "level %u, %zu URLs seen",
            r->interrupted ? "interrupted: " : "", (unsigned long long)st->reported,
            st->reported == 1 ? "" : "s", (unsigned long long)st->ok,
            (unsigned long long)st->failed, (unsigned long long)st->parsed, r->max_depth_seen,
            st->seen);
    if (st->skipped)
        fprintf(stderr, ", %llu not fetched (--max-pages)", (unsigned long long)st->skipped);
    if (st->canceled)
        fprintf(stderr, ", %llu canceled", (unsigned long long)st->canceled);
    fprintf(stderr, "; %s in %s (%.0f pages/s)\n", b, t, el > 0 ? (double)st->reported / el : 0.0);
}

int cmd_crawl(int argc, char **argv)
{
    crawl_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        free(a.seeds);
        return rc;
    }
    run r;
    memset(&r, 0, sizeof(r));
    r.out = stdout;
    int exit_code = EXIT_FAIL;
    pt_pool *pool = NULL;
    char err[PT_ERRBUF_SIZE];

    if (a.output) {
        if ((rc = out_open(&r.file, a.output)) >= 0) {
            free(a.seeds);
            return rc;
        }
        r.out = r.file.f;
    }
    pt_pool_options po = {.threads = a.parsers};
    if ((rc = pt_pool_create(&pool, &po)) != 0) {
        cli_error("crawl: cannot start the parser threads: %s", pt_strerror(rc));
        goto out;
    }
    if ((rc = uv_loop_init(&r.loop)) != 0) {
        cli_error("crawl: cannot start the event loop: %s", uv_strerror(rc));
        goto out_pool;
    }
    a.co.on_page = on_page;
    a.co.on_finish = on_finish;
    a.co.ctx = &r;
    r.t0 = uv_hrtime();
    if ((rc = pt_crawler_create(&r.c, &r.loop, pool, &a.co, err, sizeof(err))) != 0) {
        cli_error("crawl: %s", err);
        exit_code = cli_exit_for(rc);
        uv_run(&r.loop, UV_RUN_NOWAIT); /* closes what was half made */
        goto out_loop;
    }
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigterm);
    r.sigint.data = r.sigterm.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_timer_init(&r.loop, &r.tick);
    r.tick.data = &r;
    r.progress = cli_stderr_tty();
    uv_timer_start(&r.tick, on_tick, 200, 200);

    pt_crawl_stats st;
    pt_crawler_stats(r.c, &st);
    if (!st.finished)
        uv_run(&r.loop, UV_RUN_DEFAULT); /* until on_finish */
    uv_timer_stop(&r.tick);
    cli_progress_clear(&r.progress_shown);
    pt_crawler_stats(r.c, &st);
    if (fflush(r.out) != 0 || ferror(r.out))
        r.write_failed = true;
    print_summary(&r, &st);
    if (r.write_failed)
        cli_error("crawl: error writing %s", a.output ? a.output : "the output");
    r.ran = !r.interrupted && !r.write_failed;
    exit_code = r.interrupted ? 130 : r.write_failed || st.failed != 0 ? EXIT_FAIL : EXIT_OK;

    pt_crawler_destroy(r.c);
    uv_close((uv_handle_t *)&r.sigint, on_closed);
    uv_close((uv_handle_t *)&r.sigterm, on_closed);
    uv_close((uv_handle_t *)&r.tick, on_closed);
    uv_run(&r.loop, UV_RUN_DEFAULT);
out_loop:
    if (uv_loop_close(&r.loop) != 0)
        cli_error("crawl: event loop still busy at exit");
out_pool:
    pt_pool_destroy(pool);
out:
    if (r.file.f) {
        /* The file appears only for a crawl that ran to its end. */
        if (r.ran) {
            if (out_commit(&r.file) != 0)
                exit_code = EXIT_FAIL;
        } else {
            out_discard(&r.file);
        }
    }
    free(a.seeds);
    if (a.output)
        return exit_code;
    return cli_finish_stdout(exit_code);
}
