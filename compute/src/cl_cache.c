/* cl_cache.c - the on-disk OpenCL program-binary cache.
 *
 * DESIGN
 *
 * Keying. A program binary depends on the kernel source, the build options,
 * the device, the driver version and the platform. The file name is
 * "<kernel>-<24 hex>.clbin", the hex being the start of a SHA-256 over all
 * key fields, each followed by a NUL byte (so "ab"+"c" and "a"+"bc" differ).
 * The name only finds the entry; it is never trusted. The entry repeats
 * every field in a text header (the source as its SHA-256), followed by the
 * binary's size and SHA-256, and load compares all of them with the key, so
 * a hash-prefix collision, a copied or hand-edited file, or a truncated or
 * bit-flipped binary is a miss, never a wrong binary handed to
 * clCreateProgramWithBinary. Newlines in values become spaces, on write and
 * on compare alike, so a value cannot forge a header line.
 *
 * Atomic writes. Store writes the whole entry to ".tmp-<pid>-<random>" in
 * the cache directory itself (O_CREAT|O_EXCL, mode 0600) and rename()s it
 * onto the final name. rename() within one file system replaces the name
 * atomically: a concurrent reader opens either the old complete file or the
 * new complete file, never a partial one, and a reader that already has the
 * old file open keeps reading the old inode. Concurrent writers of one key
 * write identical bytes, so whichever rename lands last wins harmlessly. We
 * do not fsync: after a crash an entry may be short or zero-filled, and the
 * size and checksum checks turn that into a miss that the next store
 * repairs. A writer that dies leaves a ".tmp-" file, which pt_cache_clear()
 * removes (as it does a live writer's, whose store then fails harmlessly).
 *
 * Why a read-only or missing directory only costs speed. The cache is an
 * optimisation: every failure on the load side (no HOME, unreadable
 * directory, missing or corrupt entry) is reported as a miss, and the caller
 * then builds from source, which it must be able to do anyway because
 * binaries are device-specific. A failing store returns -errno, which the
 * caller may note and otherwise ignore. Nothing here prints or exits.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* openat, fstatat, dirfd, st_mtim */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ptool/error.h"
#include "ptool/opencl.h"
#include "cl_cache.h"
#include "sha256.h"

#define MAGIC      "PTOOLCL1\n"
#define SUFFIX     ".clbin"
#define TMP_PREFIX ".tmp-"
#define NAME_HEX   24         /* hex digits of the key hash in a file name */
#define PATH_CAP   4096       /* longest path we build, NUL included */
#define NAME_CAP   128        /* entry file name, NUL included (pt_cache_entry.file) */
#define HEADER_MAX (1u << 20) /* bytes; a longer header is not an entry */

/* Header fields in file order; the first five are compared with the key. */
enum {
    F_KERNEL,
    F_PLATFORM,
    F_DEVICE,
    F_DRIVER,
    F_OPTIONS,
    F_SOURCE_SHA,
    F_BIN_BYTES,
    F_BIN_SHA,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "kernel",  "platform",      "device",       "driver",
    "options", "source_sha256", "binary_bytes", "binary_sha256",
};

/* A parsed header; values point into the caller's buffer. */
struct header {
    const char *val[F_COUNT];
    size_t vlen[F_COUNT];
    size_t end;         /* offset of the first binary byte */
    uint64_t bin_bytes; /* binary_bytes as a number */
};

static atomic_ulong tmp_counter; /* makes temporary names unique per process */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static bool kernel_name_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > PT__CACHE_KERNEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static bool key_ok(const pt__cache_key *key)
{
    return key && kernel_name_ok(key->kernel) && (key->source || key->source_len == 0);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

/* The default directory (see pt_cache_path) into buf. */
static int default_dir(char *buf, size_t len)
{
    const char *env = getenv("PTOOL_CACHE_DIR");
    int n;
    if (env && env[0] != '\0') {
        n = snprintf(buf, len, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/') {
        /* The XDG spec says relative values are invalid and to be ignored. */
        n = snprintf(buf, len, "%s/ptool", env);
    } else if ((env = getenv("HOME")) != NULL && env[0] != '\0') {
        n = snprintf(buf, len, "%s/.cache/ptool", env);
    } else {
        return PT_ENOENT;
    }
    if (n < 0)
        return PT_EINVAL;
    return (size_t)n < len ? 0 : PT_ERANGE;
}

/* The cache directory for dir (NULL = default) into caller-owned buf. */
int pt_cache_path(const char *dir, char *buf, size_t len)
{
    if (!buf || len == 0)
        return PT_EINVAL;
    if (!dir)
        return default_dir(buf, len);
    int n = snprintf(buf, len, "%s", dir);
    if (n < 0)
        return PT_EINVAL;
    return (size_t)n < len ? 0 : PT_ERANGE;
}

/* Resolves dir into path: 0, 1 when the cache is disabled (""), or an error. */
static int cache_dir(const char *dir, char path[PATH_CAP])
{
    if (dir && dir[0] == '\0')
        return 1;
    int rc = pt_cache_path(dir, path, PATH_CAP);
    return rc == PT_ERANGE ? -ENAMETOOLONG : rc;
}

static int join(char out[PATH_CAP], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, name);
    return n >= 0 && n < PATH_CAP ? 0 : -ENAMETOOLONG;
}

/* Hashes s and the NUL that ends it (NULL hashes as ""). */
static void hash_field(pt__sha256_ctx *c, const char *s)
{
    s = str_or_empty(s);
    pt__sha256_update(c, s, strlen(s) + 1);
}

/* The entry's file name for key into name. */
static void entry_name(const pt__cache_key *key, char name[NAME_CAP])
{
    static const unsigned char nul = 0;
    unsigned char digest[PT__SHA256_BYTES];
    char hex[2 * PT__SHA256_BYTES + 1];
    pt__sha256_ctx c;

    pt__sha256_init(&c);
    hash_field(&c, key->kernel);
    pt__sha256_update(&c, key->source, key->source_len);
    pt__sha256_update(&c, &nul, 1);
    hash_field(&c, key->options);
    hash_field(&c, key->device);
    hash_field(&c, key->driver);
    hash_field(&c, key->platform);
    pt__sha256_final(&c, digest);
    pt__hex(digest, NAME_HEX / 2, hex);
    /* kernel_name_ok() bounds the kernel, so this never truncates. */
    snprintf(name, NAME_CAP, "%s-%s" SUFFIX, key->kernel, hex);
}

static void sha256_hex(const void *data, size_t len, char hex[2 * PT__SHA256_BYTES + 1])
{
    unsigned char digest[PT__SHA256_BYTES];
    pt__sha256(data, len, digest);
    pt__hex(digest, sizeof(digest), hex);
}

/* Appends "name=value\n" at *pos, newlines in value turned into spaces. */
static void put_field(char *buf, size_t *pos, const char *name, const char *value)
{
    size_t n = strlen(name);
    memcpy(buf + *pos, name, n);
    *pos += n;
    buf[(*pos)++] = '=';
    for (value = str_or_empty(value); *value; value++)
        buf[(*pos)++] = *value == '\n' ? ' ' : *value;
    buf[(*pos)++] = '\n';
}

/* The header for key and its binary, malloc'd (caller frees); NULL if out
 * of memory. */
static char *build_header(const pt__cache_key *key, const unsigned char *bin, size_t len,
                          size_t *hlen)
{
    char src_hex[2 * PT__SHA256_BYTES + 1], bin_hex[2 * PT__SHA256_BYTES + 1], bytes[32];
    const char *val[F_COUNT];

    sha256_hex(key->source, key->source_len, src_hex);
    sha256_hex(bin, len, bin_hex);
    snprintf(bytes, sizeof(bytes), "%zu", len);
    val[F_KERNEL] = key->kernel;
    val[F_PLATFORM] = key->platform;
    val[F_DEVICE] = key->device;
    val[F_DRIVER] = key->driver;
    val[F_OPTIONS] = key->options;
    val[F_SOURCE_SHA] = src_hex;
    val[F_BIN_BYTES] = bytes;
    val[F_BIN_SHA] = bin_hex;

    size_t total = strlen(MAGIC) + 1; /* the blank line that ends the header */
    for (int i = 0; i < F_COUNT; i++)
        total += strlen(field_names[i]) + strlen(str_or_empty(val[i])) + 2;
    char *buf = malloc(total);
    if (!buf)
        return NULL;
    size_t pos = strlen(MAGIC);
    memcpy(buf, MAGIC, pos);
    for (int i = 0; i < F_COUNT; i++)
        put_field(buf, &pos, field_names[i], val[i]);
    buf[pos++] = '\n';
    *hlen = pos;
    return buf;
}

static bool is_sha_hex(const char *v, size_t n)
{
    if (n != 2 * PT__SHA256_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            return false;
    return true;
}

static bool parse_u64(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* Parses the header at the start of p[0..n): the magic line, every field in
 * file order, then a blank line. 0 or -1 when p does not hold one. */
static int parse_header(const char *p, size_t n, struct header *h)
{
    size_t pos = strlen(MAGIC);
    if (n < pos || memcmp(p, MAGIC, pos) != 0)
        return -1;
    for (int i = 0; i < F_COUNT; i++) {
        size_t nl = strlen(field_names[i]);
        if (n - pos < nl + 1 || memcmp(p + pos, field_names[i], nl) != 0 || p[pos + nl] != '=')
            return -1;
        pos += nl + 1;
        const char *eol = memchr(p + pos, '\n', n - pos);
        if (!eol)
            return -1;
        h->val[i] = p + pos;
        h->vlen[i] = (size_t)(eol - (p + pos));
        pos += h->vlen[i] + 1;
    }
    if (pos >= n || p[pos] != '\n')
        return -1;
    h->end = pos + 1;
    if (!is_sha_hex(h->val[F_SOURCE_SHA], h->vlen[F_SOURCE_SHA]) ||
        !is_sha_hex(h->val[F_BIN_SHA], h->vlen[F_BIN_SHA]) ||
        !parse_u64(h->val[F_BIN_BYTES], h->vlen[F_BIN_BYTES], &h->bin_bytes))
        return -1;
    return 0;
}

/* Whether header value v[0..n) equals s as put_field() would write it. */
static bool value_is(const char *v, size_t n, const char *s)
{
    s = str_or_empty(s);
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] != (s[i] == '\n' ? ' ' : s[i]))
            return false;
    return true;
}

static bool header_matches(const struct header *h, const pt__cache_key *key)
{
    char src_hex[2 * PT__SHA256_BYTES + 1];
    sha256_hex(key->source, key->source_len, src_hex);
    return value_is(h->val[F_KERNEL], h->vlen[F_KERNEL], key->kernel) &&
           value_is(h->val[F_PLATFORM], h->vlen[F_PLATFORM], key->platform) &&
           value_is(h->val[F_DEVICE], h->vlen[F_DEVICE], key->device) &&
           value_is(h->val[F_DRIVER], h->vlen[F_DRIVER], key->driver) &&
           value_is(h->val[F_OPTIONS], h->vlen[F_OPTIONS], key->options) &&
           value_is(h->val[F_SOURCE_SHA], h->vlen[F_SOURCE_SHA], src_hex);
}

/* Reads up to n bytes; the count read (short only at end of file), or -1. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Writes all n bytes; 0 or -errno. */
static int write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        done += (size_t)w;
    }
    return 0;
}

/* Opens a regular file (relative to dfd) for reading without blocking on a
 * FIFO; its status into *st. The fd, or -1. */
static int open_regular(int dfd, const char *name, struct stat *st)
{
    int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size < 0 ||
        (uintmax_t)st->st_size > SIZE_MAX) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Finds and verifies key's entry; on a hit *bin is malloc'd and the caller frees it. */
int pt__cache_load(const char *dir, const pt__cache_key *key, unsigned char **bin, size_t *len)
{
    char dpath[PATH_CAP], name[NAME_CAP], path[PATH_CAP], bin_hex[2 * PT__SHA256_BYTES + 1];
    struct header h;
    struct stat st;
    unsigned char *buf;
    int rc;

    if (!bin || !len || !key_ok(key))
        return PT_EINVAL;
    *bin = NULL;
    *len = 0;
    if (cache_dir(dir, dpath) != 0)
        return PT_ENOENT;
    entry_name(key, name);
    if (join(path, dpath, name) != 0)
        return PT_ENOENT;
    int fd = open_regular(AT_FDCWD, path, &st);
    if (fd < 0)
        return PT_ENOENT;
    size_t size = (size_t)st.st_size;

    rc = PT_ENOENT;
    buf = malloc(size ? size : 1);
    if (!buf) {
        rc = PT_ENOMEM;
        goto out_close;
    }
    if (read_full(fd, buf, size) != (ssize_t)size)
        goto out_free;
    if (parse_header((const char *)buf, size, &h) != 0 || !header_matches(&h, key) ||
        h.bin_bytes != size - h.end)
        goto out_free;
    sha256_hex(buf + h.end, size - h.end, bin_hex);
    if (!value_is(h.val[F_BIN_SHA], h.vlen[F_BIN_SHA], bin_hex))
        goto out_free;

    /* Hand out the binary in the same allocation: no second copy of a
     * possibly large binary. */
    size_t n = size - h.end;
    memmove(buf, buf + h.end, n);
    unsigned char *shrunk = realloc(buf, n ? n : 1);
    *bin = shrunk ? shrunk : buf;
    *len = n;
    close(fd);
    return 0;

out_free:
    free(buf);
out_close:
    close(fd);
    return rc;
}

/* mkdir -p with mode 0700 for the directories it creates; 0 or -errno. */
static int mkdir_p(const char *path)
{
    char buf[PATH_CAP];
    struct stat st;

    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno == ENOENT) {
        int n = snprintf(buf, sizeof(buf), "%s", path);
        if (n < 0 || n >= PATH_CAP)
            return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
            if (*p != '/' || p[-1] == '/')
                continue;
            *p = '\0';
            int r = mkdir(buf, 0700);
            *p = '/';
            if (r != 0 && errno != EEXIST)
                return -errno;
        }
        if (mkdir(path, 0700) == 0)
            return 0;
    }
    if (errno != EEXIST)
        return -errno;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Creates a new temporary file in dir, its path into tmp; the fd or -errno. */
static int open_temp(const char *dir, char tmp[PATH_CAP])
{
    for (int tries = 0; tries < 64; tries++) {
        /* Not secret, only unlikely to repeat across processes and threads;
         * O_EXCL settles the rest. */
        struct {
            long pid;
            unsigned long serial;
            struct timespec real, mono;
            const void *stack;
        } seed;
        unsigned char digest[PT__SHA256_BYTES];
        char hex[17];

        memset(&seed, 0, sizeof(seed)); /* padding is hashed too */
        seed.pid = (long)getpid();
        seed.serial = atomic_fetch_add(&tmp_counter, 1);
        clock_gettime(CLOCK_REALTIME, &seed.real);
        clock_gettime(CLOCK_MONOTONIC, &seed.mono);
        seed.stack = &seed;
        pt__sha256(&seed, sizeof(seed), digest);
        pt__hex(digest, 8, hex);

        int n = snprintf(tmp, PATH_CAP, "%s/" TMP_PREFIX "%ld-%s", dir, seed.pid, hex);
        if (n < 0 || n >= PATH_CAP)
            return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Writes key's entry atomically (temporary file + rename); bin is borrowed. */
int pt__cache_store(const char *dir, const pt__cache_key *key, const unsigned char *bin, size_t len)
{
    char dpath[PATH_CAP], name[NAME_CAP], path[PATH_CAP], tmp[PATH_CAP];
    size_t hlen;
    int rc, fd;

    if (!key_ok(key) || (!bin && len > 0))
        return PT_EINVAL;
    rc = cache_dir(dir, dpath);
    if (rc == 1)
        return 0; /* disabled */
    if (rc < 0)
        return rc;
    rc = mkdir_p(dpath);
    if (rc != 0)
        return rc;
    entry_name(key, name);
    rc = join(path, dpath, name);
    if (rc != 0)
        return rc;
    char *hdr = build_header(key, bin, len, &hlen);
    if (!hdr)
        return PT_ENOMEM;

    fd = open_temp(dpath, tmp);
    if (fd < 0) {
        rc = fd;
        goto out_free_header;
    }
    rc = write_full(fd, hdr, hlen);
    if (rc == 0)
        rc = write_full(fd, bin, len);
    if (rc != 0)
        goto out_close_unlink;
    /* close() can report a delayed write error (NFS, full disk). */
    rc = close(fd) == 0 ? 0 : -errno;
    if (rc != 0)
        goto out_unlink;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto out_unlink;
    }
    free(hdr);
    return 0;

out_close_unlink:
    close(fd);
out_unlink:
    unlink(tmp);
out_free_header:
    free(hdr);
    return rc;
}

/* A listed entry plus the sub-second part of its mtime, for sorting. */
struct item {
    pt_cache_entry e;
    long mtime_ns; /* nanoseconds past e.mtime */
};

/* Newest first; equal times by file name, so the order is stable. */
static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->e.mtime != y->e.mtime)
        return x->e.mtime > y->e.mtime ? -1 : 1;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns > y->mtime_ns ? -1 : 1;
    return strcmp(x->e.file, y->e.file);
}

/* Reads the header of entry `name` in the directory dfd into *it; 0, or -1
 * when it is not a complete, parseable entry. */
static int read_item(int dfd, const char *name, struct item *it)
{
    struct header h;
    struct stat st;
    size_t size, have = 0, cap = 4096;
    char *buf = NULL;
    int rc = -1;

    int fd = open_regular(dfd, name, &st);
    if (fd < 0)
        return -1;
    size = (size_t)st.st_size;
    /* Read only as far as the blank line that ends the header; the binary
     * behind it may be megabytes. */
    for (;;) {
        if (cap > size)
            cap = size;
        char *grown = realloc(buf, cap ? cap : 1);
        if (!grown)
            goto out;
        buf = grown;
        ssize_t r = read_full(fd, buf + have, cap - have);
        if (r < 0)
            goto out;
        have += (size_t)r;
        if (have < cap)
            goto out; /* shrank under us */
        bool done = false;
        for (size_t i = 1; i < have && !done; i++)
            done = buf[i - 1] == '\n' && buf[i] == '\n';
        if (done)
            break;
        if (have == size || have >= HEADER_MAX)
            goto out;
        cap *= 2;
    }
    if (parse_header(buf, have, &h) != 0 || h.bin_bytes != size - h.end)
        goto out;

    memset(it, 0, sizeof(*it));
    snprintf(it->e.file, sizeof(it->e.file), "%s", name);
    snprintf(it->e.kernel, sizeof(it->e.kernel), "%.*s", (int)h.vlen[F_KERNEL], h.val[F_KERNEL]);
    snprintf(it->e.device, sizeof(it->e.device), "%.*s", (int)h.vlen[F_DEVICE], h.val[F_DEVICE]);
    snprintf(it->e.driver, sizeof(it->e.driver), "%.*s", (int)h.vlen[F_DRIVER], h.val[F_DRIVER]);
    it->e.bytes = (uint64_t)size;
    it->e.mtime = (int64_t)st.st_mtim.tv_sec;
    it->mtime_ns = st.st_mtim.tv_nsec;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Parses every entry header into a new array *out, newest first (free with pt_free()). */
int pt_cache_list(const char *dir, pt_cache_entry **out, size_t *n)
{
    char dpath[PATH_CAP];
    struct item *items = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    int rc;

    if (!out || !n)
        return PT_EINVAL;
    *out = NULL;
    *n = 0;
    rc = cache_dir(dir, dpath);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    DIR *d = opendir(dpath);
    if (!d)
        return errno == ENOENT ? 0 : -errno;

    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            rc = -errno; /* 0 at the end of the directory */
            break;
        }
        if (!has_suffix(de->d_name, SUFFIX) || strlen(de->d_name) >= NAME_CAP)
            continue;
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct item *grown = realloc(items, ncap * sizeof(*items));
            if (!grown) {
                rc = PT_ENOMEM;
                break;
            }
            items = grown;
            cap = ncap;
        }
        if (read_item(dirfd(d), de->d_name, &items[count]) == 0)
            count++;
    }
    closedir(d);
    if (rc != 0)
        goto out_free;
    if (count == 0)
        goto out_free;

    qsort(items, count, sizeof(*items), item_cmp);
    pt_cache_entry *list = malloc(count * sizeof(*list));
    if (!list) {
        rc = PT_ENOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < count; i++)
        list[i] = items[i].e;
    *out = list;
    *n = count;

out_free:
    free(items);
    return rc;
}

/* Unlinks *.clbin entries and .tmp-* leftovers only; counts the entries. */
int pt_cache_clear(const char *dir, size_t *removed)
{
    char dpath[PATH_CAP];
    struct dirent *de;
    struct stat st;
    size_t count = 0;
    int rc;

    if (removed)
        *removed = 0;
    rc = cache_dir(dir, dpath);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    DIR *d = opendir(dpath);
    if (!d)
        return errno == ENOENT ? 0 : -errno;

    int first_err = 0;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0 && first_err == 0)
                first_err = -errno;
            break;
        }
        bool entry = has_suffix(de->d_name, SUFFIX);
        bool tmp = strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
        if (!entry && !tmp)
            continue; /* never touch what is not ours */
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
            /* Gone already (a concurrent clear) is fine; keep going on
             * other errors and report the first. */
            if (errno != ENOENT && first_err == 0)
                first_err = -errno;
            continue;
        }
        if (entry)
            count++;
    }
    closedir(d);
    if (removed)
        *removed = count;
    return first_err;
}
