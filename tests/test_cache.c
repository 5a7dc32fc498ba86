/* test_cache.c - SHA-256 and the on-disk OpenCL program-binary cache.
 *
 * Every test works in its own mkdtemp() directory under /tmp, removed by the
 * suite's fini. Tests run as root in CI, where permission bits do not stop
 * writes, so "cannot create" is tested with a path under a regular file;
 * the chmod 0500 variant runs only for other users.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv, utimensat, fdopen */
#endif

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptool/error.h"
#include "ptool/opencl.h"
#include "cl_cache.h"
#include "sha256.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmp[64]; /* this test's scratch directory */

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700); /* undo the read-only test */
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char sub[4096];
                snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/ptool-test-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp), "mkdtemp: errno %d", errno);
}

static void teardown(void)
{
    rm_rf(tmp);
}

TestSuite(cache, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(sha256);

/* tmp/<name> into buf. */
static const char *sub(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp, name);
    return buf;
}

static const char test_source[] = "__kernel void isprime(__global const ulong *in,\n"
                                  "                      __global uchar *out)\n"
                                  "{ size_t i = get_global_id(0); out[i] = in[i] > 1; }\n";

static pt__cache_key base_key(void)
{
    pt__cache_key k = {
        .kernel = "isprime",
        .source = test_source,
        .source_len = sizeof(test_source) - 1,
        .options = "-cl-std=CL1.2 -DWIDTH=16",
        .device = "pthread-skylake-avx512-AMD EPYC",
        .driver = "3.1+debian",
        .platform = "Portable Computing Language OpenCL 3.0 PoCL 3.1+debian",
    };
    return k;
}

/* n bytes of a pattern that differs per seed and per position. */
static unsigned char *make_bin(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    cr_assert_not_null(b);
    uint32_t x = 2463534242u ^ seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    return b;
}

/* Loads key from dir and asserts a hit with exactly want[0..n). */
static void expect_hit(const char *dir, const pt__cache_key *key, const unsigned char *want,
                       size_t n)
{
    unsigned char *got = NULL;
    size_t len = 0;
    int rc = pt__cache_load(dir, key, &got, &len);
    cr_assert_eq(rc, 0, "load: %s", pt_err_name(rc));
    cr_assert_not_null(got);
    cr_assert_eq(len, n, "len %zu, want %zu", len, n);
    cr_assert(n == 0 || memcmp(got, want, n) == 0, "binary differs");
    free(got);
}

static void expect_miss(const char *dir, const pt__cache_key *key)
{
    unsigned char *got = (unsigned char *)&got; /* must be reset to NULL */
    size_t len = 123;
    int rc = pt__cache_load(dir, key, &got, &len);
    cr_assert_eq(rc, PT_ENOENT, "load: %s, want PT_ENOENT", pt_err_name(rc));
    cr_assert_null(got);
    cr_assert_eq(len, 0);
}

/* Counts *.clbin and .tmp-* files in dir; the last entry name into name. */
static void scan(const char *dir, int *entries, int *temps, char *name, size_t len)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: errno %d", dir, errno);
    *entries = 0;
    *temps = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 6 && strcmp(de->d_name + n - 6, ".clbin") == 0) {
            (*entries)++;
            if (name)
                snprintf(name, len, "%s/%s", dir, de->d_name);
        }
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            (*temps)++;
    }
    closedir(d);
}

/* The path of the only entry in dir. */
static void only_entry(const char *dir, char *path, size_t len)
{
    int entries, temps;
    scan(dir, &entries, &temps, path, len);
    cr_assert_eq(entries, 1, "%d entries in %s", entries, dir);
    cr_assert_eq(temps, 0, "%d temporary files left in %s", temps, dir);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "fopen %s", path);
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "fopen %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* ---- SHA-256 ------------------------------------------------------------- */

static void check_digest(const void *data, size_t len, const char *want)
{
    unsigned char d[32];
    char hex[65];
    pt__sha256(data, len, d);
    pt__hex(d, sizeof(d), hex);
    cr_assert_str_eq(hex, want, "sha256 of %zu bytes", len);
}

Test(sha256, nist_vectors)
{
    check_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_digest(m448, strlen(m448),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                               "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_digest(m896, strlen(m896),
                 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a)
{
    static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *a = malloc(1000000);
    cr_assert_not_null(a);
    memset(a, 'a', 1000000);
    check_digest(a, 1000000, want);

    /* The same message fed in odd-sized pieces. */
    pt__sha256_ctx c;
    unsigned char d[32];
    char hex[65];
    pt__sha256_init(&c);
    for (size_t done = 0, step = 1; done < 1000000; step = step % 997 + 1) {
        size_t n = step < 1000000 - done ? step : 1000000 - done;
        pt__sha256_update(&c, a + done, n);
        done += n;
    }
    pt__sha256_final(&c, d);
    pt__hex(d, 32, hex);
    cr_assert_str_eq(hex, want);
    free(a);
}

/* Lengths around the padding boundaries (55/56 bytes: the length still fits
 * the last block or not; 64: exactly one block). Digests from sha256sum. */
Test(sha256, padding_boundaries)
{
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    char a[128];
    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check_digest(a, v[i].n, v[i].hex);
}

/* Every split of a message into two updates, and byte-at-a-time, give the
 * one-shot digest (bytes (i*7+3) mod 256, i < 1000; digest from Python's
 * hashlib). */
Test(sha256, incremental_splits)
{
    static const char want[] = "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371";
    unsigned char m[1000], d[32];
    char hex[65];
    pt__sha256_ctx c;
    for (size_t i = 0; i < sizeof(m); i++)
        m[i] = (unsigned char)(i * 7 + 3);
    check_digest(m, sizeof(m), want);

    for (size_t split = 0; split <= 200; split++) {
        pt__sha256_init(&c);
        pt__sha256_update(&c, m, split);
        pt__sha256_update(&c, NULL, 0);
        pt__sha256_update(&c, m + split, sizeof(m) - split);
        pt__sha256_final(&c, d);
        pt__hex(d, 32, hex);
        cr_assert_str_eq(hex, want, "split at %zu", split);
    }
    pt__sha256_init(&c);
    for (size_t i = 0; i < sizeof(m); i++)
        pt__sha256_update(&c, m + i, 1);
    pt__sha256_final(&c, d);
    pt__hex(d, 32, hex);
    cr_assert_str_eq(hex, want, "byte at a time");
}

Test(sha256, hex)
{
    static const unsigned char b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    memset(out, 'x', sizeof(out));
    pt__hex(b, sizeof(b), out);
    cr_assert_str_eq(out, "00017f80abff");
    pt__hex(b, 0, out);
    cr_assert_str_eq(out, "");
}

/* ---- store and load ------------------------------------------------------ */

Test(cache, roundtrip)
{
    char dir[256], path[512];
    sub(dir, sizeof(dir), "a/b/ptool"); /* created with its parents */
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(91 * 1024 + 7, 1);

    expect_miss(dir, &key);
    cr_assert_eq(pt__cache_store(dir, &key, bin, 91 * 1024 + 7), 0);
    expect_hit(dir, &key, bin, 91 * 1024 + 7);

    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %o", (unsigned)(st.st_mode & 0777));
    cr_assert_eq(stat(sub(path, sizeof(path), "a"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "parent mode %o", (unsigned)(st.st_mode & 0777));

    only_entry(dir, path, sizeof(path));
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "entry mode %o", (unsigned)(st.st_mode & 0777));

    /* "<kernel>-<24 hex>.clbin" */
    const char *base = strrchr(path, '/') + 1;
    cr_assert_eq(strlen(base), strlen("isprime-") + 24 + strlen(".clbin"), "name %s", base);
    cr_assert_eq(strncmp(base, "isprime-", 8), 0, "name %s", base);
    for (int i = 0; i < 24; i++)
        cr_assert(strchr("0123456789abcdef", base[8 + i]) != NULL, "name %s", base);

    /* The header is the documented text. */
    size_t flen;
    unsigned char *file = read_file(path, &flen);
    static const char head[] = "PTOOLCL1\nkernel=isprime\n"
                               "platform=Portable Computing Language OpenCL 3.0 PoCL 3.1+debian\n"
                               "device=pthread-skylake-avx512-AMD EPYC\ndriver=3.1+debian\n"
                               "options=-cl-std=CL1.2 -DWIDTH=16\nsource_sha256=";
    cr_assert_eq(memcmp(file, head, strlen(head)), 0, "header: %.300s", (char *)file);
    cr_assert_not_null(strstr((char *)file, "\nbinary_bytes=93191\nbinary_sha256="));
    cr_assert(flen > 91 * 1024 + 7);
    cr_assert_eq(memcmp(file + flen - (91 * 1024 + 7), bin, 91 * 1024 + 7), 0);
    free(file);
    free(bin);
}

Test(cache, store_replaces_and_empty_binary)
{
    pt__cache_key key = base_key();
    unsigned char *b1 = make_bin(5000, 1), *b2 = make_bin(3000, 2);
    cr_assert_eq(pt__cache_store(tmp, &key, b1, 5000), 0);
    cr_assert_eq(pt__cache_store(tmp, &key, b2, 3000), 0);
    expect_hit(tmp, &key, b2, 3000);
    cr_assert_eq(pt__cache_store(tmp, &key, NULL, 0), 0);
    expect_hit(tmp, &key, NULL, 0);
    char path[512];
    only_entry(tmp, path, sizeof(path));
    free(b1);
    free(b2);
}

/* The key variants that must not find the base entry. */
static pt__cache_key variant(int i, char *src_copy)
{
    pt__cache_key k = base_key();
    switch (i) {
    case 0: /* source edited by one byte, same length */
        memcpy(src_copy, test_source, sizeof(test_source));
        src_copy[40] ^= 1;
        k.source = src_copy;
        break;
    case 1: /* source one byte shorter */
        k.source_len--;
        break;
    case 2:
        k.options = "-cl-std=CL1.2 -DWIDTH=8";
        break;
    case 3:
        k.device = "pthread-haswell-AMD EPYC";
        break;
    case 4:
        k.driver = "3.2+debian";
        break;
    case 5:
        k.platform = "Portable Computing Language OpenCL 3.0 PoCL 3.2";
        break;
    case 6:
        k.kernel = "isprime2";
        break;
    case 7: /* options absent vs present */
        k.options = NULL;
        break;
    default:
        cr_assert_fail("no variant %d", i);
    }
    return k;
}
#define N_VARIANTS 8

Test(cache, each_key_field_misses)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(4096, 3);
    char src[sizeof(test_source)];
    cr_assert_eq(pt__cache_store(tmp, &key, bin, 4096), 0);
    for (int i = 0; i < N_VARIANTS; i++) {
        pt__cache_key v = variant(i, src);
        expect_miss(tmp, &v);
    }
    expect_hit(tmp, &key, bin, 4096);
    free(bin);
}

/* The file name only finds an entry: put the base entry's bytes under each
 * variant's file name and every header field comparison must reject it. */
Test(cache, header_fields_checked_not_just_name)
{
    char base_dir[256], base_path[512], vdir[256], vpath[512];
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(2048, 4);
    char src[sizeof(test_source)];

    sub(base_dir, sizeof(base_dir), "base");
    cr_assert_eq(pt__cache_store(base_dir, &key, bin, 2048), 0);
    only_entry(base_dir, base_path, sizeof(base_path));
    size_t flen;
    unsigned char *file = read_file(base_path, &flen);

    for (int i = 0; i < N_VARIANTS; i++) {
        pt__cache_key v = variant(i, src);
        char name[32];
        snprintf(name, sizeof(name), "v%d", i);
        sub(vdir, sizeof(vdir), name);
        cr_assert_eq(pt__cache_store(vdir, &v, bin, 2048), 0);
        expect_hit(vdir, &v, bin, 2048);
        only_entry(vdir, vpath, sizeof(vpath));
        write_file(vpath, file, flen); /* base bytes under the variant's name */
        expect_miss(vdir, &v);
    }
    expect_hit(base_dir, &key, bin, 2048);
    free(file);
    free(bin);
}

Test(cache, newline_in_values)
{
    pt__cache_key key = base_key();
    key.device = "two\nlines";
    key.options = "-DA=1\n-DB=2";
    unsigned char *bin = make_bin(100, 5);
    cr_assert_eq(pt__cache_store(tmp, &key, bin, 100), 0);
    expect_hit(tmp, &key, bin, 100);

    char path[512];
    only_entry(tmp, path, sizeof(path));
    size_t flen;
    unsigned char *file = read_file(path, &flen);
    cr_assert_not_null(strstr((char *)file, "\ndevice=two lines\ndriver="));
    cr_assert_not_null(strstr((char *)file, "\noptions=-DA=1 -DB=2\nsource_sha256="));
    free(file);

    /* The space-for-newline spelling is a different key (different name). */
    pt__cache_key spaced = key;
    spaced.device = "two lines";
    expect_miss(tmp, &spaced);
    free(bin);
}

Test(cache, truncated_entry_misses)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(10000, 6);
    char path[512];
    cr_assert_eq(pt__cache_store(tmp, &key, bin, 10000), 0);
    only_entry(tmp, path, sizeof(path));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    off_t full = st.st_size;
    const off_t cuts[] = {full - 1, full - 9999, full - 10000, full - 10001, 100, 9, 1, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        cr_assert_eq(pt__cache_store(tmp, &key, bin, 10000), 0);
        expect_hit(tmp, &key, bin, 10000);
        cr_assert_eq(truncate(path, cuts[i]), 0);
        expect_miss(tmp, &key);
    }
    free(bin);
}

Test(cache, flipped_bytes_miss)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(10000, 7);
    char path[512];
    cr_assert_eq(pt__cache_store(tmp, &key, bin, 10000), 0);
    only_entry(tmp, path, sizeof(path));
    size_t flen;
    unsigned char *good = read_file(path, &flen);
    size_t hdr = flen - 10000;

    /* A byte in the binary (first, middle, last), in the magic, in a header
     * value and in the stored binary checksum. */
    const size_t where[] = {hdr, hdr + 5000, flen - 1, 0, 20, hdr - 3};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        unsigned char *bad = malloc(flen);
        cr_assert_not_null(bad);
        memcpy(bad, good, flen);
        bad[where[i]] ^= 0x01;
        write_file(path, bad, flen);
        expect_miss(tmp, &key);
        free(bad);
    }

    /* One byte appended: binary_bytes no longer matches. */
    unsigned char *longer = malloc(flen + 1);
    cr_assert_not_null(longer);
    memcpy(longer, good, flen);
    longer[flen] = 0;
    write_file(path, longer, flen + 1);
    expect_miss(tmp, &key);

    write_file(path, good, flen);
    expect_hit(tmp, &key, bin, 10000);
    free(longer);
    free(good);
    free(bin);
}

Test(cache, garbage_with_right_name_misses)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(3000, 8);
    char path[512];
    cr_assert_eq(pt__cache_store(tmp, &key, bin, 3000), 0);
    only_entry(tmp, path, sizeof(path));

    unsigned char *junk = make_bin(3500, 9);
    write_file(path, junk, 3500);
    expect_miss(tmp, &key);

    static const char fake[] = "PTOOLCL1\nkernel=isprime\n\n";
    write_file(path, fake, strlen(fake));
    expect_miss(tmp, &key);

    write_file(path, "", 0);
    expect_miss(tmp, &key);

    /* A directory under the entry's name. */
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    expect_miss(tmp, &key);
    cr_assert_neq(pt__cache_store(tmp, &key, bin, 3000), 0);
    free(junk);
    free(bin);
}

Test(cache, empty_dir_disables)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(100, 10);
    char here[4096];
    cr_assert_not_null(getcwd(here, sizeof(here)));
    cr_assert_eq(chdir(tmp), 0);

    cr_assert_eq(pt__cache_store("", &key, bin, 100), 0);
    expect_miss("", &key);
    pt_cache_entry *list = (pt_cache_entry *)&list;
    size_t n = 99, removed = 99;
    cr_assert_eq(pt_cache_list("", &list, &n), 0);
    cr_assert_null(list);
    cr_assert_eq(n, 0);
    cr_assert_eq(pt_cache_clear("", &removed), 0);
    cr_assert_eq(removed, 0);

    /* Nothing was written anywhere near. */
    DIR *d = opendir(".");
    cr_assert_not_null(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL)
        files += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    cr_assert_eq(files, 0);
    cr_assert_eq(chdir(here), 0);
    free(bin);
}

Test(cache, uncreatable_dir)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(100, 11);
    char file[256], under[256];
    sub(file, sizeof(file), "file");
    sub(under, sizeof(under), "file/sub");
    write_file(file, "x", 1);

    int rc = pt__cache_store(under, &key, bin, 100);
    cr_assert_eq(rc, -ENOTDIR, "store: %d", rc);
    expect_miss(under, &key);

    rc = pt__cache_store(file, &key, bin, 100); /* the directory is a file */
    cr_assert_eq(rc, -ENOTDIR, "store: %d", rc);
    expect_miss(file, &key);

    pt_cache_entry *list = NULL;
    size_t n = 0, removed = 0;
    cr_assert_eq(pt_cache_list(file, &list, &n), -ENOTDIR);
    cr_assert_eq(pt_cache_clear(file, &removed), -ENOTDIR);
    cr_assert_eq(pt_cache_list(under, &list, &n), -ENOTDIR);
    free(bin);
}

Test(cache, read_only_dir)
{
    if (geteuid() == 0) {
        teardown(); /* Criterion skips .fini for a skipped test */
        cr_skip_test("running as root: permission bits do not stop root");
    }
    pt__cache_key key = base_key(), other = base_key();
    other.device = "another device";
    unsigned char *bin = make_bin(1000, 12);
    char dir[256];
    sub(dir, sizeof(dir), "ro");
    cr_assert_eq(pt__cache_store(dir, &key, bin, 1000), 0);
    cr_assert_eq(chmod(dir, 0500), 0);

    int rc = pt__cache_store(dir, &other, bin, 1000);
    cr_assert_eq(rc, -EACCES, "store: %d", rc);
    expect_miss(dir, &other);
    expect_hit(dir, &key, bin, 1000); /* reading still works */

    char below[256];
    sub(below, sizeof(below), "ro/new/deeper");
    rc = pt__cache_store(below, &key, bin, 1000);
    cr_assert_eq(rc, -EACCES, "store: %d", rc);
    free(bin);
}

Test(cache, bad_arguments)
{
    pt__cache_key key = base_key();
    unsigned char b[4] = {1, 2, 3, 4}, *got = NULL;
    size_t len = 0;
    static const char *const bad_names[] = {
        NULL,
        "",
        "a-b",
        "../x",
        "a/b",
        "a.b",
        "a b",
        "\xc3\xa9",
        "x123456789012345678901234567890123456789012345678901234567890123" /* 64 */,
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        key.kernel = bad_names[i];
        cr_assert_eq(pt__cache_store(tmp, &key, b, 4), PT_EINVAL, "kernel %zu", i);
        cr_assert_eq(pt__cache_load(tmp, &key, &got, &len), PT_EINVAL, "kernel %zu", i);
    }
    key.kernel = "x12345678901234567890123456789012345678901234567890123456789012"; /* 63 */
    cr_assert_eq(pt__cache_store(tmp, &key, b, 4), 0);
    expect_hit(tmp, &key, b, 4);

    key = base_key();
    cr_assert_eq(pt__cache_store(tmp, NULL, b, 4), PT_EINVAL);
    cr_assert_eq(pt__cache_store(tmp, &key, NULL, 4), PT_EINVAL);
    cr_assert_eq(pt__cache_load(tmp, NULL, &got, &len), PT_EINVAL);
    cr_assert_eq(pt__cache_load(tmp, &key, NULL, &len), PT_EINVAL);
    cr_assert_eq(pt__cache_load(tmp, &key, &got, NULL), PT_EINVAL);
    key.source = NULL;
    cr_assert_eq(pt__cache_store(tmp, &key, b, 4), PT_EINVAL);

    /* NULL strings count as "". */
    pt__cache_key bare = {.kernel = "k"};
    cr_assert_eq(pt__cache_store(tmp, &bare, b, 4), 0);
    expect_hit(tmp, &bare, b, 4);
    pt__cache_key blank = {
        .kernel = "k", .source = "", .options = "", .device = "", .driver = "", .platform = ""};
    expect_hit(tmp, &blank, b, 4);

    char buf[16];
    pt_cache_entry *list;
    size_t n;
    cr_assert_eq(pt_cache_path(NULL, NULL, 10), PT_EINVAL);
    cr_assert_eq(pt_cache_path(NULL, buf, 0), PT_EINVAL);
    cr_assert_eq(pt_cache_list(tmp, NULL, &n), PT_EINVAL);
    cr_assert_eq(pt_cache_list(tmp, &list, NULL), PT_EINVAL);
}

/* ---- the default directory ------------------------------------------------ */

static void clear_env(void)
{
    unsetenv("PTOOL_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
}

static void expect_path(const char *dir, const char *want)
{
    char buf[512];
    int rc = pt_cache_path(dir, buf, sizeof(buf));
    cr_assert_eq(rc, 0, "pt_cache_path: %s", pt_err_name(rc));
    cr_assert_str_eq(buf, want);
}

Test(cache, path_env_order)
{
    clear_env();
    char buf[512];
    cr_assert_eq(pt_cache_path(NULL, buf, sizeof(buf)), PT_ENOENT);
    setenv("HOME", "", 1);
    cr_assert_eq(pt_cache_path(NULL, buf, sizeof(buf)), PT_ENOENT);

    setenv("HOME", "/home/u", 1);
    expect_path(NULL, "/home/u/.cache/ptool");
    setenv("XDG_CACHE_HOME", "relative/cache", 1); /* not absolute: ignored */
    expect_path(NULL, "/home/u/.cache/ptool");
    setenv("XDG_CACHE_HOME", "", 1);
    expect_path(NULL, "/home/u/.cache/ptool");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    expect_path(NULL, "/xdg/ptool");
    setenv("PTOOL_CACHE_DIR", "", 1); /* empty: ignored */
    expect_path(NULL, "/xdg/ptool");
    setenv("PTOOL_CACHE_DIR", "/opt/pc", 1);
    expect_path(NULL, "/opt/pc");
    setenv("PTOOL_CACHE_DIR", "rel/pc", 1); /* used as is */
    expect_path(NULL, "rel/pc");

    /* An explicit directory wins over everything, "" included. */
    expect_path("/given/dir", "/given/dir");
    expect_path("", "");
    clear_env();
    expect_path("/given/dir", "/given/dir");

    setenv("XDG_CACHE_HOME", "/xdg", 1); /* without HOME */
    expect_path(NULL, "/xdg/ptool");
}

Test(cache, path_buffer_too_small)
{
    clear_env();
    setenv("HOME", "/home/u", 1);
    char buf[21];
    cr_assert_eq(pt_cache_path(NULL, buf, sizeof(buf)), 0); /* 20 chars fit exactly */
    cr_assert_str_eq(buf, "/home/u/.cache/ptool");
    cr_assert_eq(pt_cache_path(NULL, buf, 20), PT_ERANGE);
    cr_assert_eq(pt_cache_path("/abc", buf, 4), PT_ERANGE);
    cr_assert_eq(pt_cache_path("/abc", buf, 5), 0);
}

Test(cache, default_dir_used)
{
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(500, 13);
    char dir[256], path[512];

    clear_env();
    cr_assert_eq(pt__cache_store(NULL, &key, bin, 500), PT_ENOENT);
    expect_miss(NULL, &key);
    pt_cache_entry *list;
    size_t n, removed;
    cr_assert_eq(pt_cache_list(NULL, &list, &n), PT_ENOENT);
    cr_assert_eq(pt_cache_clear(NULL, &removed), PT_ENOENT);

    setenv("HOME", tmp, 1);
    cr_assert_eq(pt__cache_store(NULL, &key, bin, 500), 0);
    expect_hit(NULL, &key, bin, 500);
    only_entry(sub(dir, sizeof(dir), ".cache/ptool"), path, sizeof(path));

    setenv("PTOOL_CACHE_DIR", sub(dir, sizeof(dir), "env"), 1);
    expect_miss(NULL, &key);
    cr_assert_eq(pt__cache_store(NULL, &key, bin, 500), 0);
    only_entry(dir, path, sizeof(path));
    cr_assert_eq(pt_cache_list(NULL, &list, &n), 0);
    cr_assert_eq(n, 1);
    pt_free(list);
    cr_assert_eq(pt_cache_clear(NULL, &removed), 0);
    cr_assert_eq(removed, 1);
    free(bin);
}

/* ---- list and clear ------------------------------------------------------ */

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

Test(cache, list_entries)
{
    char dir[256], junk[512];
    sub(dir, sizeof(dir), "c");
    pt_cache_entry *list = (pt_cache_entry *)&list;
    size_t n = 99;

    /* A missing directory is an empty cache. */
    cr_assert_eq(pt_cache_list(dir, &list, &n), 0);
    cr_assert_null(list);
    cr_assert_eq(n, 0);

    static const struct {
        const char *kernel, *device, *driver;
        size_t size;
        time_t mtime;
    } e[] = {
        {"isprime", "dev A", "1.0", 1000, 1600000000},
        {"mandel", "dev B", "2.0", 20000, 1700000000},
        {"sieve", "dev C", "3.0", 0, 1650000000},
    };
    char paths[3][512];
    for (int i = 0; i < 3; i++) {
        pt__cache_key key = base_key();
        key.kernel = e[i].kernel;
        key.device = e[i].device;
        key.driver = e[i].driver;
        unsigned char *bin = make_bin(e[i].size, (unsigned)i);
        cr_assert_eq(pt__cache_store(dir, &key, bin, e[i].size), 0);
        free(bin);
        int entries, temps;
        scan(dir, &entries, &temps, NULL, 0);
        cr_assert_eq(entries, i + 1);
    }
    /* Find each entry's file by its kernel prefix and date it. */
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        for (int i = 0; i < 3; i++)
            if (strncmp(de->d_name, e[i].kernel, strlen(e[i].kernel)) == 0 &&
                de->d_name[strlen(e[i].kernel)] == '-')
                snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, de->d_name);
    closedir(d);
    for (int i = 0; i < 3; i++)
        set_mtime(paths[i], e[i].mtime);

    /* Junk that must be skipped. */
    snprintf(junk, sizeof(junk), "%s/junk.clbin", dir);
    write_file(junk, "not an entry\n\n", 14);
    snprintf(junk, sizeof(junk), "%s/notes.txt", dir);
    write_file(junk, "hello", 5);
    snprintf(junk, sizeof(junk), "%s/dir.clbin", dir);
    cr_assert_eq(mkdir(junk, 0700), 0);
    snprintf(junk, sizeof(junk), "%s/.tmp-1-abc", dir);
    write_file(junk, "partial", 7);
    size_t flen;
    unsigned char *copy = read_file(paths[1], &flen);
    snprintf(junk, sizeof(junk), "%s/trunc-000000000000000000000000.clbin", dir);
    write_file(junk, copy, flen - 1); /* parseable header, short binary */
    free(copy);

    cr_assert_eq(pt_cache_list(dir, &list, &n), 0);
    cr_assert_eq(n, 3);
    const int order[3] = {1, 2, 0}; /* newest first */
    for (int j = 0; j < 3; j++) {
        int i = order[j];
        struct stat st;
        cr_assert_eq(stat(paths[i], &st), 0);
        cr_assert_str_eq(list[j].kernel, e[i].kernel);
        cr_assert_str_eq(list[j].device, e[i].device);
        cr_assert_str_eq(list[j].driver, e[i].driver);
        cr_assert_str_eq(list[j].file, strrchr(paths[i], '/') + 1);
        cr_assert_eq(list[j].bytes, (uint64_t)st.st_size);
        cr_assert(list[j].bytes > e[i].size);
        cr_assert_eq(list[j].mtime, (int64_t)e[i].mtime);
    }
    pt_free(list);
}

Test(cache, list_truncates_long_fields)
{
    char device[300], driver[100];
    memset(device, 'D', sizeof(device) - 1);
    device[sizeof(device) - 1] = '\0';
    memset(driver, 'V', sizeof(driver) - 1);
    driver[sizeof(driver) - 1] = '\0';
    pt__cache_key key = base_key();
    key.device = device;
    key.driver = driver;
    key.kernel = "k23456789012345678901234567890123456789012345678901234567890123"; /* 63 */
    unsigned char b[3] = {1, 2, 3};
    cr_assert_eq(pt__cache_store(tmp, &key, b, 3), 0);
    expect_hit(tmp, &key, b, 3);

    pt_cache_entry *list;
    size_t n;
    cr_assert_eq(pt_cache_list(tmp, &list, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0].kernel, key.kernel);
    cr_assert_eq(strlen(list[0].device), sizeof(list[0].device) - 1);
    cr_assert_eq(strncmp(list[0].device, device, sizeof(list[0].device) - 1), 0);
    cr_assert_eq(strlen(list[0].driver), sizeof(list[0].driver) - 1);
    cr_assert_eq(strlen(list[0].file), 63 + 1 + 24 + 6);
    pt_free(list);
}

Test(cache, clear_removes_only_ours)
{
    char dir[256], p[512];
    size_t removed = 99;
    sub(dir, sizeof(dir), "c");
    cr_assert_eq(pt_cache_clear(dir, &removed), 0); /* missing directory */
    cr_assert_eq(removed, 0);
    cr_assert_eq(pt_cache_clear(dir, NULL), 0);

    pt__cache_key a = base_key(), b = base_key();
    b.kernel = "mandel";
    unsigned char bin[64] = {0};
    cr_assert_eq(pt__cache_store(dir, &a, bin, sizeof(bin)), 0);
    cr_assert_eq(pt__cache_store(dir, &b, bin, sizeof(bin)), 0);
    snprintf(p, sizeof(p), "%s/.tmp-4242-0123456789abcdef", dir);
    write_file(p, "half", 4);
    snprintf(p, sizeof(p), "%s/.tmp-", dir);
    write_file(p, "", 0);
    snprintf(p, sizeof(p), "%s/junk.clbin", dir); /* ours by name: removed */
    write_file(p, "junk", 4);
    snprintf(p, sizeof(p), "%s/keep.txt", dir);
    write_file(p, "keep", 4);
    snprintf(p, sizeof(p), "%s/tmp-not-hidden", dir);
    write_file(p, "keep", 4);
    snprintf(p, sizeof(p), "%s/keep.clbin.bak", dir);
    write_file(p, "keep", 4);
    snprintf(p, sizeof(p), "%s/subdir.clbin", dir);
    cr_assert_eq(mkdir(p, 0700), 0);

    cr_assert_eq(pt_cache_clear(dir, &removed), 0);
    cr_assert_eq(removed, 3);
    expect_miss(dir, &a);
    expect_miss(dir, &b);

    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    int left = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        left++;
        cr_assert(strcmp(de->d_name, "keep.txt") == 0 ||
                      strcmp(de->d_name, "tmp-not-hidden") == 0 ||
                      strcmp(de->d_name, "keep.clbin.bak") == 0 ||
                      strcmp(de->d_name, "subdir.clbin") == 0,
                  "left behind: %s", de->d_name);
    }
    closedir(d);
    cr_assert_eq(left, 4);

    cr_assert_eq(pt_cache_clear(dir, &removed), 0);
    cr_assert_eq(removed, 0);
}

/* ---- concurrency --------------------------------------------------------- */

#define WRITERS    8
#define READERS    2
#define STORES     20
#define BIG_BINARY (1u << 20)

/* Child: stores key STORES times; exit status 0 when every store worked. */
static _Noreturn void writer(const char *dir, const pt__cache_key *key, const unsigned char *bin)
{
    for (int i = 0; i < STORES; i++)
        if (pt__cache_store(dir, key, bin, BIG_BINARY) != 0)
            _exit(1);
    _exit(0);
}

/* Child: loads until `done` exists, then once more. Exit status 0: every
 * hit had exactly the right bytes, no miss followed a hit, the final load
 * hit; 1 wrong bytes; 2 miss after a hit; 3 final load missed. */
static _Noreturn void reader(const char *dir, const pt__cache_key *key, const unsigned char *bin,
                             const char *done, int report)
{
    bool seen = false;
    unsigned long hits = 0;
    for (;;) {
        bool last = access(done, F_OK) == 0;
        unsigned char *got = NULL;
        size_t len = 0;
        int rc = pt__cache_load(dir, key, &got, &len);
        if (rc == 0) {
            if (len != BIG_BINARY || memcmp(got, bin, BIG_BINARY) != 0)
                _exit(1);
            free(got);
            seen = true;
            hits++;
        } else if (seen) {
            _exit(2); /* the entry vanished or was half written */
        } else if (last) {
            _exit(3);
        }
        if (last)
            break;
    }
    if (write(report, &hits, sizeof(hits)) != (ssize_t)sizeof(hits))
        _exit(4);
    _exit(0);
}

Test(cache, concurrent_writers_and_readers, .timeout = 300)
{
    char dir[256], done[256];
    sub(dir, sizeof(dir), "shared");
    sub(done, sizeof(done), "done");
    pt__cache_key key = base_key();
    unsigned char *bin = make_bin(BIG_BINARY, 14);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);

    pid_t readers[READERS], writers[WRITERS];
    for (int i = 0; i < READERS; i++) {
        readers[i] = fork();
        cr_assert_geq(readers[i], 0);
        if (readers[i] == 0)
            reader(dir, &key, bin, done, fds[1]);
    }
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = fork();
        cr_assert_geq(writers[i], 0);
        if (writers[i] == 0)
            writer(dir, &key, bin);
    }
    close(fds[1]);

    int status;
    for (int i = 0; i < WRITERS; i++) {
        cr_assert_eq(waitpid(writers[i], &status, 0), writers[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %#x", i,
                  (unsigned)status);
    }
    write_file(done, "", 0);
    for (int i = 0; i < READERS; i++) {
        cr_assert_eq(waitpid(readers[i], &status, 0), readers[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader %d: status %#x", i,
                  (unsigned)status);
    }
    unsigned long hits, total = 0;
    while (read(fds[0], &hits, sizeof(hits)) == (ssize_t)sizeof(hits))
        total += hits;
    close(fds[0]);
    cr_assert_geq(total, READERS);
    cr_log_info("concurrent readers: %lu hits", total);

    char path[512];
    only_entry(dir, path, sizeof(path)); /* one entry, no .tmp- files */
    expect_hit(dir, &key, bin, BIG_BINARY);
    free(bin);
}
