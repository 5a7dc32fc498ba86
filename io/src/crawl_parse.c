/* crawl_parse.c - what a crawler's parser thread does with a page: parse the
 * HTML with libxml2's HTML parser in SAX mode (no tree is built: the
 * callbacks collect the first <title>'s text, every <a href> and
 * <area href>, and the first <base href>), then resolve each link against
 * the base with libcurl's URL API and normalise it. Also the string set the
 * crawler de-duplicates URLs with.
 *
 * libxml2 recovers from any malformed markup, so the only parse failure
 * reported is text that cannot be decoded in the character set the page
 * declares (libxml2 stops there). Its error messages never reach stderr:
 * the parser context gets no error callbacks, and the generic error
 * handler (used for encoding errors, per thread) is silenced while a page
 * is parsed. Text in an undeclared charset that is not UTF-8 is read as
 * ISO-8859-1 by libxml2, silently, as browsers do.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <uv.h>

#include "crawl_internal.h"
#include "io_util.h"
#include "ptool/error.h"

/* --- the string set ------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static bool slot_is(const char *slot, const char *s, size_t n)
{
    return strncmp(slot, s, n) == 0 && slot[n] == '\0';
}

static int strset_grow(pt__strset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 64;
    char **ns = calloc(ncap, sizeof(*ns));
    uint64_t *nh = malloc(ncap * sizeof(*nh));
    if (!ns || !nh) {
        free(ns);
        free(nh);
        return PT_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i])
            continue;
        size_t j = s->hash[i] & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slot[i];
        nh[j] = s->hash[i];
    }
    free(s->slot);
    free(s->hash);
    s->slot = ns;
    s->hash = nh;
    s->cap = ncap;
    return 0;
}

int pt__strset_add(pt__strset *s, const char *str, size_t len)
{
    if ((s->n + 1) * 2 > s->cap && strset_grow(s) != 0)
        return PT_ENOMEM;
    uint64_t h = hash_bytes(str, len);
    size_t j = h & (s->cap - 1);
    while (s->slot[j]) {
        if (s->hash[j] == h && slot_is(s->slot[j], str, len))
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return PT_ENOMEM;
    memcpy(copy, str, len);
    copy[len] = '\0';
    s->slot[j] = copy;
    s->hash[j] = h;
    s->n++;
    return 1;
}

int pt__strset_has(const pt__strset *s, const char *str, size_t len)
{
    if (!s->cap)
        return 0;
    uint64_t h = hash_bytes(str, len);
    size_t j = h & (s->cap - 1);
    while (s->slot[j]) {
        if (s->hash[j] == h && slot_is(s->slot[j], str, len))
            return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

void pt__strset_free(pt__strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    free(s->hash);
    memset(s, 0, sizeof(*s));
}

/* --- URLs ---------------------------------------------------------------------- */

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Resolves href against base (NULL: href must be absolute); see
 * pt__crawl_resolve. */
static int resolve_h(CURLU *base, const char *href, char **out, char *err, size_t errlen)
{
    *out = NULL;
    /* As browsers do: leading and trailing C0 controls and spaces go, tabs
     * and newlines inside go. */
    const char *b = href, *e = href + strlen(href);
    while (b < e && (unsigned char)*b <= 0x20)
        b++;
    while (e > b && (unsigned char)e[-1] <= 0x20)
        e--;
    char *clean = malloc((size_t)(e - b) + 1);
    if (!clean)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    size_t n = 0;
    for (const char *p = b; p < e; p++)
        if (*p != '\t' && *p != '\n' && *p != '\r')
            clean[n++] = *p;
    clean[n] = '\0';

    int rc = 0;
    char *scheme = NULL, *host = NULL, *url = NULL;
    CURLU *u = base ? curl_url_dup(base) : curl_url();
    if (!u) {
        rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
        goto out;
    }
    if (clean[0] == '\0' || clean[0] == '#') {
        /* The document itself. (libcurl resolves these to the base's
         * directory, unlike RFC 3986.) */
        if (!base) {
            rc = io_errf(err, errlen, PT_EINVAL, "'%s': not an absolute URL", href);
            goto out;
        }
    } else {
        CURLUcode uc = curl_url_set(u, CURLUPART_URL, clean, CURLU_URLENCODE);
        if (uc == CURLUE_OUT_OF_MEMORY) {
            rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
            goto out;
        }
        if (uc != CURLUE_OK) {
            rc = io_errf(err, errlen, PT_EINVAL, "'%s': bad URL: %s", href, curl_url_strerror(uc));
            goto out;
        }
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = io_errf(err, errlen, PT_EINVAL, "'%s': not an http or https URL", href);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        bool upper = false;
        for (char *p = host; *p; p++) {
            if (is_upper(*p)) {
                *p = (char)(*p - 'A' + 'a');
                upper = true;
            }
        }
        if (upper && curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK) {
            rc = io_errf(err, errlen, PT_EINVAL, "'%s': bad host name", href);
            goto out;
        }
    }
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    CURLUcode uc = curl_url_get(u, CURLUPART_URL, &url, CURLU_NO_DEFAULT_PORT);
    if (uc != CURLUE_OK) {
        rc = uc == CURLUE_OUT_OF_MEMORY ? io_errf(err, errlen, PT_ENOMEM, "out of memory")
                                        : io_errf(err, errlen, PT_EINVAL, "'%s': bad URL: %s", href,
                                                  curl_url_strerror(uc));
        goto out;
    }
    size_t len = strlen(url) + 1;
    if (!(*out = malloc(len))) {
        rc = io_errf(err, errlen, PT_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, url, len);
out:
    curl_free(url);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    free(clean);
    return rc;
}

/* A parsed absolute URL into *out, for resolving against. */
static int base_handle(const char *url, CURLU **out, char *err, size_t errlen)
{
    *out = curl_url();
    if (!*out)
        return io_errf(err, errlen, PT_ENOMEM, "out of memory");
    CURLUcode uc = curl_url_set(*out, CURLUPART_URL, url, CURLU_URLENCODE);
    if (uc != CURLUE_OK) {
        curl_url_cleanup(*out);
        *out = NULL;
        return io_errf(err, errlen, uc == CURLUE_OUT_OF_MEMORY ? PT_ENOMEM : PT_EINVAL,
                       "'%s': bad URL: %s", url, curl_url_strerror(uc));
    }
    return 0;
}

int pt__crawl_resolve(const char *base, const char *href, char **out, char *err, size_t errlen)
{
    *out = NULL;
    CURLU *b = NULL;
    if (base) {
        int rc = base_handle(base, &b, err, errlen);
        if (rc)
            return rc;
    }
    int rc = resolve_h(b, href, out, err, errlen);
    curl_url_cleanup(b);
    return rc;
}

/* --- Content-Type ------------------------------------------------------------- */

static char lower(char c)
{
    return is_upper(c) ? (char)(c - 'A' + 'a') : c;
}

/* Whether s starts with the lower-case word w, case-insensitively. */
static bool starts_ci(const char *s, const char *w)
{
    for (; *w; s++, w++)
        if (lower(*s) != *w)
            return false;
    return true;
}

int pt__crawl_is_html(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char *const types[] = {"text/html", "application/xhtml+xml"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(types[i]);
        if (starts_ci(ct, types[i]) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

/* The charset parameter of a Content-Type into buf ("" if none). */
static void charset_of(const char *ct, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!ct)
        return;
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!starts_ci(q, "charset"))
            continue;
        q += 7;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '"' || *q == '\'')
            q++;
        size_t n = 0;
        while (q[n] && q[n] != ';' && q[n] != '"' && q[n] != '\'' && q[n] != ' ' && n + 1 < len) {
            buf[n] = q[n];
            n++;
        }
        buf[n] = '\0';
        return;
    }
}

/* --- HTML ------------------------------------------------------------------------ */

static uv_once_t xml_once = UV_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

void pt__crawl_xml_init(void)
{
    uv_once(&xml_once, xml_init);
}

/* What the SAX callbacks collect. */
typedef struct sax_state {
    char **hrefs; /* raw href values, in document order */
    size_t nhrefs, cap;
    char *base_href; /* the first <base href> */
    int title_state; /* 0 none yet, 1 inside the first <title>, 2 done */
    char *title;     /* raw text of the first title (at most TITLE_RAW bytes) */
    size_t tlen;
    bool nomem;
} sax_state;

#define TITLE_RAW (4 * PT__CRAWL_TITLE_MAX)

static bool name_is(const xmlChar *name, const char *want)
{
    return strcmp((const char *)name, want) == 0;
}

static const char *attr(const xmlChar **atts, const char *want)
{
    for (; atts && atts[0]; atts += 2)
        if (name_is(atts[0], want))
            return (const char *)atts[1]; /* NULL for a bare attribute */
    return NULL;
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
    sax_state *st = ud;
    if (st->nomem)
        return;
    /* The HTML parser gives element and attribute names in lower case. */
    if (name_is(name, "a") || name_is(name, "area")) {
        const char *href = attr(atts, "href");
        if (!href)
            return;
        if (st->nhrefs == st->cap) {
            size_t ncap = st->cap ? st->cap * 2 : 16;
            char **nv = realloc(st->hrefs, ncap * sizeof(*nv));
            if (!nv) {
                st->nomem = true;
                return;
            }
            st->hrefs = nv;
            st->cap = ncap;
        }
        if (!(st->hrefs[st->nhrefs] = io_strdup(href)))
            st->nomem = true;
        else
            st->nhrefs++;
    } else if (name_is(name, "base")) {
        const char *href = attr(atts, "href");
        if (href && !st->base_href && !(st->base_href = io_strdup(href)))
            st->nomem = true;
    } else if (name_is(name, "title") && st->title_state == 0) {
        st->title_state = 1;
    }
}

static void on_end(void *ud, const xmlChar *name)
{
    sax_state *st = ud;
    if (st->title_state == 1 && name_is(name, "title"))
        st->title_state = 2;
}

static void on_text(void *ud, const xmlChar *ch, int len)
{
    sax_state *st = ud;
    if (st->title_state != 1 || st->nomem || len <= 0)
        return;
    if (!st->title && !(st->title = malloc(TITLE_RAW + 1))) {
        st->nomem = true;
        return;
    }
    size_t n = (size_t)len;
    if (n > TITLE_RAW - st->tlen)
        n = TITLE_RAW - st->tlen;
    memcpy(st->title + st->tlen, ch, n);
    st->tlen += n;
    st->title[st->tlen] = '\0';
}

static void silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/* Collapses runs of ASCII whitespace into one space, trims, and cuts at
 * PT__CRAWL_TITLE_MAX bytes on a UTF-8 character boundary. In place. */
static void tidy_title(char *t)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = t; *p; p++) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f';
        if (ws) {
            space = n > 0;
            continue;
        }
        if (space)
            t[n++] = ' ';
        space = false;
        t[n++] = *p;
    }
    t[n] = '\0';
    if (n > PT__CRAWL_TITLE_MAX) {
        n = PT__CRAWL_TITLE_MAX;
        while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--;
        t[n] = '\0';
    }
}

void pt__crawl_doc_free(pt__crawl_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->nlinks; i++)
        free(doc->links[i]);
    free(doc->links);
    free(doc->title);
    free(doc->base);
    memset(doc, 0, sizeof(*doc));
}

/* Whether s[0..n) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
static bool valid_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t k;
        unsigned min;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            min = 0x80;
            c &= 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            min = 0x800;
            c &= 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= k)
            return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        p += k + 1;
    }
    return true;
}

/* Runs libxml2 over the body; st collects. */
static int run_parser(const char *body, size_t len, const char *content_type, sax_state *st,
                      char *err, size_t errlen)
{
    if (len > INT_MAX)
        return io_errf(err, errlen, PT_EPARSE, "parse: page too large for the HTML parser");
    htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(body, (int)len);
    if (!ctxt)
        return io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
    /* Our callbacks only: no tree, no error messages. */
    memset(ctxt->sax, 0, sizeof(*ctxt->sax));
    ctxt->sax->startElement = on_start;
    ctxt->sax->endElement = on_end;
    ctxt->sax->characters = on_text;
    ctxt->sax->ignorableWhitespace = on_text;
    ctxt->sax->initialized = 1; /* a SAX1 handler: what the HTML parser calls */
    ctxt->userData = st;
    htmlCtxtUseOptions(ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                 HTML_PARSE_NOIMPLIED);
    /* The HTTP header's charset comes first (a <meta> may still switch an
     * undecided UTF-8 input); UTF-8 is the parser's default. */
    char cs[64];
    charset_of(content_type, cs, sizeof(cs));
    if (cs[0] && !starts_ci(cs, "utf-8") && !starts_ci(cs, "utf8")) {
        xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(cs);
        if (h)
            xmlSwitchToEncoding(ctxt, h);
    } else if (cs[0] || valid_utf8(body, len)) {
        /* libxml2 reads undeclared non-ASCII text as ISO-8859-1 (the HTML
         * default); text that is valid UTF-8 is UTF-8 (a <meta> can still
         * say otherwise). */
        xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
    }
    htmlParseDocument(ctxt);
    int rc = 0;
    xmlParserInputBufferPtr in = ctxt->input ? ctxt->input->buf : NULL;
    if (st->nomem || (in && in->error == XML_ERR_NO_MEMORY)) {
        rc = io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
    } else if (in && in->error) {
        const char *enc = in->encoder && in->encoder->name ? in->encoder->name : "?";
        rc = io_errf(err, errlen, PT_EPARSE,
                     "parse: the text is not valid %s (the page's character set); parsing "
                     "stopped there",
                     enc);
    }
    htmlFreeParserCtxt(ctxt);
    return rc;
}

int pt__crawl_parse(const char *body, size_t len, const char *url, const char *content_type,
                    pt__crawl_doc *doc, char *err, size_t errlen)
{
    memset(doc, 0, sizeof(*doc));
    if (err && errlen)
        err[0] = '\0';
    sax_state st;
    memset(&st, 0, sizeof(st));
    CURLU *page = NULL, *base = NULL;
    pt__strset seen = {0};
    int rc = base_handle(url, &page, err, errlen);
    if (rc)
        return rc;

    if (len > 0) {
        /* Encoding errors go through libxml2's generic handler (this
         * thread's): silence it while we parse. */
        xmlGenericErrorFunc old = xmlGenericError;
        void *old_ctx = xmlGenericErrorContext;
        xmlStructuredErrorFunc old_s = xmlStructuredError;
        void *old_s_ctx = xmlStructuredErrorContext;
        xmlSetGenericErrorFunc(NULL, silent);
        xmlSetStructuredErrorFunc(NULL, NULL);
        rc = run_parser(body, len, content_type, &st, err, errlen);
        xmlSetGenericErrorFunc(old_ctx, old);
        xmlSetStructuredErrorFunc(old_s_ctx, old_s);
        if (rc == PT_ENOMEM)
            goto out;
    }
    int prc = rc; /* PT_EPARSE: keep what was found before the bad bytes */
    rc = 0;

    if (st.title) {
        tidy_title(st.title);
        doc->title = st.title;
        st.title = NULL;
    }
    /* The base URL: the first <base href>, resolved against the page. */
    if (st.base_href && resolve_h(page, st.base_href, &doc->base, NULL, 0) == 0 &&
        base_handle(doc->base, &base, NULL, 0) == 0) {
        /* base is set */
    } else {
        free(doc->base);
        doc->base = io_strdup(url);
        if (!doc->base) {
            rc = io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
            goto out;
        }
    }
    if (st.nhrefs && !(doc->links = malloc(st.nhrefs * sizeof(*doc->links)))) {
        rc = io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
        goto out;
    }
    for (size_t i = 0; i < st.nhrefs; i++) {
        char *abs;
        int r = resolve_h(base ? base : page, st.hrefs[i], &abs, NULL, 0);
        if (r == PT_ENOMEM) {
            rc = io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
            goto out;
        }
        if (r != 0)
            continue; /* not http(s), or unparsable: not a link we follow */
        int added = pt__strset_add(&seen, abs, strlen(abs));
        if (added == 1) {
            doc->links[doc->nlinks++] = abs;
            continue;
        }
        free(abs);
        if (added < 0) {
            rc = io_errf(err, errlen, PT_ENOMEM, "parse: out of memory");
            goto out;
        }
    }
    rc = prc;
out:
    for (size_t i = 0; i < st.nhrefs; i++)
        free(st.hrefs[i]);
    free(st.hrefs);
    free(st.base_href);
    free(st.title);
    pt__strset_free(&seen);
    curl_url_cleanup(base);
    curl_url_cleanup(page);
    return rc;
}
