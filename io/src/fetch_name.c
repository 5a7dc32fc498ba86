/* fetch_name.c - safe file names for fetched URLs. */
#include <string.h>

#include <curl/curl.h>

#include "fetch_internal.h"
#include "io_util.h"
#include "ptool/fetch.h"

#define NAME_MAX_BYTES 200

size_t pt__fetch_pct_decode(const char *src, size_t len, char *dst, size_t dstlen)
{
    size_t o = 0;
    if (!dstlen)
        return 0;
    for (size_t i = 0; i < len && o + 1 < dstlen; i++) {
        int hi, lo;
        if (src[i] == '%' && i + 2 < len && (hi = io_hexval(src[i + 1])) >= 0 &&
            (lo = io_hexval(src[i + 2])) >= 0) {
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
    return o;
}

static int safe_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

char *pt_fetch_url_filename(const char *url, char *buf, size_t len)
{
    static const char fallback[] = "index.html";
    if (!buf || !len)
        return buf;
    buf[0] = '\0';
    size_t cap = len - 1 < NAME_MAX_BYTES ? len - 1 : NAME_MAX_BYTES;
    char *path = NULL;
    CURLU *h = url ? curl_url() : NULL;
    if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK)
        curl_url_get(h, CURLUPART_PATH, &path, 0); /* raw: no query, no fragment */
    size_t n = 0;
    if (path) {
        const char *seg = strrchr(path, '/');
        seg = seg ? seg + 1 : path;
        char dec[1024];
        size_t dl = pt__fetch_pct_decode(seg, strlen(seg), dec, sizeof(dec));
        for (size_t i = 0; i < dl && n < cap; i++) {
            unsigned char c = (unsigned char)dec[i];
            buf[n++] = safe_byte(c) ? (char)c : '_';
        }
        buf[n] = '\0';
        if (n && buf[0] == '.')
            buf[0] = '_'; /* never ".", "..", or a hidden file */
    }
    curl_free(path);
    curl_url_cleanup(h);
    if (!n) {
        size_t m = sizeof(fallback) - 1 < cap ? sizeof(fallback) - 1 : cap;
        memcpy(buf, fallback, m);
        buf[m] = '\0';
    }
    return buf;
}
