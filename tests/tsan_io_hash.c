/* tsan_io_hash.c - <ptool/hash.h> under ThreadSanitizer: files read on the
 * libuv loop (and libuv's threadpool) and hashed on a pt_pool, each file's
 * state handed back and forth between the loop thread and the pool's
 * workers. Small blocks and several files at once make many hand-offs; the
 * digests are checked against the compute library's own SHA-256.
 * A plain program (TSan and Criterion do not mix): exit 0 = pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "ptool/hash.h"
#include "ptool/ptool.h"
#include "sha256.h"

#define NFILES 40

static char dir[64];
static char paths[NFILES][128];
static char want[NFILES][65];
static int failures, results, done;

static void on_result(const pt_hash_result *r, void *arg)
{
    (void)arg;
    size_t i = r->arg_index;
    if (i >= NFILES || strcmp(r->path, paths[i]) || r->status || strcmp(r->hex, want[i])) {
        fprintf(stderr, "FAIL: %s: status %d, %s\n", r->path, r->status, r->hex ? r->hex : "-");
        failures++;
    }
    if ((int)i != results) {
        fprintf(stderr, "FAIL: result %d is for path %zu\n", results, i);
        failures++;
    }
    results++;
}

static void on_done(void *arg, int status)
{
    (void)arg;
    if (status) {
        fprintf(stderr, "FAIL: done with %d\n", status);
        failures++;
    }
    done++;
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ptool-tsan-hash-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const char *pv[NFILES];
    for (int i = 0; i < NFILES; i++) {
        size_t n = (size_t)i * 7919 + (i % 3 ? 0 : 65536);
        unsigned char *data = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            data[k] = (unsigned char)(k * 31 + (size_t)i);
        snprintf(paths[i], sizeof(paths[i]), "%s/f%02d", dir, i);
        FILE *f = fopen(paths[i], "wb");
        if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
            perror(paths[i]);
            return 1;
        }
        unsigned char md[32];
        pt__sha256(data, n, md);
        pt__hex(md, 32, want[i]);
        free(data);
        pv[i] = paths[i];
    }
    for (int round = 0; round < 3; round++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        pt_pool *pool;
        pt_pool_options po = {.threads = 3};
        if (pt_pool_create(&pool, &po))
            return 1;
        pt_hash_options o = {
            .block_size = 4096, .max_open = 8, .on_result = on_result, .on_done = on_done};
        pt_hash *h;
        char err[256];
        results = 0;
        if (pt_hash_start(&h, &loop, pool, pv, NFILES, &o, err, sizeof(err))) {
            fprintf(stderr, "FAIL: start: %s\n", err);
            return 1;
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        pt_hash_destroy(h);
        uv_loop_close(&loop);
        pt_pool_destroy(pool);
        if (results != NFILES) {
            fprintf(stderr, "FAIL: %d results\n", results);
            failures++;
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        failures++;
    if (done != 3)
        failures++;
    if (failures)
        return 1;
    printf("tsan_io_hash: 3 rounds of %d files, all digests right\n", NFILES);
    return 0;
}
