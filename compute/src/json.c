/* json.c - a small streaming JSON writer (see ptool/json.h).
 *
 * The writer keeps one frame per open container: whether it is an object,
 * whether it has a member yet (for the comma) and, in objects, whether a key
 * is waiting for its value. Output is staged in a 4 KiB buffer and handed to
 * the callback when it fills and at finish, so a result of millions of
 * values costs a few thousand callback calls.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_DEPTH 64

struct pt_json {
    pt_write_fn write;
    void *ctx;
    unsigned flags;
    int error;
    int depth;
    bool is_object[MAX_DEPTH];
    bool has_member[MAX_DEPTH];
    bool key_pending; /* an object key was written, its value is next */
    bool done;        /* a top-level value was completed */
    size_t used;
    char buf[4096];
};

int pt_json_create(pt_json **out, pt_write_fn write, void *ctx, unsigned flags)
{
    if (!out || !write)
        return PT_EINVAL;
    pt_json *j = calloc(1, sizeof(*j));
    if (!j)
        return PT_ENOMEM;
    j->write = write;
    j->ctx = ctx;
    j->flags = flags;
    *out = j;
    return 0;
}

static void flush(pt_json *j)
{
    if (j->used && !j->error && j->write(j->ctx, j->buf, j->used) != 0)
        j->error = PT_EIO;
    j->used = 0;
}

void pt_json_destroy(pt_json *j)
{
    if (!j)
        return;
    flush(j);
    free(j);
}

static void put(pt_json *j, const char *s, size_t n)
{
    if (j->error)
        return;
    if (n > sizeof(j->buf) - j->used) {
        flush(j);
        if (n > sizeof(j->buf)) {
            if (!j->error && j->write(j->ctx, s, n) != 0)
                j->error = PT_EIO;
            return;
        }
    }
    memcpy(j->buf + j->used, s, n);
    j->used += n;
}

static void puts_(pt_json *j, const char *s)
{
    put(j, s, strlen(s));
}

static void newline(pt_json *j)
{
    if (!(j->flags & PT_JSON_PRETTY))
        return;
    put(j, "\n", 1);
    for (int i = 0; i < j->depth; i++)
        put(j, "  ", 2);
}

/* Called before every value and key: checks the grammar and writes the comma
 * and indentation. `is_key` for object keys. */
static int before(pt_json *j, bool is_key)
{
    if (j->error)
        return j->error;
    if (j->depth == 0) {
        if (j->done || is_key)
            return j->error = PT_EINVAL;
        return 0;
    }
    int d = j->depth - 1;
    if (j->is_object[d]) {
        if (is_key == j->key_pending)
            return j->error = PT_EINVAL; /* key after key, or value without key */
        if (!is_key) {
            j->key_pending = false;
            return 0;
        }
    } else if (is_key) {
        return j->error = PT_EINVAL;
    }
    if (j->has_member[d])
        put(j, ",", 1);
    j->has_member[d] = true;
    newline(j);
    if (is_key)
        j->key_pending = true;
    return 0;
}

static int after_value(pt_json *j)
{
    if (j->depth == 0)
        j->done = true;
    return j->error;
}

static int open_(pt_json *j, bool object)
{
    if (before(j, false))
        return j->error;
    if (j->depth == MAX_DEPTH)
        return j->error = PT_EINVAL;
    put(j, object ? "{" : "[", 1);
    j->is_object[j->depth] = object;
    j->has_member[j->depth] = false;
    j->depth++;
    return j->error;
}

static int close_(pt_json *j, bool object)
{
    if (j->error)
        return j->error;
    if (j->depth == 0 || j->is_object[j->depth - 1] != object || j->key_pending)
        return j->error = PT_EINVAL;
    bool had = j->has_member[j->depth - 1];
    j->depth--;
    if (had)
        newline(j);
    put(j, object ? "}" : "]", 1);
    return after_value(j);
}

int pt_json_object_begin(pt_json *j)
{
    return open_(j, true);
}

int pt_json_object_end(pt_json *j)
{
    return close_(j, true);
}

int pt_json_array_begin(pt_json *j)
{
    return open_(j, false);
}

int pt_json_array_end(pt_json *j)
{
    return close_(j, false);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

static void put_string(pt_json *j, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    put(j, "\"", 1);
    size_t run = 0; /* start of a run of bytes that need no escaping */
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char tmp[8];
        size_t ulen = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            esc = tmp;
        } else if (c >= 0x80) {
            ulen = utf8_len(u + i, n - i);
            if (!ulen) {
                esc = "\\ufffd";
                ulen = 1;
            }
        }
        if (esc) {
            put(j, s + run, i - run);
            puts_(j, esc);
            i += ulen;
            run = i;
        } else {
            i += ulen;
        }
    }
    put(j, s + run, n - run);
    put(j, "\"", 1);
}

int pt_json_key(pt_json *j, const char *key)
{
    if (!key)
        return j->error = PT_EINVAL;
    if (before(j, true))
        return j->error;
    put_string(j, key, strlen(key));
    put(j, (j->flags & PT_JSON_PRETTY) ? ": " : ":", (j->flags & PT_JSON_PRETTY) ? 2 : 1);
    return j->error;
}

int pt_json_strn(pt_json *j, const char *s, size_t len)
{
    if (!s)
        return pt_json_null(j);
    if (before(j, false))
        return j->error;
    put_string(j, s, len);
    return after_value(j);
}

int pt_json_str(pt_json *j, const char *s)
{
    return pt_json_strn(j, s, s ? strlen(s) : 0);
}

static int scalar(pt_json *j, const char *text)
{
    if (before(j, false))
        return j->error;
    puts_(j, text);
    return after_value(j);
}

int pt_json_int(pt_json *j, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRId64, v);
    return scalar(j, b);
}

int pt_json_uint(pt_json *j, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    return scalar(j, b);
}

int pt_json_double(pt_json *j, double v)
{
    if (!isfinite(v))
        return scalar(j, "null");
    char b[40];
    /* %.17g round-trips; make sure it reads back as a number JSON accepts. */
    snprintf(b, sizeof(b), "%.17g", v);
    char shorter[40];
    for (int prec = 6; prec < 17; prec++) {
        snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
        if (strtod(shorter, NULL) == v) {
            memcpy(b, shorter, sizeof(b));
            break;
        }
    }
    return scalar(j, b);
}

int pt_json_bool(pt_json *j, bool v)
{
    return scalar(j, v ? "true" : "false");
}

int pt_json_null(pt_json *j)
{
    return scalar(j, "null");
}

int pt_json_raw(pt_json *j, const char *text, size_t len)
{
    if (before(j, false))
        return j->error;
    put(j, text, len);
    return after_value(j);
}

int pt_json_finish(pt_json *j)
{
    if (j->error)
        return j->error;
    if (j->depth != 0 || j->key_pending)
        return j->error = PT_EINVAL;
    put(j, "\n", 1);
    flush(j);
    return j->error;
}

int pt_json_error(const pt_json *j)
{
    return j->error;
}
