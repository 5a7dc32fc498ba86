/* test_io_hash.c - <ptool/hash.h>: file digests read on a libuv loop and
 * hashed on the pool; the sums-file format functions.
 *
 * SHA-256 results are checked against the compute library's own SHA-256
 * (compute/src/sha256.c, an independent implementation), other digests
 * against a one-shot EVP digest of the same bytes (pt_hash_buffer) and
 * known answers. The CLI, compared byte for byte with coreutils, is tested
 * in test_io_hash_cli.c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "ptool/hash.h"
#include "ptool/ptool.h"
#include "sha256.h"

static char dir[64];

static void mk(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ptool-hash-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(hash, .init = mk, .fini = rm, .timeout = 120);

/* --- helpers ----------------------------------------------------------------- */

/* dir/rel into buf. */
static const char *at(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", dir, rel);
    return buf;
}

/* Deterministic bytes: a simple LCG stream seeded by `seed`. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    pt__sha256(data, n, md);
    pt__hex(md, 32, out);
}

/* What a run delivered. */
typedef struct got {
    char path[512];
    size_t arg_index;
    int status;
    pt_hash_kind kind;
    char hex[2 * PT_HASH_MAX_DIGEST + 1];
    uint64_t bytes;
    int match;
} got;

typedef struct collect {
    got *r;
    size_t n, cap;
    int done_calls, done_status;
    pthread_t loop_thread;
    bool off_loop;
    pt_hash *h;
    size_t cancel_after; /* 0: never */
} collect;

static void on_result(const pt_hash_result *r, void *arg)
{
    collect *c = arg;
    if (!pthread_equal(pthread_self(), c->loop_thread))
        c->off_loop = true;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->r = realloc(c->r, c->cap * sizeof(*c->r));
        cr_assert_not_null(c->r);
    }
    got *g = &c->r[c->n++];
    memset(g, 0, sizeof(*g));
    snprintf(g->path, sizeof(g->path), "%s", r->path);
    g->arg_index = r->arg_index;
    g->status = r->status;
    g->kind = r->kind;
    g->bytes = r->bytes;
    g->match = r->match;
    if (r->status == 0) {
        cr_assert_not_null(r->hex);
        cr_assert_eq(strlen(r->hex), 2 * r->digest_len);
        snprintf(g->hex, sizeof(g->hex), "%s", r->hex);
    } else {
        cr_assert_null(r->hex);
    }
    if (c->cancel_after && c->n == c->cancel_after)
        pt_hash_cancel(c->h);
}

static void on_done(void *arg, int status)
{
    collect *c = arg;
    c->done_calls++;
    c->done_status = status;
}

/* Runs one hash over paths with opts (callbacks filled in here) on a pool
 * of `threads`; returns what came back. */
static collect run(const char *const *paths, size_t n, pt_hash_options o, unsigned threads)
{
    collect c = {.loop_thread = pthread_self()};
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    pt_pool *pool;
    pt_pool_options po = {.threads = threads};
    cr_assert_eq(pt_pool_create(&pool, &po), 0);
    o.on_result = on_result;
    o.on_done = on_done;
    o.arg = &c;
    char err[256] = "";
    int rc = pt_hash_start(&c.h, &loop, pool, paths, n, &o, err, sizeof(err));
    cr_assert_eq(rc, 0, "pt_hash_start: %s", err);
    cr_assert_eq(c.n, 0, "no callback before the loop runs");
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(c.done_calls, 1, "on_done once");
    pt_hash_destroy(c.h);
    cr_assert_eq(uv_loop_close(&loop), 0, "the run left no handle open");
    pt_pool_destroy(pool);
    cr_assert(!c.off_loop, "callbacks run on the loop thread");
    return c;
}

/* --- digests ----------------------------------------------------------------- */

Test(hash, algo_info_and_known_answers)
{
    size_t n;
    char tag[32];
    cr_assert_eq(pt_hash_algo_info("sha256", &n, tag, sizeof(tag)), 0);
    cr_assert_eq(n, 32);
    cr_assert_str_eq(tag, "SHA256");
    cr_assert_eq(pt_hash_algo_info("SHA512", &n, tag, sizeof(tag)), 0);
    cr_assert_eq(n, 64);
    cr_assert_str_eq(tag, "SHA512");
    cr_assert_eq(pt_hash_algo_info("md5", &n, tag, sizeof(tag)), 0);
    cr_assert_str_eq(tag, "MD5");
    cr_assert_eq(pt_hash_algo_info("blake2b512", &n, tag, sizeof(tag)), 0);
    cr_assert_str_eq(tag, "BLAKE2b");
    cr_assert_eq(pt_hash_algo_info("sha3-256", &n, tag, sizeof(tag)), 0);
    cr_assert_str_eq(tag, "SHA3-256");
    cr_assert_eq(pt_hash_algo_info("sha1", NULL, tag, sizeof(tag)), 0);
    cr_assert_str_eq(tag, "SHA1");
    cr_assert_eq(pt_hash_algo_info("no-such-digest", &n, tag, sizeof(tag)), PT_EUNKNOWN);
    cr_assert_eq(pt_hash_algo_info("", &n, NULL, 0), PT_EUNKNOWN);
    cr_assert_eq(pt_hash_algo_info(NULL, &n, NULL, 0), PT_EUNKNOWN);

    /* FIPS 180-2 and RFC 1321 known answers for "abc". */
    unsigned char md[PT_HASH_MAX_DIGEST];
    char hex[2 * PT_HASH_MAX_DIGEST + 1];
    cr_assert_eq(pt_hash_buffer("sha256", "abc", 3, md, &n), 0);
    pt__hex(md, n, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(pt_hash_buffer("md5", "abc", 3, md, &n), 0);
    pt__hex(md, n, hex);
    cr_assert_str_eq(hex, "900150983cd24fb0d6963f7d28e17f72");
    cr_assert_eq(pt_hash_buffer("sha512", "abc", 3, md, &n), 0);
    pt__hex(md, n, hex);
    cr_assert_str_eq(hex, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    cr_assert_eq(pt_hash_buffer("nope", "abc", 3, md, &n), PT_EUNKNOWN);
}

/* Sizes around the block size and the SHA block size, several blocks. */
static void sizes_case(const char *algo, size_t block, unsigned threads, unsigned max_open)
{
    const size_t b = block ? block : (2u << 20); /* the default */
    const size_t sizes[] = {
        0, 1, 55, 64, 65, b - 1, b, b + 1, 2 * b, 3 * b + 17, 5 * 1024 * 1024 + 123};
    const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
    char paths[16][256];
    const char *pv[16];
    unsigned char *data[16];
    for (size_t i = 0; i < nsizes; i++) {
        char rel[32];
        snprintf(rel, sizeof(rel), "f%02zu", i);
        at(paths[i], sizeof(paths[i]), rel);
        data[i] = pattern(sizes[i], (unsigned)i + 7);
        write_file(paths[i], data[i], sizes[i]);
        pv[i] = paths[i];
    }
    pt_hash_options o = {.algo = algo, .block_size = block, .max_open = max_open};
    collect c = run(pv, nsizes, o, threads);
    cr_assert_eq(c.n, nsizes);
    for (size_t i = 0; i < nsizes; i++) {
        const got *g = &c.r[i];
        cr_assert_str_eq(g->path, paths[i], "results in argument order");
        cr_assert_eq(g->arg_index, i);
        cr_assert_eq(g->status, 0, "%s: %s", g->path, pt_strerror(g->status));
        cr_assert_eq(g->kind, PT_HASH_KIND_FILE);
        cr_assert_eq(g->bytes, sizes[i]);
        cr_assert_eq(g->match, -1);
        char want[2 * PT_HASH_MAX_DIGEST + 1];
        if (!algo || !strcmp(algo, "sha256")) {
            sha256_hex(data[i], sizes[i], want);
        } else {
            unsigned char md[PT_HASH_MAX_DIGEST];
            size_t n;
            cr_assert_eq(pt_hash_buffer(algo, data[i], sizes[i], md, &n), 0);
            pt__hex(md, n, want);
        }
        cr_assert_str_eq(g->hex, want, "%s (%zu bytes, %s, block %zu)", g->path, sizes[i],
                         algo ? algo : "sha256", b);
        free(data[i]);
    }
    free(c.r);
}

Test(hash, sha256_sizes_default_block)
{
    sizes_case(NULL, 0, 2, 0);
}

Test(hash, sha256_sizes_small_blocks_one_thread_one_file)
{
    sizes_case("sha256", 4096, 1, 1);
}

Test(hash, sha256_sizes_small_blocks_many_files)
{
    sizes_case("sha256", 8192, 3, 16);
}

Test(hash, other_digests)
{
    sizes_case("sha512", 4096, 2, 0);
    sizes_case("md5", 65536, 2, 0);
    sizes_case("blake2b512", 4096, 2, 3);
}

/* --- walking directories ------------------------------------------------------- */

Test(hash, directories_depth_first_in_name_order)
{
    char p[512];
    /* d/: b, a, sub/c, sub/sub2/e, b.txt, z (empty dir), link -> sub/c,
     * dirlink -> sub (not followed), loop -> . (not followed). */
    mkdir(at(p, sizeof(p), "d"), 0755);
    mkdir(at(p, sizeof(p), "d/sub"), 0755);
    mkdir(at(p, sizeof(p), "d/sub/sub2"), 0755);
    mkdir(at(p, sizeof(p), "d/z"), 0755);
    write_file(at(p, sizeof(p), "d/b"), "b", 1);
    write_file(at(p, sizeof(p), "d/a"), "a", 1);
    write_file(at(p, sizeof(p), "d/b.txt"), "bt", 2);
    write_file(at(p, sizeof(p), "d/sub/c"), "c", 1);
    write_file(at(p, sizeof(p), "d/sub/sub2/e"), "e", 1);
    write_file(at(p, sizeof(p), "top"), "top", 3);
    cr_assert_eq(symlink("sub/c", at(p, sizeof(p), "d/link")), 0);
    cr_assert_eq(symlink("sub", at(p, sizeof(p), "d/dirlink")), 0);
    cr_assert_eq(symlink(".", at(p, sizeof(p), "d/loop")), 0);
    cr_assert_eq(symlink("d", at(p, sizeof(p), "dl")), 0);

    char d[256], top[256], dl[256], dslash[256];
    at(d, sizeof(d), "d");
    at(top, sizeof(top), "top");
    at(dl, sizeof(dl), "dl");
    snprintf(dslash, sizeof(dslash), "%s/d/", dir);
    const char *pv[] = {top, d, dl, dslash};
    const char *rels[] = {"d/a", "d/b", "d/b.txt", "d/link", "d/sub/c", "d/sub/sub2/e"};
    const char *content[] = {"a", "b", "bt", "c", "c", "e"};
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        collect c = run(pv, 4, (pt_hash_options){.max_open = threads == 1 ? 1 : 0}, threads);
        cr_assert_eq(c.n, 1 + 3 * 6, "top + 3 walks of 6 files, got %zu", c.n);
        cr_assert_str_eq(c.r[0].path, top);
        for (size_t w = 0; w < 3; w++) {
            for (size_t i = 0; i < 6; i++) {
                const got *g = &c.r[1 + 6 * w + i];
                char want_path[512], want_hex[65];
                /* The walk's names start with the path as given. */
                const char *base = pv[1 + w];
                size_t bl = strlen(base);
                snprintf(want_path, sizeof(want_path), "%s%s%s", base,
                         base[bl - 1] == '/' ? "" : "/", rels[i] + 2);
                cr_assert_str_eq(g->path, want_path, "walk %zu entry %zu", w, i);
                cr_assert_eq(g->arg_index, 1 + w);
                cr_assert_eq(g->status, 0);
                sha256_hex(content[i], strlen(content[i]), want_hex);
                cr_assert_str_eq(g->hex, want_hex);
            }
        }
        free(c.r);
    }
}

Test(hash, a_directory_is_an_error_without_recursion)
{
    char d[256], x[256];
    mkdir(at(d, sizeof(d), "d"), 0755);
    write_file(at(x, sizeof(x), "d/x"), "x", 1);
    const char *pv[] = {d};
    collect c = run(pv, 1, (pt_hash_options){.no_recurse = true}, 2);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.r[0].status, PT_EISDIR);
    cr_assert_eq(c.r[0].kind, PT_HASH_KIND_DIR);
    free(c.r);
}

/* --- files that must not be read --------------------------------------------------- */

static int make_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", path,
                 strerror(errno));
    return fd;
}

Test(hash, fifos_sockets_devices_and_dangling_links_fail_without_blocking, .timeout = 60)
{
    char fifo[256], sock[256], dang[256], loop1[256], missing[256], ok[256], d[256], p[256];
    cr_assert_eq(mkfifo(at(fifo, sizeof(fifo), "fifo"), 0644), 0);
    int sfd = make_socket(at(sock, sizeof(sock), "sock"));
    cr_assert_eq(symlink("nowhere", at(dang, sizeof(dang), "dangling")), 0);
    cr_assert_eq(symlink("loop1", at(loop1, sizeof(loop1), "loop1")), 0);
    at(missing, sizeof(missing), "missing");
    write_file(at(ok, sizeof(ok), "ok"), "ok", 2);
    /* The same kinds inside a directory, found by the walk. */
    mkdir(at(d, sizeof(d), "d"), 0755);
    cr_assert_eq(mkfifo(at(p, sizeof(p), "d/fifo"), 0644), 0);
    cr_assert_eq(symlink("nowhere", at(p, sizeof(p), "d/dangling")), 0);
    cr_assert_eq(symlink("/dev/null", at(p, sizeof(p), "d/devlink")), 0);
    cr_assert_eq(symlink("../fifo", at(p, sizeof(p), "d/fifolink")), 0);
    int sfd2 = make_socket(at(p, sizeof(p), "d/sock"));
    write_file(at(p, sizeof(p), "d/zz"), "zz", 2);

    const char *pv[] = {fifo, sock, "/dev/null", dang, loop1, missing, ok, d};
    collect c = run(pv, 8, (pt_hash_options){0}, 2);
    cr_assert_eq(c.n, 7 + 6, "got %zu results", c.n);
    struct {
        size_t i;
        int status;
        pt_hash_kind kind;
    } want[] = {{0, PT_EINVAL, PT_HASH_KIND_FIFO},
                {1, PT_EINVAL, PT_HASH_KIND_SOCKET},
                {2, PT_EINVAL, PT_HASH_KIND_CHARDEV},
                {3, PT_ENOENT, PT_HASH_KIND_DANGLING},
                {4, PT_ELOOP, PT_HASH_KIND_UNKNOWN},
                {5, PT_ENOENT, PT_HASH_KIND_UNKNOWN},
                {6, 0, PT_HASH_KIND_FILE},
                {7, PT_ENOENT, PT_HASH_KIND_DANGLING},
                {8, PT_EINVAL, PT_HASH_KIND_CHARDEV},
                {9, PT_EINVAL, PT_HASH_KIND_FIFO},
                {10, PT_EINVAL, PT_HASH_KIND_FIFO},
                {11, PT_EINVAL, PT_HASH_KIND_SOCKET},
                {12, 0, PT_HASH_KIND_FILE}};
    const char *names[] = {"fifo",       "sock",   "/dev/null",  "dangling",  "loop1",
                           "missing",    "ok",     "d/dangling", "d/devlink", "d/fifo",
                           "d/fifolink", "d/sock", "d/zz"};
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        const got *g = &c.r[want[k].i];
        char path[256];
        if (names[k][0] == '/')
            snprintf(path, sizeof(path), "%s", names[k]);
        else
            at(path, sizeof(path), names[k]);
        cr_assert_str_eq(g->path, path);
        cr_assert_eq(g->status, want[k].status, "%s: status %d (%s), want %d", g->path, g->status,
                     pt_strerror(g->status), want[k].status);
        cr_assert_eq(g->kind, want[k].kind, "%s: kind %d, want %d", g->path, g->kind, want[k].kind);
    }
    close(sfd);
    close(sfd2);
    free(c.r);
}

/* --- check mode, stdin, cancel, errors ------------------------------------------------ */

Test(hash, expected_digests_match_case_insensitively)
{
    char a[256], b[256], d[256];
    write_file(at(a, sizeof(a), "a"), "abc", 3);
    write_file(at(b, sizeof(b), "b"), "abd", 3);
    mkdir(at(d, sizeof(d), "d"), 0755);
    const char *pv[] = {a, a, b, a, d, b};
    const char *expect[] = {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                            "ba7816bf",
                            NULL,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    collect c = run(pv, 6, (pt_hash_options){.expect = expect}, 2);
    cr_assert_eq(c.n, 6);
    int want[] = {1, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(c.r[i].match, want[i], "entry %zu", i);
    cr_assert_eq(c.r[4].status, PT_EISDIR, "a directory is an error when checking");
    cr_assert_eq(c.r[4].match, -1, "no expectation given");
    cr_assert_eq(c.r[5].match, 0);
    free(c.r);
}

Test(hash, dash_is_stdin)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    unsigned char *data = pattern(50000, 3);
    cr_assert_eq(write(fds[1], data, 50000), 50000);
    close(fds[1]);
    cr_assert(dup2(fds[0], 0) == 0);
    close(fds[0]);
    char dash_file[256];
    write_file(at(dash_file, sizeof(dash_file), "-"), "x", 1);
    const char *pv[] = {"-"};
    collect c = run(pv, 1, (pt_hash_options){.dash_is_stdin = true, .block_size = 4096}, 2);
    cr_assert_eq(c.n, 1);
    char want[65];
    sha256_hex(data, 50000, want);
    cr_assert_eq(c.r[0].status, 0);
    cr_assert_str_eq(c.r[0].hex, want);
    cr_assert_eq(c.r[0].bytes, 50000);
    free(c.r);
    free(data);
}

Test(hash, cancel_stops_starting_files)
{
    enum { N = 200 };
    char paths[N][256];
    const char *pv[N];
    for (int i = 0; i < N; i++) {
        char rel[16];
        snprintf(rel, sizeof(rel), "f%03d", i);
        write_file(at(paths[i], sizeof(paths[i]), rel), rel, strlen(rel));
        pv[i] = paths[i];
    }
    collect c = {.loop_thread = pthread_self(), .cancel_after = 3};
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_pool *pool;
    pt_pool_options po = {.threads = 1};
    pt_pool_create(&pool, &po);
    pt_hash_options o = {.max_open = 1, .on_result = on_result, .on_done = on_done, .arg = &c};
    cr_assert_eq(pt_hash_start(&c.h, &loop, pool, pv, N, &o, NULL, 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(c.done_calls, 1);
    cr_assert_eq(c.done_status, PT_ECANCELED);
    cr_assert(c.n >= 3 && c.n < N, "stopped early: %zu results", c.n);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_str_eq(c.r[i].path, paths[i], "the results that came are in order");
    pt_hash_destroy(c.h);
    cr_assert_eq(uv_loop_close(&loop), 0);
    pt_pool_destroy(pool);
    free(c.r);
}

Test(hash, empty_list_finishes)
{
    collect c = run(NULL, 0, (pt_hash_options){0}, 1);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.done_status, 0);
}

Test(hash, many_small_files_in_order)
{
    enum { N = 1000 };
    char(*paths)[256] = calloc(N, sizeof(*paths));
    const char **pv = calloc(N, sizeof(*pv));
    for (int i = 0; i < N; i++) {
        char rel[16];
        /* Written in reverse name order: the run must not care. */
        snprintf(rel, sizeof(rel), "f%04d", N - 1 - i);
        unsigned char *data = pattern((size_t)(i % 100) * 37, (unsigned)i);
        write_file(at(paths[i], sizeof(paths[i]), rel), data, (size_t)(i % 100) * 37);
        free(data);
        pv[i] = paths[i];
    }
    collect c = run(pv, N, (pt_hash_options){.block_size = 4096}, 2);
    cr_assert_eq(c.n, N);
    for (int i = 0; i < N; i++) {
        cr_assert_str_eq(c.r[i].path, paths[i]);
        cr_assert_eq(c.r[i].status, 0);
        cr_assert_eq(c.r[i].bytes, (uint64_t)(i % 100) * 37);
    }
    free(c.r);
    free(paths);
    free(pv);
}

Test(hash, bad_arguments)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_pool *pool;
    pt_pool_create(&pool, NULL);
    pt_hash *h = NULL;
    const char *pv[] = {"x"};
    char err[256];
    pt_hash_options o = {.on_result = on_result};
    cr_assert_eq(pt_hash_start(NULL, &loop, pool, pv, 1, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert_eq(pt_hash_start(&h, NULL, pool, pv, 1, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert_eq(pt_hash_start(&h, &loop, NULL, pv, 1, &o, err, sizeof(err)), PT_EINVAL);
    cr_assert_eq(pt_hash_start(&h, &loop, pool, NULL, 1, &o, err, sizeof(err)), PT_EINVAL);
    pt_hash_options none = {0};
    cr_assert_eq(pt_hash_start(&h, &loop, pool, pv, 1, &none, err, sizeof(err)), PT_EINVAL);
    pt_hash_options small = {.on_result = on_result, .block_size = 100};
    cr_assert_eq(pt_hash_start(&h, &loop, pool, pv, 1, &small, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "block size"), "%s", err);
    pt_hash_options bad = {.on_result = on_result, .algo = "sha999"};
    cr_assert_eq(pt_hash_start(&h, &loop, pool, pv, 1, &bad, err, sizeof(err)), PT_EUNKNOWN);
    cr_assert(strstr(err, "sha999"), "the message names the digest: %s", err);
    cr_assert_null(h);
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0, "a failed start left nothing on the loop");
    cr_assert_eq(uv_loop_close(&loop), 0);
    pt_pool_destroy(pool);
    pt_hash_destroy(NULL);
    pt_hash_cancel(NULL);
}

/* --- the sums-file format --------------------------------------------------------- */

Test(hash, format_lines_like_sha256sum)
{
    char b[256];
    const char *h = "abcd";
    cr_assert_eq(pt_hash_format_line(b, sizeof(b), "SHA256", h, "plain name", 0), 17);
    cr_assert_str_eq(b, "abcd  plain name\n");
    pt_hash_format_line(b, sizeof(b), "SHA256", h, "x", PT_HASH_FMT_BINARY);
    cr_assert_str_eq(b, "abcd *x\n");
    pt_hash_format_line(b, sizeof(b), "SHA256", h, "a\\b\nc\rd", 0);
    cr_assert_str_eq(b, "\\abcd  a\\\\b\\nc\\rd\n");
    pt_hash_format_line(b, sizeof(b), "SHA256", h, "cr\rx", 0);
    cr_assert_str_eq(b, "\\abcd  cr\\rx\n");
    pt_hash_format_line(b, sizeof(b), "SHA256", h, "\\start", 0);
    cr_assert_str_eq(b, "\\abcd  \\\\start\n");
    pt_hash_format_line(b, sizeof(b), "SHA256", h, "a b", PT_HASH_FMT_TAG);
    cr_assert_str_eq(b, "SHA256 (a b) = abcd\n");
    pt_hash_format_line(b, sizeof(b), "MD5", h, "a\nb", PT_HASH_FMT_TAG);
    cr_assert_str_eq(b, "\\MD5 (a\\nb) = abcd\n");
    size_t n = pt_hash_format_line(b, sizeof(b), "SHA256", h, "a\nb", PT_HASH_FMT_ZERO);
    cr_assert_eq(n, 10);
    cr_assert_eq(memcmp(b, "abcd  a\nb\0", 10), 0, "no escaping with -z, NUL ends it");
    /* snprintf convention: the length it needs, cut short and terminated. */
    cr_assert_eq(pt_hash_format_line(b, 5, "SHA256", h, "long name", 0), 16);
    cr_assert_str_eq(b, "abcd");
    cr_assert_eq(pt_hash_format_line(NULL, 0, "SHA256", h, "x", 0), 8);

    pt_hash_format_check_name(b, sizeof(b), "back\\slash");
    cr_assert_str_eq(b, "back\\slash", "check reports escape only names with a newline");
    pt_hash_format_check_name(b, sizeof(b), "c\rr");
    cr_assert_str_eq(b, "c\rr");
    pt_hash_format_check_name(b, sizeof(b), "a\\b\nc\rd");
    cr_assert_str_eq(b, "\\a\\\\b\\nc\\rd");
}

static int parse(pt_hash_parser *p, const char *text, pt_hash_line *out, char *buf)
{
    size_t n = strlen(text);
    memcpy(buf, text, n + 1);
    return pt_hash_parse_line(p, buf, n, out);
}

Test(hash, parse_sums_lines)
{
    const char *H = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char line[512], buf[600];
    pt_hash_line l;
    pt_hash_parser p = {.hex_len = 64, .tag = "SHA256"};

    snprintf(line, sizeof(line), "%s  name with  spaces \n", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.hex, H);
    cr_assert_str_eq(l.name, "name with  spaces ");
    cr_assert(!l.binary);
    snprintf(line, sizeof(line), "%s *bin\r\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "bin");
    cr_assert(l.binary);
    snprintf(line, sizeof(line), "\\%s  a\\\\b\\nc\\rd\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "a\\b\nc\rd");
    snprintf(line, sizeof(line), "  \t%s  lead-blank\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "lead-blank");
    snprintf(line, sizeof(line), "SHA256 (x (y)) = %s\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "x (y)");
    cr_assert_str_eq(l.hex, H);
    snprintf(line, sizeof(line), "\\SHA256(a\\nb)=%s", H);
    cr_assert_eq(parse(&p, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "a\nb");

    cr_assert_eq(parse(&p, "# comment\n", &l, buf), 0);
    cr_assert_eq(parse(&p, "\n", &l, buf), 0);
    cr_assert_eq(parse(&p, "\r\n", &l, buf), 0);
    cr_assert_eq(parse(&p, "garbage\n", &l, buf), PT_EPARSE);
    snprintf(line, sizeof(line), "%s\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE, "no name");
    snprintf(line, sizeof(line), "%.63s  short\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE, "63 digits");
    snprintf(line, sizeof(line), "%sa  long\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE, "65 digits");
    snprintf(line, sizeof(line), "%.63sg  nothex\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE);
    snprintf(line, sizeof(line), "\\%s  bad\\xescape\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE);
    snprintf(line, sizeof(line), "\\%s  trailing\\\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE);
    snprintf(line, sizeof(line), "MD5 (x) = %s\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE, "another digest's tag");
    snprintf(line, sizeof(line), "SHA256 (x) = %.60s\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE);

    /* The reversed BSD format "HEX NAME", and no mixing within a file. */
    pt_hash_parser q = {.hex_len = 64, .tag = "SHA256"};
    snprintf(line, sizeof(line), "%s name\n", H);
    cr_assert_eq(parse(&q, line, &l, buf), 1);
    cr_assert_str_eq(l.name, "name");
    snprintf(line, sizeof(line), "%s  two\n", H);
    cr_assert_eq(parse(&q, line, &l, buf), 1);
    cr_assert_str_eq(l.name, " two", "in a reversed file the blank is part of the name");
    snprintf(line, sizeof(line), "%s name\n", H);
    cr_assert_eq(parse(&p, line, &l, buf), PT_EPARSE, "p has seen GNU lines");

    pt_hash_parser bad = {0};
    cr_assert_eq(pt_hash_parse_line(&bad, buf, 1, &l), PT_EINVAL);
}

Test(hash, format_then_parse_round_trips)
{
    const char *names[] = {"plain",  "a b",   "back\\slash", "new\nline", "cr\rx",
                           "\\lead", "-dash", "\xc3\xbctf8", "tab\tx",    "both\\\n\r"};
    const char *H = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    pt_hash_parser p = {.hex_len = 64, .tag = "SHA256"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (unsigned flags = 0; flags < 4; flags++) {
            char line[256];
            pt_hash_format_line(line, sizeof(line), "SHA256", H, names[i], flags);
            pt_hash_line l;
            pt_hash_parser fresh = p;
            cr_assert_eq(pt_hash_parse_line(&fresh, line, strlen(line), &l), 1, "%s", line);
            cr_assert_str_eq(l.name, names[i]);
            cr_assert_str_eq(l.hex, H);
            cr_assert_eq(l.binary, flags == PT_HASH_FMT_BINARY);
        }
    }
}
