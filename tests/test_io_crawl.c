/* test_io_crawl.c - the crawler (ptool/crawl.h) and `ptool crawl`.
 *
 * Suite io_crawl_parse: the parser thread's work without servers: HTML
 * parsed by libxml2 (title, links, <base>, nothing from scripts or
 * comments), links resolved and normalised, character sets.
 *
 * Suite io_crawl: the library against real servers started by each test on
 * 127.0.0.1 and a free port: nginx over a generated site of linked pages
 * (relative and absolute links, ../, fragments, duplicates, cycles, another
 * host name, a directory redirect, a non-HTML file, a broken link, a deep
 * chain, <base href>), whose exact set of URLs, titles and depths is
 * asserted; the fault server's generated link tree (slow pages) for the
 * concurrency cap, counted on the server side, for backpressure and for
 * stopping.
 *
 * Suite io_crawl_cli: the built `ptool crawl` ($PTOOL_BIN): JSON lines,
 * exit statuses, --output appearing only complete, SIGINT, usage errors.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "crawl_internal.h"
#include "io_servers.h"
#include "ptool/crawl.h"
#include "ptool/error.h"
#include "ptool/pool.h"

#define SKIP_WITHOUT_FAULT()                                                                       \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_fault_available(why_, sizeof(why_)))                                               \
            cr_skip_test("fault server: unavailable: %s", why_);                                   \
    } while (0)

#define SKIP_WITHOUT_NGINX()                                                                       \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!ts_nginx_available(false, why_, sizeof(why_)))                                        \
            cr_skip_test("nginx: unavailable: %s", why_);                                          \
    } while (0)

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A port nothing listens on (bound, then closed). */
static int dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    return ntohs(a.sin_port);
}

/* ================================================================================ */
/* io_crawl_parse: parsing and URLs                                                  */
/* ================================================================================ */

static void expect_links(const pt__crawl_doc *d, const char *const *want, size_t n)
{
    for (size_t i = 0; i < d->nlinks && i < n; i++)
        cr_expect_str_eq(d->links[i], want[i], "link %zu: %s, expected %s", i, d->links[i],
                         want[i]);
    cr_assert_eq(d->nlinks, n, "%zu links, expected %zu", d->nlinks, n);
}

Test(io_crawl_parse, title_and_links_come_from_a_real_html_parser)
{
    pt__crawl_xml_init();
    const char *html = "<!DOCTYPE html><html><head>\n"
                       "<title>\n  Fish &amp; Chips:   the\n  &lt;best&gt; </title>\n"
                       "<script>var s = '<a href=\"script.html\">no</a>';</script>\n"
                       "<style>a[href=\"style.html\"] { color: red }</style>\n"
                       "</head><body>\n"
                       "<!-- <a href=\"comment.html\">no</a> -->\n"
                       "<a href=\"a.html\">1</a>\n"
                       "<a href=\" ../up.html \">2</a>\n"
                       "<a href=\"a.html#frag\">duplicate</a>\n"
                       "<A HREF=\"/abs\">3</A>\n"
                       "<a href=\"//Other.Example.ORG/x\">4</a>\n"
                       "<a href=\"HTTPS://EXAMPLE.com:443/secure\">5</a>\n"
                       "<a href=\"http://example.com:8080/port\">6</a>\n"
                       "<a href=\"?q=2\">7</a>\n"
                       "<a href=\"#only\">the page itself</a>\n"
                       "<a href=\"\">the page itself again</a>\n"
                       "<a href=\"mailto:x@example.com\">no</a>\n"
                       "<a href=\"javascript:void(0)\">no</a>\n"
                       "<a href=\"ftp://example.com/f\">no</a>\n"
                       "<a href=\"data:text/html,hi\">no</a>\n"
                       "<a name=\"anchor\">no href</a>\n"
                       "<map><area href=\"map.html\" alt=\"m\"></map>\n"
                       "<a href=\"sp ace.html\">8</a>\n"
                       "<a href=\"a&#46;html\">duplicate through an entity</a>\n"
                       "<a href=caf&eacute;.html>9, unquoted</a>\n"
                       "<p>unclosed <b>markup <i>everywhere\n"
                       "<title>a second title</title>\n"
                       "</body></html>\n";
    pt__crawl_doc d;
    char err[256];
    int rc = pt__crawl_parse(html, strlen(html), "http://example.com/dir/page.html?q=1",
                             "text/html", &d, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_not_null(d.title);
    cr_assert_str_eq(d.title, "Fish & Chips: the <best>");
    static const char *const want[] = {
        "http://example.com/dir/a.html",
        "http://example.com/up.html",
        "http://example.com/abs",
        "http://other.example.org/x",
        "https://example.com/secure",
        "http://example.com:8080/port",
        "http://example.com/dir/page.html?q=2",
        "http://example.com/dir/page.html?q=1",
        "http://example.com/dir/map.html",
        "http://example.com/dir/sp%20ace.html",
        "http://example.com/dir/caf%c3%a9.html",
    };
    expect_links(&d, want, sizeof(want) / sizeof(want[0]));
    pt__crawl_doc_free(&d);
}

Test(io_crawl_parse, base_href_changes_what_links_resolve_against)
{
    pt__crawl_xml_init();
    const char *html = "<html><head><base href=\"../other/\"><base href=\"/ignored/\">"
                       "<title>t</title></head><body><a href=\"x.html\">x</a>"
                       "<a href=\"/root.html\">r</a></body></html>";
    pt__crawl_doc d;
    char err[256];
    cr_assert_eq(
        pt__crawl_parse(html, strlen(html), "http://h/a/b/p.html", NULL, &d, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_str_eq(d.base, "http://h/a/other/");
    static const char *const want[] = {"http://h/a/other/x.html", "http://h/root.html"};
    expect_links(&d, want, 2);
    pt__crawl_doc_free(&d);

    /* A base that is not http(s) is ignored: links resolve against the page. */
    const char *html2 = "<base href=\"javascript:x\"><a href=\"y.html\">y</a>";
    cr_assert_eq(
        pt__crawl_parse(html2, strlen(html2), "http://h/a/p.html", NULL, &d, err, sizeof(err)), 0,
        "%s", err);
    static const char *const want2[] = {"http://h/a/y.html"};
    expect_links(&d, want2, 1);
    cr_assert_null(d.title);
    pt__crawl_doc_free(&d);
}

Test(io_crawl_parse, character_sets_from_the_header_or_the_page)
{
    pt__crawl_xml_init();
    pt__crawl_doc d;
    char err[256];
    /* ISO-8859-1 from the HTTP header. */
    const char *latin = "<title>caf\xe9</title>";
    cr_assert_eq(pt__crawl_parse(latin, strlen(latin), "http://h/", "text/html; charset=ISO-8859-1",
                                 &d, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(d.title, "caf\xc3\xa9");
    pt__crawl_doc_free(&d);
    /* windows-1252 from a <meta>. */
    const char *cp = "<meta charset=\"windows-1252\"><title>\x93q\x94</title>";
    cr_assert_eq(pt__crawl_parse(cp, strlen(cp), "http://h/", "text/html", &d, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_str_eq(d.title, "\xe2\x80\x9cq\xe2\x80\x9d");
    pt__crawl_doc_free(&d);
    /* UTF-8 by default. */
    const char *utf = "<title>\xe2\x82\xac 5</title><a href=\"\xc3\xa9.html\">e</a>";
    cr_assert_eq(pt__crawl_parse(utf, strlen(utf), "http://h/", "text/html", &d, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(d.title, "\xe2\x82\xac 5");
    cr_assert_eq(d.nlinks, 1);
    cr_assert_str_eq(d.links[0], "http://h/%c3%a9.html");
    pt__crawl_doc_free(&d);
    /* Undeclared and not UTF-8: ISO-8859-1, as libxml2 and the HTML
     * standard read it. */
    const char *undeclared = "<title>caf\xe9</title>";
    cr_assert_eq(pt__crawl_parse(undeclared, strlen(undeclared), "http://h/", "text/html", &d, err,
                                 sizeof(err)),
                 0, "%s", err);
    cr_assert_str_eq(d.title, "caf\xc3\xa9");
    pt__crawl_doc_free(&d);
    /* Bytes that are not valid in the declared set: a parse failure. */
    const char *bad =
        "<meta charset=\"shift_jis\"><title>\x81\x81\xff\xff\xfe</title><a href=x>x</a>";
    int rc = pt__crawl_parse(bad, strlen(bad), "http://h/", "text/html", &d, err, sizeof(err));
    cr_assert_eq(rc, PT_EPARSE, "rc %d", rc);
    cr_assert(strncmp(err, "parse: ", 7) == 0 && strstr(err, "not valid"), "%s", err);
    pt__crawl_doc_free(&d);
    /* Empty and markup-free bodies are fine. */
    cr_assert_eq(pt__crawl_parse("", 0, "http://h/", "text/html", &d, err, sizeof(err)), 0);
    cr_assert_null(d.title);
    cr_assert_eq(d.nlinks, 0);
    pt__crawl_doc_free(&d);
    cr_assert_eq(pt__crawl_parse("just text", 9, "http://h/", NULL, &d, err, sizeof(err)), 0);
    cr_assert_eq(d.nlinks, 0);
    pt__crawl_doc_free(&d);
}

Test(io_crawl_parse, urls_are_resolved_and_normalised)
{
    char *u;
    char err[256];
    cr_assert_eq(
        pt__crawl_resolve(NULL, "HTTP://Example.COM:80/a/./b/../c?x#f", &u, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_str_eq(u, "http://example.com/a/c?x");
    free(u);
    cr_assert_eq(pt__crawl_resolve("http://h/a/b", "\t c\nd.html ", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u, "http://h/a/cd.html");
    free(u);
    cr_assert_eq(pt__crawl_resolve("https://h:8443/x/y/", "../../z", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u, "https://h:8443/z");
    free(u);
    cr_assert_eq(pt__crawl_resolve("http://h/p?q=1#a", "#b", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u, "http://h/p?q=1");
    free(u);
    static const char *const bad[] = {"example.com/x", "ftp://h/", "", "mailto:a@b", "http://"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(pt__crawl_resolve(NULL, bad[i], &u, err, sizeof(err)), PT_EINVAL, "'%s'",
                     bad[i]);
        cr_assert_null(u);
        cr_assert(err[0], "no message for '%s'", bad[i]);
    }
    cr_assert(pt__crawl_is_html("text/html"));
    cr_assert(pt__crawl_is_html("TEXT/HTML; charset=utf-8"));
    cr_assert(pt__crawl_is_html("application/xhtml+xml"));
    cr_assert(!pt__crawl_is_html("text/htmlx"));
    cr_assert(!pt__crawl_is_html("text/plain"));
    cr_assert(!pt__crawl_is_html(NULL));
}

Test(io_crawl_parse, the_string_set_holds_each_string_once)
{
    pt__strset s = {0};
    char buf[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(buf, sizeof(buf), "http://h/%d", i);
            cr_assert_eq(pt__strset_add(&s, buf, strlen(buf)), round == 0 ? 1 : 0);
        }
    }
    cr_assert_eq(s.n, 5000);
    cr_assert(pt__strset_has(&s, "http://h/4999", 13));
    cr_assert(!pt__strset_has(&s, "http://h/5000", 13));
    cr_assert(pt__strset_has(&s, "http://h/49", 11)); /* a prefix of others, and a member */
    cr_assert(!pt__strset_has(&s, "http://h/", 9));
    pt__strset_free(&s);
    cr_assert(!pt__strset_has(&s, "x", 1));
}

/* ================================================================================ */
/* io_crawl: the library against real servers                                        */
/* ================================================================================ */

#define MAXP 400

/* What on_page saw for one URL. */
typedef struct rec {
    char url[512];
    char eff[512];
    char title[256];
    char error[512];
    bool has_title, ok, html;
    unsigned depth;
    long status;
    pt_fetch_status fstatus;
    size_t nlinks;
    char links[2048]; /* the links, one per line */
    int calls;
} rec;

typedef struct crun {
    uv_loop_t loop;
    pt_pool *pool;
    pt_crawler *c;
    rec *recs;
    size_t n;
    int finishes;
    size_t bound;        /* capacity + concurrency: queued + held must stay below */
    int stop_after;      /* pt_crawler_stop() after this many pages (0: never) */
    int loop_stop_after; /* uv_stop() after this many pages (0: never) */
    pt_crawl_stats st;   /* at the end */
    int after_finish;    /* pages reported after on_finish (must stay 0) */
} crun;

static rec *find(crun *r, const char *url)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->recs[i].url, url))
            return &r->recs[i];
    return NULL;
}

/* find(), or a failed assertion. */
static rec *must_find(crun *r, const char *url)
{
    rec *e = find(r, url);
    cr_assert_not_null(e, "%s was not crawled", url);
    if (!e)
        abort();
    return e;
}

static void c_on_page(void *ctx, const pt_crawl_page *p)
{
    crun *r = ctx;
    if (r->finishes)
        r->after_finish++;
    rec *e = find(r, p->url);
    if (!e) {
        cr_assert(r->n < MAXP, "too many pages");
        e = &r->recs[r->n++];
        snprintf(e->url, sizeof(e->url), "%s", p->url);
    }
    e->calls++;
    snprintf(e->eff, sizeof(e->eff), "%s", p->effective_url ? p->effective_url : "");
    e->has_title = p->title != NULL;
    snprintf(e->title, sizeof(e->title), "%s", p->title ? p->title : "");
    snprintf(e->error, sizeof(e->error), "%s", p->error ? p->error : "");
    cr_assert_eq(p->ok, p->error == NULL, "%s: ok %d but error %s", p->url, p->ok,
                 p->error ? p->error : "(none)");
    e->ok = p->ok;
    e->html = p->html;
    e->depth = p->depth;
    e->status = p->http_status;
    e->fstatus = p->fetch_status;
    e->nlinks = p->nlinks;
    size_t off = 0;
    e->links[0] = '\0';
    for (size_t i = 0; i < p->nlinks && off < sizeof(e->links); i++)
        off += (size_t)snprintf(e->links + off, sizeof(e->links) - off, "%s\n", p->links[i]);
    pt_crawl_stats st;
    pt_crawler_stats(r->c, &st);
    if (r->bound) {
        cr_assert(st.queued + st.held <= r->bound, "%zu queued + %zu held > %zu", st.queued,
                  st.held, r->bound);
        cr_assert(st.max_waiting <= r->bound, "max_waiting %zu > %zu", st.max_waiting, r->bound);
    }
    if (r->stop_after && (int)st.reported >= r->stop_after)
        pt_crawler_stop(r->c);
    if (r->loop_stop_after && (int)st.reported >= r->loop_stop_after)
        uv_stop(&r->loop);
}

static void c_on_finish(void *ctx)
{
    crun *r = ctx;
    r->finishes++;
    uv_stop(&r->loop);
}

/* Starts a crawl with `threads` parser threads; o's callbacks are set here. */
static void crawl_start(crun *r, unsigned threads, pt_crawl_options *o)
{
    r->recs = calloc(MAXP, sizeof(*r->recs));
    cr_assert_not_null(r->recs);
    pt_pool_options po = {.threads = threads};
    cr_assert_eq(pt_pool_create(&r->pool, &po), 0);
    cr_assert_eq(uv_loop_init(&r->loop), 0);
    o->on_page = c_on_page;
    o->on_finish = c_on_finish;
    o->ctx = r;
    char err[512] = "";
    int rc = pt_crawler_create(&r->c, &r->loop, r->pool, o, err, sizeof(err));
    cr_assert_eq(rc, 0, "pt_crawler_create: %s (%s)", pt_strerror(rc), err);
}

/* Runs the loop until on_finish (or a uv_stop from a test hook). */
static void crawl_run(crun *r)
{
    if (!r->finishes)
        uv_run(&r->loop, UV_RUN_DEFAULT);
    pt_crawler_stats(r->c, &r->st);
}

static void crawl_end(crun *r)
{
    pt_crawler_destroy(r->c);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&r->loop), 0, "handles left open on the loop");
    pt_pool_destroy(r->pool);
    free(r->recs);
}

static void crawl(crun *r, unsigned threads, pt_crawl_options *o)
{
    crawl_start(r, threads, o);
    crawl_run(r);
    cr_assert_eq(r->finishes, 1, "on_finish ran %d times", r->finishes);
    cr_assert_eq(r->after_finish, 0);
    for (size_t i = 0; i < r->n; i++)
        cr_assert_eq(r->recs[i].calls, 1, "%s reported %d times", r->recs[i].url, r->recs[i].calls);
    cr_assert_eq(r->st.reported, r->n);
    cr_assert_eq(r->st.ok + r->st.failed, r->n);
    cr_assert_eq(r->st.queued + r->st.held + r->st.parsing, 0);
}

/* --- the nginx site ------------------------------------------------------------------ */

static void put(const ts_nginx *n, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/crawl/%s", n->html, name);
    ts_write_file(path, text, strlen(text));
}

/* Writes the site under /crawl/ of nginx's docroot. */
static void make_site(const ts_nginx *n)
{
    static const char *const dirs[] = {"crawl", "crawl/c", "crawl/chain"};
    for (size_t i = 0; i < 3; i++) {
        char d[1024];
        snprintf(d, sizeof(d), "%s/%s", n->html, dirs[i]);
        cr_assert_eq(mkdir(d, 0755), 0);
    }
    char buf[4096];
    snprintf(
        buf, sizeof(buf),
        "<!DOCTYPE html><html><head><title>Home &amp; garden</title>\n"
        "<script>document.write('<a href=\"script.html\">no</a>');</script></head>\n"
        "<body><!-- <a href=\"comment.html\">no</a> -->\n"
        "<a href=\"a.html\">a</a> <a href=\"/crawl/b.html#part\">b</a>\n"
        "<a href=\"http://127.0.0.1:%d/crawl/a.html\">a again</a>\n"
        "<a href=\"./a.html#top\">a, third time</a> <a href=\"c\">c (a directory)</a>\n"
        "<a href=\"data.txt\">text</a>\n"
        "<a href=\"http://localhost:%d/crawl/other.html\">another host name</a>\n"
        "<a href=\"mailto:someone@example.org\">mail</a> <a href=\"javascript:void(0)\">js</a>\n"
        "<a href=\"base.html\">base</a> <a href=\"chain/1.html\">chain</a>\n"
        "</body></html>\n",
        n->port, n->port);
    put(n, "index.html", buf);
    put(n, "a.html",
        "<title>Page A</title><a href=\"index.html\">home</a> <a href=\"b.html\">b</a>\n"
        "<a href=\"../crawl/a.html\">me</a>\n");
    snprintf(buf, sizeof(buf), "<a href=\"HTTP://LOCALHOST:%d/crawl/other.html#x\">other</a>\n",
             n->port);
    char path[1024];
    snprintf(path, sizeof(path), "%s/crawl/a.html", n->html);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs(buf, f);
    fclose(f);
    put(n, "b.html",
        "<html><head><title>\n  Page\n  B  </title></head><body>\n"
        "<a href=\"c/d.html\">d</a> <a href=\"missing.html\">broken</a>\n"
        "<a href=\"../crawl/b.html\">me</a></body></html>\n");
    put(n, "c/index.html",
        "<title>C index</title><a href=\"d.html\">d</a> <a href=\"../index.html\">up</a>\n");
    put(n, "c/d.html",
        "<title>D</title><a href=\"../index.html\">up</a> <a href=\"e.html\">e</a>\n");
    put(n, "c/e.html", "<title>E</title><p>no links\n");
    put(n, "data.txt", "not <a href=\"html.html\">html</a>\n");
    snprintf(buf, sizeof(buf),
             "<title>Other host</title><a href=\"http://127.0.0.1:%d/crawl/index.html\">home</a>\n",
             n->port);
    put(n, "other.html", buf);
    put(n, "base.html",
        "<html><head><base href=\"/crawl/c/\"><title>Base</title></head>\n"
        "<body><a href=\"e.html\">e, through the base</a></body></html>\n");
    for (int i = 1; i <= 6; i++) {
        char name[64];
        if (i < 6)
            snprintf(buf, sizeof(buf), "<title>Chain %d</title><a href=\"%d.html\">next</a>\n", i,
                     i + 1);
        else
            snprintf(buf, sizeof(buf), "<title>Chain %d</title>the end\n", i);
        snprintf(name, sizeof(name), "chain/%d.html", i);
        put(n, name, buf);
    }
}

/* The site's pages: path (under /crawl/), depth, title (NULL: none), links,
 * HTTP status, and whether it is on the other host name. */
typedef struct want_page {
    const char *path;
    unsigned depth;
    const char *title;
    size_t links;
    long status;
    bool other_host;
} want_page;

static const want_page site[] = {
    {"index.html", 0, "Home & garden", 7, 200, false},
    {"a.html", 1, "Page A", 4, 200, false},
    {"b.html", 1, "Page B", 3, 200, false},
    {"c", 1, "C index", 2, 200, false}, /* 301 to c/ */
    {"data.txt", 1, NULL, 0, 200, false},
    {"other.html", 1, "Other host", 1, 200, true},
    {"base.html", 1, "Base", 1, 200, false},
    {"chain/1.html", 1, "Chain 1", 1, 200, false},
    {"c/d.html", 2, "D", 2, 200, false},
    {"missing.html", 2, NULL, 0, 404, false},
    {"c/e.html", 2, "E", 0, 200, false}, /* 2 through base.html, 3 through c/d.html */
    {"chain/2.html", 2, "Chain 2", 1, 200, false},
    {"chain/3.html", 3, "Chain 3", 1, 200, false},
    {"chain/4.html", 4, "Chain 4", 1, 200, false},
    {"chain/5.html", 5, "Chain 5", 1, 200, false},
    {"chain/6.html", 6, "Chain 6", 0, 200, false},
};
#define NSITE (sizeof(site) / sizeof(site[0]))

static void site_url(const ts_nginx *n, const want_page *w, char *buf, size_t len)
{
    snprintf(buf, len, "http://%s:%d/crawl/%s", w->other_host ? "localhost" : "127.0.0.1", n->port,
             w->path);
}

/* Checks that r holds exactly the site's pages within max_depth (and on the
 * seed's host with same_host). */
static void expect_site(const crun *r, const ts_nginx *n, unsigned max_depth, bool same_host)
{
    size_t want = 0;
    for (size_t i = 0; i < NSITE; i++) {
        const want_page *w = &site[i];
        char url[512];
        site_url(n, w, url, sizeof(url));
        rec *e = find((crun *)(uintptr_t)r, url);
        if (w->depth > max_depth || (same_host && w->other_host)) {
            cr_assert_null(e, "%s crawled (depth %u, max %u, same_host %d)", url, w->depth,
                           max_depth, same_host);
            continue;
        }
        want++;
        cr_assert_not_null(e, "%s not crawled (depth %u, max %u)", url, w->depth, max_depth);
        cr_assert_eq(e->depth, w->depth, "%s: depth %u, expected %u", url, e->depth, w->depth);
        cr_assert_eq(e->status, w->status, "%s: status %ld", url, e->status);
        cr_assert_eq(e->ok, w->status == 200, "%s: ok %d (%s)", url, e->ok, e->error);
        if (w->title) {
            cr_assert(e->has_title, "%s: no title", url);
            cr_assert_str_eq(e->title, w->title, "%s: title '%s'", url, e->title);
        } else {
            cr_assert(!e->has_title, "%s: title '%s'", url, e->title);
        }
        cr_assert_eq(e->nlinks, w->links, "%s: %zu links, expected %zu:\n%s", url, e->nlinks,
                     w->links, e->links);
    }
    if (r->n != want) {
        char all[8192] = "";
        size_t off = 0;
        for (size_t i = 0; i < r->n && off < sizeof(all); i++)
            off += (size_t)snprintf(all + off, sizeof(all) - off, "  %s\n", r->recs[i].url);
        cr_assert_fail("%zu pages crawled, expected %zu:\n%s", r->n, want, all);
    }
}

static void seed_of(const ts_nginx *n, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%d/crawl/index.html", n->port);
}

Test(io_crawl, the_site_is_crawled_exactly_once_per_url_at_its_shortest_depth, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    char seed[256];
    seed_of(&n, seed, sizeof(seed));
    const char *seeds[] = {seed, seed}; /* a duplicate seed counts once */
    pt_crawl_options o = {.seeds = seeds, .nseeds = 2, .max_depth = 100};
    o.fetch.concurrency = 4;
    crun r = {0};
    r.bound = 0;
    crawl(&r, 2, &o);
    expect_site(&r, &n, 100, false);
    char url[512];
    /* The directory redirect: c/'s links resolved against where it landed. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/crawl/c", n.port);
    rec *c = must_find(&r, url);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/crawl/c/", n.port);
    cr_assert_str_eq(c->eff, url);
    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/crawl/c/d.html\nhttp://127.0.0.1:%d/crawl/index.html\n", n.port,
             n.port);
    cr_assert_str_eq(c->links, url);
    /* The index: duplicates, fragments and non-http links gone, script and
     * comment ignored, in document order. */
    seed_of(&n, url, sizeof(url));
    rec *home = must_find(&r, url);
    char want[2048];
    snprintf(want, sizeof(want),
             "http://127.0.0.1:%d/crawl/a.html\nhttp://127.0.0.1:%d/crawl/b.html\n"
             "http://127.0.0.1:%d/crawl/c\nhttp://127.0.0.1:%d/crawl/data.txt\n"
             "http://localhost:%d/crawl/other.html\nhttp://127.0.0.1:%d/crawl/base.html\n"
             "http://127.0.0.1:%d/crawl/chain/1.html\n",
             n.port, n.port, n.port, n.port, n.port, n.port, n.port);
    cr_assert_str_eq(home->links, want);
    /* The text file is recorded, not parsed; the broken link fails. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/crawl/data.txt", n.port);
    cr_assert(!must_find(&r, url)->html);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/crawl/missing.html", n.port);
    rec *m = must_find(&r, url);
    cr_assert_eq(m->fstatus, PT_FETCH_EHTTP);
    cr_assert(strstr(m->error, "404"), "error: %s", m->error);
    cr_assert_eq(r.st.failed, 1);
    cr_assert_eq(r.st.ok, NSITE - 1);
    cr_assert_eq(r.st.scheduled, NSITE);
    cr_assert_eq(r.st.fetched, NSITE);
    /* The set holds every URL scheduled, plus c/ (the redirect's target). */
    cr_assert_eq(r.st.seen, NSITE + 1, "seen %zu", r.st.seen);
    cr_assert(r.st.fetch.max_active <= 4);
    crawl_end(&r);
    ts_nginx_stop(&n);
}

Test(io_crawl, depth_and_same_host_limit_the_crawl, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    char seed[256];
    seed_of(&n, seed, sizeof(seed));
    const char *seeds[] = {seed};
    static const unsigned depths[] = {0, 1, 2, 3};
    for (size_t i = 0; i < 4; i++) {
        for (int same = 0; same < 2; same++) {
            pt_crawl_options o = {
                .seeds = seeds, .nseeds = 1, .max_depth = depths[i], .same_host = same};
            o.fetch.concurrency = 3;
            crun r = {0};
            crawl(&r, 1 + (unsigned)same, &o);
            expect_site(&r, &n, depths[i], same);
            crawl_end(&r);
        }
    }
    ts_nginx_stop(&n);
}

Test(io_crawl, max_pages_caps_what_is_fetched, .timeout = 120)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    char seed[256];
    seed_of(&n, seed, sizeof(seed));
    const char *seeds[] = {seed};
    pt_crawl_options o = {.seeds = seeds, .nseeds = 1, .max_depth = 100, .max_pages = 5};
    crun r = {0};
    crawl(&r, 2, &o);
    cr_assert_eq(r.n, 5, "%zu pages", r.n);
    cr_assert_eq(r.st.scheduled, 5);
    /* index's other 3 links (other, base, chain/1), and b.html's 2 new
     * ones (c/d.html, missing.html). */
    cr_assert_eq(r.st.skipped, 5, "skipped %llu", (unsigned long long)r.st.skipped);
    for (size_t i = 0; i < r.n; i++)
        cr_assert(r.recs[i].depth <= 1, "%s at depth %u", r.recs[i].url, r.recs[i].depth);
    crawl_end(&r);
    ts_nginx_stop(&n);
}

Test(io_crawl, failures_are_reported_with_their_cause, .timeout = 120)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    /* A big page, and a page that is not valid in its character set. */
    char big[8192];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "<title>", 7);
    put(&n, "big.html", big);
    put(&n, "sjis.html",
        "<meta charset=\"shift_jis\"><a href=\"a.html\">a</a>"
        "<title>\x81\x81\xff\xff\xfe</title><a href=\"b.html\">b</a>");
    char u[5][256];
    int dead = dead_port();
    snprintf(u[0], sizeof(u[0]), "http://127.0.0.1:%d/crawl/missing.html", n.port);
    snprintf(u[1], sizeof(u[1]), "http://127.0.0.1:%d/x.html", dead);
    snprintf(u[2], sizeof(u[2]), "http://127.0.0.1:%d/crawl/big.html", n.port);
    snprintf(u[3], sizeof(u[3]), "http://127.0.0.1:%d/crawl/sjis.html", n.port);
    snprintf(u[4], sizeof(u[4]), "http://127.0.0.1:%d/crawl/data.txt", n.port);
    const char *seeds[] = {u[0], u[1], u[2], u[3], u[4]};
    pt_crawl_options o = {.seeds = seeds, .nseeds = 5, .max_depth = 0};
    o.fetch.max_bytes = 4096;
    crun r = {0};
    crawl(&r, 2, &o);
    cr_assert_eq(r.n, 5);
    rec *e = must_find(&r, u[0]);
    cr_assert(!e->ok && e->fstatus == PT_FETCH_EHTTP && e->status == 404, "%s", e->error);
    e = must_find(&r, u[1]);
    cr_assert(!e->ok && e->fstatus == PT_FETCH_ECONNECT && e->status == 0, "%s: %s",
              pt_fetch_status_name(e->fstatus), e->error);
    e = must_find(&r, u[2]);
    cr_assert(!e->ok && e->fstatus == PT_FETCH_ETOOBIG, "%s: %s", pt_fetch_status_name(e->fstatus),
              e->error);
    e = must_find(&r, u[3]);
    cr_assert(!e->ok && e->fstatus == PT_FETCH_OK && e->status == 200 && e->html, "%s", e->error);
    cr_assert(strncmp(e->error, "parse: ", 7) == 0, "%s", e->error);
    e = must_find(&r, u[4]);
    cr_assert(e->ok && !e->html && !e->has_title && e->nlinks == 0);
    cr_assert_eq(r.st.failed, 4);
    crawl_end(&r);
    ts_nginx_stop(&n);
}

Test(io_crawl, bad_options_are_refused_with_a_message)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    pt_pool *pool;
    cr_assert_eq(pt_pool_create(&pool, NULL), 0);
    pt_crawler *c = NULL;
    char err[512];
    crun dummy = {0};
    const char *bad_seeds[] = {"http://127.0.0.1:1/ok", "htp://x/"};
    pt_crawl_options o = {.seeds = bad_seeds, .nseeds = 2, .on_page = c_on_page, .ctx = &dummy};
    err[0] = '\0';
    cr_assert_eq(pt_crawler_create(&c, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "htp://x/") && strstr(err, "seed"), "%s", err);
    cr_assert_null(c);
    const char *rel[] = {"/just/a/path"};
    o.seeds = rel;
    o.nseeds = 1;
    cr_assert_eq(pt_crawler_create(&c, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "/just/a/path"), "%s", err);
    o.nseeds = 0;
    cr_assert_eq(pt_crawler_create(&c, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "seed"), "%s", err);
    const char *good[] = {"http://127.0.0.1:1/"};
    o.seeds = good;
    o.nseeds = 1;
    o.on_page = NULL;
    cr_assert_eq(pt_crawler_create(&c, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    o.on_page = c_on_page;
    o.queue_capacity = (size_t)1 << 30;
    cr_assert_eq(pt_crawler_create(&c, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "queue"), "%s", err);
    cr_assert_eq(pt_crawler_create(NULL, &loop, pool, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert_eq(uv_loop_close(&loop), 0);
    pt_pool_destroy(pool);
}

/* --- the fault server's link tree ---------------------------------------------------- */

/* Depth of page m in the K-ary tree of /links/ (children of p: p*K+1..p*K+K). */
static unsigned tree_depth(unsigned m, unsigned k)
{
    unsigned d = 0;
    while (m) {
        m = (m - 1) / k;
        d++;
    }
    return d;
}

static void links_url(int port, unsigned page, unsigned total, unsigned k, unsigned ms, char *buf,
                      size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%d/links/%u?n=%u&k=%u&ms=%u", port, page, total, k, ms);
}

Test(io_crawl, concurrency_never_exceeds_the_cap_on_the_server_side, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    enum { TOTAL = 90, K = 3, CAP = 4 };
    char seed[256];
    links_url(s.port, 0, TOTAL, K, 30, seed, sizeof(seed));
    const char *seeds[] = {seed};
    pt_crawl_options o = {.seeds = seeds, .nseeds = 1, .max_depth = 50, .queue_capacity = 3};
    o.fetch.concurrency = CAP;
    crun r = {0};
    r.bound = 3 + CAP;
    crawl(&r, 2, &o);
    cr_assert_eq(r.n, TOTAL, "%zu pages", r.n);
    for (unsigned m = 0; m < TOTAL; m++) {
        char url[256], title[64];
        links_url(s.port, m, TOTAL, K, 30, url, sizeof(url));
        rec *e = must_find(&r, url);
        cr_assert_not_null(e, "%s not crawled", url);
        cr_assert(e->ok, "%s: %s", url, e->error);
        cr_assert_eq(e->depth, tree_depth(m, K), "%s: depth %u, expected %u", url, e->depth,
                     tree_depth(m, K));
        snprintf(title, sizeof(title), "page %u", m);
        cr_assert_str_eq(e->title, title);
        /* Its children (wrapped modulo TOTAL) and itself, each once. */
        bool mark[TOTAL] = {false};
        size_t distinct = 0;
        mark[m] = true;
        distinct++;
        for (unsigned j = 0; j < K; j++) {
            unsigned child = (m * K + j + 1) % TOTAL;
            if (!mark[child]) {
                mark[child] = true;
                distinct++;
            }
        }
        cr_assert_eq(e->nlinks, distinct, "%s: %zu links, expected %zu", url, e->nlinks, distinct);
    }
    long max_active = ts_fault_stat(&s, "max_active");
    long requests = ts_fault_stat(&s, "requests");
    cr_assert(max_active <= CAP, "the server saw %ld connections at once, cap %d", max_active, CAP);
    cr_assert(max_active >= 2, "the server never saw two transfers at once (%ld)", max_active);
    cr_assert_eq(requests, TOTAL, "the server answered %ld requests for %d pages", requests, TOTAL);
    cr_assert(r.st.fetch.max_active <= CAP);
    crawl_end(&r);
    ts_fault_stop(&s);
}

Test(io_crawl, depth_is_the_shortest_distance_even_when_it_arrives_last, .timeout = 120)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    /* b (depth 1) answers after 600 ms and links t; by then the fast path
     * s-a-a2 has long found t at distance 3. t is still at depth 2, u at 3. */
    static const struct {
        const char *name;
        unsigned depth;
    } want[] = {{"s", 0}, {"a", 1}, {"b", 1}, {"a2", 2}, {"t", 2}, {"u", 3}};
    for (unsigned max = 2; max <= 3; max++) {
        char seed[256];
        snprintf(seed, sizeof(seed), "http://127.0.0.1:%d/levels/s?ms=600", s.port);
        const char *seeds[] = {seed};
        pt_crawl_options o = {.seeds = seeds, .nseeds = 1, .max_depth = max};
        crun r = {0};
        crawl(&r, 2, &o);
        size_t expected = 0;
        for (size_t i = 0; i < 6; i++) {
            char url[256];
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/levels/%s?ms=600", s.port,
                     want[i].name);
            if (want[i].depth > max) {
                cr_assert_null(find(&r, url), "%s crawled with --depth %u", url, max);
                continue;
            }
            expected++;
            rec *e = must_find(&r, url);
            cr_assert_eq(e->depth, want[i].depth, "%s: depth %u, expected %u", url, e->depth,
                         want[i].depth);
        }
        cr_assert_eq(r.n, expected);
        crawl_end(&r);
    }
    ts_fault_stop(&s);
}

/* A pool task that holds the only parser thread until released. */
static void *block_until(void *arg)
{
    atomic_int *go = arg;
    while (!atomic_load(go))
        nap_ms(2);
    return NULL;
}

typedef struct bp {
    crun *r;
    atomic_int *go;
    pt_crawl_stats snap; /* while parsing was blocked and fetching had settled */
    int ticks;
} bp;

static void bp_tick(uv_timer_t *t)
{
    bp *b = t->data;
    pt_crawl_stats st;
    pt_crawler_stats(b->r->c, &st);
    /* Wait until the fetcher paused and its last transfers landed. */
    if (++b->ticks < 400 && !(st.paused && st.fetch.active == 0 && st.fetch.finishing == 0))
        return;
    b->snap = st;
    atomic_store(b->go, 1);
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
}

Test(io_crawl, a_full_queue_pauses_fetching_and_bounds_the_pages_held, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    enum { N = 40, QCAP = 2, CONC = 3 };
    static char urls[N][256];
    const char *seeds[N];
    for (unsigned i = 0; i < N; i++) {
        links_url(s.port, i, N, 0, 0, urls[i], sizeof(urls[i])); /* no children */
        seeds[i] = urls[i];
    }
    pt_crawl_options o = {.seeds = seeds, .nseeds = N, .max_depth = 0, .queue_capacity = QCAP};
    o.fetch.concurrency = CONC;
    crun r = {0};
    r.bound = QCAP + CONC;
    /* One parser thread, busy until the timer releases it: parsing is
     * "slow", the queue fills, fetching must pause. */
    static atomic_int go;
    atomic_store(&go, 0);
    r.recs = NULL;
    crawl_start(&r, 1, &o);
    pt_future *blocker;
    cr_assert_eq(pt_pool_submit(r.pool, block_until, &go, &blocker), 0);
    uv_timer_t t;
    bp b = {.r = &r, .go = &go};
    uv_timer_init(&r.loop, &t);
    t.data = &b;
    uv_timer_start(&t, bp_tick, 10, 10);
    crawl_run(&r);
    pt_future_release(blocker);

    /* While blocked: the queue full, the rest held, nothing running. */
    cr_assert(b.snap.paused, "the fetcher never paused");
    cr_assert_eq(b.snap.reported, 0, "pages were reported while parsing was blocked");
    cr_assert_eq(b.snap.queued, QCAP, "queued %zu", b.snap.queued);
    cr_assert(b.snap.held >= 1 && b.snap.held <= CONC, "held %zu", b.snap.held);
    cr_assert_eq(b.snap.fetched, b.snap.queued + b.snap.held);
    cr_assert(b.snap.fetched <= QCAP + CONC,
              "%llu pages fetched with a queue of %d and %d "
              "transfers",
              (unsigned long long)b.snap.fetched, QCAP, CONC);
    cr_assert(b.snap.fetch.queued > 0, "no URL was left waiting in the fetcher");
    /* Afterwards: everything, once. */
    cr_assert_eq(r.finishes, 1);
    cr_assert_eq(r.n, N);
    for (size_t i = 0; i < r.n; i++)
        cr_assert(r.recs[i].calls == 1 && r.recs[i].ok, "%s", r.recs[i].url);
    cr_assert(r.st.max_waiting <= QCAP + CONC && r.st.max_waiting > QCAP, "max_waiting %zu",
              r.st.max_waiting);
    cr_assert(!r.st.paused);
    crawl_end(&r);
    ts_fault_stop(&s);
}

Test(io_crawl, stop_cancels_transfers_and_drains_what_was_fetched, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char seed[256];
    links_url(s.port, 0, 500, 4, 100, seed, sizeof(seed));
    const char *seeds[] = {seed};
    pt_crawl_options o = {.seeds = seeds, .nseeds = 1, .max_depth = 10};
    o.fetch.concurrency = 3;
    crun r = {0};
    r.stop_after = 3;
    crawl(&r, 2, &o);
    cr_assert(r.n >= 3 && r.n < 20, "%zu pages reported", r.n);
    cr_assert(r.st.canceled >= 1, "nothing was cancelled");
    cr_assert_eq(r.st.scheduled, r.st.fetched + r.st.canceled);
    cr_assert_eq(r.st.reported, r.st.fetched);
    crawl_end(&r);
    ts_fault_stop(&s);
}

Test(io_crawl, destroy_in_the_middle_frees_everything, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char seed[256];
    links_url(s.port, 0, 500, 4, 20, seed, sizeof(seed));
    const char *seeds[] = {seed};
    pt_crawl_options o = {.seeds = seeds, .nseeds = 1, .max_depth = 10, .queue_capacity = 1};
    o.fetch.concurrency = 4;
    crun r = {0};
    r.loop_stop_after = 6;
    crawl_start(&r, 1, &o);
    crawl_run(&r);
    cr_assert_eq(r.finishes, 0);
    cr_assert(r.n >= 6);
    crawl_end(&r); /* ASan/LSan: no page, body or handle leaks */
    ts_fault_stop(&s);
}

/* ================================================================================ */
/* io_crawl_cli: `ptool crawl`                                                        */
/* ================================================================================ */

#define DEADLINE 120.0

static void expect_exit(const ts_proc *p, int code)
{
    cr_assert_eq(p->status, code, "%s: exit %d, expected %d\n--- stdout:\n%s--- stderr:\n%s",
                 p->cmd, p->status, code, p->out, p->err);
}

static void run_ptool(ts_proc *p, const char *const *args)
{
    ts_ptool_start(p, NULL, args);
    ts_ptool_wait(p, DEADLINE);
}

/* The value of "key" in a JSON line (string, number or null) into buf:
 * strings unescaped (\" \\ \/ only: what the tests' pages need). */
static bool jfield(const char *line, const char *key, char *buf, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && n + 1 < len; p++) {
            if (*p == '\\' && p[1])
                p++;
            buf[n++] = *p;
        }
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < len)
            buf[n++] = *p++;
    }
    buf[n] = '\0';
    return true;
}

/* Parses ptool's JSON lines into r's records (url, depth, status, title,
 * links, error). Every line must be one object. */
static void parse_lines(crun *r, const char *out)
{
    r->recs = calloc(MAXP, sizeof(*r->recs));
    cr_assert_not_null(r->recs);
    r->n = 0;
    for (const char *s = out; *s;) {
        size_t len = strcspn(s, "\n");
        char line[8192];
        cr_assert(len < sizeof(line));
        memcpy(line, s, len);
        line[len] = '\0';
        s += len + (s[len] == '\n');
        cr_assert(line[0] == '{' && line[len - 1] == '}', "not a JSON object: %s", line);
        char v[1024];
        cr_assert(jfield(line, "url", v, sizeof(v)), "no url: %s", line);
        rec *e = find(r, v);
        if (!e) {
            cr_assert(r->n < MAXP);
            e = &r->recs[r->n++];
            snprintf(e->url, sizeof(e->url), "%.500s", v);
        }
        e->calls++;
        cr_assert(jfield(line, "depth", v, sizeof(v)));
        e->depth = (unsigned)atoi(v);
        cr_assert(jfield(line, "status", v, sizeof(v)));
        e->status = atol(v); /* null -> 0 */
        cr_assert(jfield(line, "title", v, sizeof(v)));
        e->has_title = strstr(line, "\"title\":\"") != NULL;
        snprintf(e->title, sizeof(e->title), "%.250s", e->has_title ? v : "");
        cr_assert(jfield(line, "links", v, sizeof(v)));
        e->nlinks = (size_t)atol(v);
        cr_assert(jfield(line, "bytes", v, sizeof(v)) && jfield(line, "seconds", v, sizeof(v)));
        e->ok = !jfield(line, "error", e->error, sizeof(e->error));
    }
}

static void free_lines(crun *r)
{
    free(r->recs);
    r->recs = NULL;
}

Test(io_crawl_cli, crawls_the_site_and_exits_1_for_the_broken_link, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    char seed[256];
    seed_of(&n, seed, sizeof(seed));
    ts_proc p;
    run_ptool(&p, TS_ARGS("crawl", seed, "--depth", "20", "--concurrency", "5"));
    expect_exit(&p, 1);
    crun r = {0};
    parse_lines(&r, p.out);
    expect_site(&r, &n, 20, false);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_eq(r.recs[i].calls, 1, "%s: %d lines", r.recs[i].url, r.recs[i].calls);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/crawl/missing.html", n.port);
    cr_assert(strstr(must_find(&r, url)->error, "404"), "%s", must_find(&r, url)->error);
    cr_assert(strstr(p.err, "ptool crawl: 16 pages: 15 ok, 1 failed"), "summary: %s", p.err);
    cr_assert_null(strchr(p.err, '\r'), "a progress line on a non-terminal: %s", p.err);
    free_lines(&r);
    ts_proc_free(&p);

    /* Within depth 1 on the seed's host, every page succeeds: exit 0. */
    run_ptool(&p, TS_ARGS("crawl", "--same-host", "--depth=1", seed));
    expect_exit(&p, 0);
    parse_lines(&r, p.out);
    expect_site(&r, &n, 1, true);
    free_lines(&r);
    ts_proc_free(&p);
    ts_nginx_stop(&n);
}

Test(io_crawl_cli, output_file_appears_complete_and_nothing_else_is_left, .timeout = 180)
{
    SKIP_WITHOUT_NGINX();
    ts_nginx n;
    ts_nginx_start(&n, false);
    make_site(&n);
    char seed[256], dir[256], out[512];
    seed_of(&n, seed, sizeof(seed));
    ts_mkdtemp("crawl-out", dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/pages.jsonl", dir);
    ts_write_file(out, "old\n", 4); /* replaced */
    ts_proc p;
    run_ptool(&p, TS_ARGS("crawl", seed, "--depth", "3", "--same-host", "-o", out, "--queue", "1",
                          "--parsers", "1"));
    expect_exit(&p, 1); /* missing.html */
    cr_assert_eq(p.outlen, 0, "stdout: %s", p.out);
    size_t len;
    char *text = ts_read_file(out, &len);
    cr_assert_not_null(text);
    crun r = {0};
    parse_lines(&r, text);
    expect_site(&r, &n, 3, true);
    size_t hidden;
    cr_assert_eq(ts_count_entries(dir, &hidden), 1);
    cr_assert_eq(hidden, 0, "a temporary file was left in %s", dir);
    free(text);
    free_lines(&r);
    ts_proc_free(&p);

    /* A directory that does not exist: bad usage, nothing written. */
    char nodir[512];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/out.jsonl", dir);
    run_ptool(&p, TS_ARGS("crawl", seed, "-o", nodir));
    expect_exit(&p, 2);
    cr_assert(strstr(p.err, "--output"), "%s", p.err);
    ts_proc_free(&p);
    ts_nginx_stop(&n);
}

static void wait_for_requests(const ts_fault *s, long n)
{
    for (int i = 0; i < 3000 && ts_fault_stat(s, "requests") < n; i++)
        nap_ms(10);
    cr_assert(ts_fault_stat(s, "requests") >= n, "the crawl did not start");
}

Test(io_crawl_cli, sigint_stops_with_130_and_leaves_no_output_file, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char seed[256], dir[256], out[512];
    links_url(s.port, 0, 1000, 5, 300, seed, sizeof(seed));
    ts_mkdtemp("crawl-int", dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/pages.jsonl", dir);
    for (int sig = 0; sig < 2; sig++) {
        ts_proc p;
        int signum = sig ? SIGTERM : SIGINT;
        ts_ptool_start(&p, NULL,
                       TS_ARGS("crawl", seed, "--depth", "5", "--concurrency", "4", "-o", out));
        wait_for_requests(&s, 3);
        nap_ms(100);
        kill(p.pid, signum);
        ts_ptool_wait(&p, DEADLINE);
        expect_exit(&p, 130);
        cr_assert_eq(ts_count_entries(dir, NULL), 0, "files left in %s after signal %d", dir,
                     signum);
        cr_assert(strstr(p.err, "interrupted"), "%s", p.err);
        ts_proc_free(&p);
        ts_http_get(s.port, "/reset-stats", NULL);
    }
    /* To stdout: what was done is written, as whole lines. */
    ts_proc p;
    ts_ptool_start(&p, NULL, TS_ARGS("crawl", seed, "--depth", "5", "--concurrency", "4"));
    wait_for_requests(&s, 8);
    nap_ms(400);
    kill(p.pid, SIGINT);
    ts_ptool_wait(&p, DEADLINE);
    expect_exit(&p, 130);
    crun r = {0};
    parse_lines(&r, p.out);
    cr_assert(r.n >= 1, "no page written before the interrupt: %s", p.err);
    for (size_t i = 0; i < r.n; i++)
        cr_assert(r.recs[i].ok && r.recs[i].calls == 1, "%s: %s", r.recs[i].url, r.recs[i].error);
    free_lines(&r);
    ts_proc_free(&p);
    ts_fault_stop(&s);
}

Test(io_crawl_cli, concurrency_is_capped_on_the_server_side, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char seed[256];
    links_url(s.port, 0, 60, 3, 40, seed, sizeof(seed));
    ts_proc p;
    run_ptool(&p, TS_ARGS("crawl", seed, "--depth", "10", "--concurrency", "3"));
    expect_exit(&p, 0);
    crun r = {0};
    parse_lines(&r, p.out);
    cr_assert_eq(r.n, 60, "%zu pages", r.n);
    for (size_t i = 0; i < r.n; i++) {
        unsigned m = (unsigned)atoi(strstr(r.recs[i].url, "/links/") + 7);
        cr_assert_eq(r.recs[i].depth, tree_depth(m, 3), "%s: depth %u", r.recs[i].url,
                     r.recs[i].depth);
    }
    long max_active = ts_fault_stat(&s, "max_active");
    cr_assert(max_active <= 3, "the server saw %ld at once with --concurrency 3", max_active);
    cr_assert(max_active >= 2, "no parallelism seen (%ld)", max_active);
    free_lines(&r);
    ts_proc_free(&p);
    ts_fault_stop(&s);
}

Test(io_crawl_cli, every_failure_exits_1, .timeout = 120)
{
    char seed[256];
    snprintf(seed, sizeof(seed), "http://127.0.0.1:%d/", dead_port());
    ts_proc p;
    run_ptool(&p, TS_ARGS("crawl", seed));
    expect_exit(&p, 1);
    crun r = {0};
    parse_lines(&r, p.out);
    cr_assert_eq(r.n, 1);
    cr_assert(!r.recs[0].ok && r.recs[0].status == 0, "%s", r.recs[0].error);
    free_lines(&r);
    ts_proc_free(&p);
}

Test(io_crawl_cli, progress_line_only_on_a_terminal, .timeout = 180)
{
    SKIP_WITHOUT_FAULT();
    ts_fault s;
    ts_fault_start(&s);
    char seed[256];
    links_url(s.port, 0, 12, 3, 150, seed, sizeof(seed));
    char text[65536];
    int st = ts_ptool_tty(TS_ARGS("crawl", seed, "--depth", "5", "--concurrency", "1"), text,
                          sizeof(text));
    cr_assert_eq(st, 0, "exit status %d: %s", st, text);
    cr_assert(strstr(text, " pages (0 failed)") && strchr(text, '\r'), "no progress line: %s",
              text);
    cr_assert(strstr(text, "ptool crawl: 12 pages: 12 ok, 0 failed"), "no summary: %s", text);
    ts_fault_stop(&s);
}

static void expect_usage(const char *const *args, const char *needle)
{
    ts_proc p;
    run_ptool(&p, args);
    expect_exit(&p, 2);
    cr_assert_eq(p.outlen, 0, "%s: stdout not empty: %s", p.cmd, p.out);
    cr_assert(strncmp(p.err, "ptool crawl: ", 13) == 0 || strncmp(p.err, "ptool: ", 7) == 0,
              "%s: %s", p.cmd, p.err);
    cr_assert(strstr(p.err, needle), "%s: stderr lacks '%s': %s", p.cmd, needle, p.err);
    ts_proc_free(&p);
}

Test(io_crawl_cli, bad_usage_exits_2_with_one_message, .timeout = 120)
{
    const char *u = "http://127.0.0.1:1/";
    expect_usage(TS_ARGS("crawl"), "no seed URLs");
    expect_usage(TS_ARGS("crawl", "--depth", "x", u), "--depth");
    expect_usage(TS_ARGS("crawl", "--depth", "-1", u), "--depth");
    expect_usage(TS_ARGS("crawl", "--depth"), "needs a value");
    expect_usage(TS_ARGS("crawl", "--concurrency", "0", u), "--concurrency");
    expect_usage(TS_ARGS("crawl", "--parsers", "0", u), "--parsers");
    expect_usage(TS_ARGS("crawl", "--queue", "0", u), "--queue");
    expect_usage(TS_ARGS("crawl", "--max-pages", "0", u), "--max-pages");
    expect_usage(TS_ARGS("crawl", "--max-bytes", "3X", u), "--max-bytes");
    expect_usage(TS_ARGS("crawl", "--timeout", "soon", u), "--timeout");
    expect_usage(TS_ARGS("crawl", "--cacert", "/nonexistent.pem", u), "--cacert");
    expect_usage(TS_ARGS("crawl", "--frobnicate", u), "--frobnicate");
    expect_usage(TS_ARGS("crawl", "htp://x/"), "htp://x/");
    expect_usage(TS_ARGS("crawl", "example.com"), "example.com");
    expect_usage(TS_ARGS("crawl", u, "-o", "/tmp/"), "--output");
}

Test(io_crawl_cli, help_explains_the_contract, .timeout = 60)
{
    ts_proc p;
    run_ptool(&p, TS_ARGS("crawl", "--help"));
    expect_exit(&p, 0);
    static const char *const needles[] = {
        "--depth",   "--same-host", "--concurrency", "--max-pages",  "--queue",
        "--parsers", "--output",    "--max-bytes",   "backpressure", "Exit status",
        "130",       "SIGINT",      "\"title\"",     "\"error\""};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        cr_assert(strstr(p.out, needles[i]), "help lacks %s", needles[i]);
    ts_proc_free(&p);
    run_ptool(&p, TS_ARGS("--help"));
    cr_assert(strstr(p.out, "crawl"), "ptool --help does not list crawl");
    ts_proc_free(&p);
}
