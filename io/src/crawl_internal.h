/* crawl_internal.h - the parts of the crawler that run on a parser thread
 * (HTML parsing, URL resolution) and the string set, shared by crawl.c and
 * the tests. Not installed. */
#ifndef PT_CRAWL_INTERNAL_H
#define PT_CRAWL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A set of strings (open addressing; copies what it stores). */
typedef struct pt__strset {
    char **slot;
    uint64_t *hash;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} pt__strset;

/* Adds s[0..len) (copied) unless present: 1 added, 0 already there,
 * PT_ENOMEM. */
int pt__strset_add(pt__strset *s, const char *str, size_t len);
/* Whether s[0..len) is in the set. */
int pt__strset_has(const pt__strset *s, const char *str, size_t len);
/* Frees the strings and the table; the set is empty afterwards. */
void pt__strset_free(pt__strset *s);

/* Resolves href against base (an absolute URL; NULL: href must be absolute)
 * the way a browser does (ASCII whitespace trimmed, tabs and newlines
 * removed, an empty or "#..." href is the base itself) and normalises the
 * result: fragment dropped, scheme and host in lower case, dot segments and
 * the default port removed, spaces and non-ASCII bytes percent-encoded.
 * *out gets a malloc'd string. 0; PT_EINVAL when the result is not an
 * http(s) URL or does not parse (a message in err, if err is not NULL);
 * PT_ENOMEM. */
int pt__crawl_resolve(const char *base, const char *href, char **out, char *err, size_t errlen);

/* What parsing a page found. */
typedef struct pt__crawl_doc {
    char *title;  /* the first <title>, whitespace collapsed and trimmed (at most
                     PT__CRAWL_TITLE_MAX bytes); NULL if none */
    char **links; /* distinct http(s) links (resolved, normalised), document order */
    size_t nlinks;
    char *base; /* the URL links were resolved against */
} pt__crawl_doc;

#define PT__CRAWL_TITLE_MAX 1024

/* Parses an HTML page body[0..len) fetched from url (its effective URL),
 * with the Content-Type header content_type (for its charset; may be NULL),
 * into *doc (the caller frees it with pt__crawl_doc_free, also after an
 * error: what was found before it is kept). 0; PT_EPARSE when the text
 * cannot be decoded in its declared character set (message in err);
 * PT_ENOMEM. Thread-safe once xmlInitParser() has run; it silences
 * libxml2's generic error output on the calling thread while it runs. */
int pt__crawl_parse(const char *body, size_t len, const char *url, const char *content_type,
                    pt__crawl_doc *doc, char *err, size_t errlen);
void pt__crawl_doc_free(pt__crawl_doc *doc);

/* Whether a Content-Type names HTML (text/html, application/xhtml+xml). */
int pt__crawl_is_html(const char *content_type);

/* Initialises libxml2 once per process (thread-safe). */
void pt__crawl_xml_init(void);

#endif /* PT_CRAWL_INTERNAL_H */
