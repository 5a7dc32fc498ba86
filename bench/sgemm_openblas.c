/* sgemm_openblas.c - the reference point for `ptool bench matmul`: OpenBLAS's
 * cblas_sgemm, C = A x B (single precision, row-major, n x n), timed at a
 * given size and thread count. Inputs are pseudo-random floats in [-1, 1).
 * Prints one JSON line: the median of --repeat timed calls (after one
 * warm-up call) and its GFLOP/s (2 n^3 flops).
 *
 *   bench_sgemm_openblas [--n N] [--threads T] [--repeat R]
 *
 * OpenBLAS reads OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) from the
 * environment when the library loads; bench/sections/matmul.py runs this
 * program with both removed so that OpenBLAS picks its best kernel. The
 * kernel OpenBLAS chose is in the output ("core"). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Not declared by every cblas.h; both are OpenBLAS exports. */
extern void openblas_set_num_threads(int num_threads);
extern char *openblas_get_corename(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long arg_long(const char *s, const char *name, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_sgemm_openblas: %s: '%s' is not an integer in %ld..%ld\n", name, s,
                lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long n = 2048, threads = 1, repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--n"))
            n = arg_long(argv[++i], "--n", 1, 65536);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            threads = arg_long(argv[++i], "--threads", 1, 4096);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat"))
            repeat = arg_long(argv[++i], "--repeat", 1, 1000);
        else {
            fprintf(stderr, "usage: bench_sgemm_openblas [--n N] [--threads T] [--repeat R]\n");
            return 2;
        }
    }
    size_t count = (size_t)n * (size_t)n;
    float *a = malloc(count * sizeof(float));
    float *b = malloc(count * sizeof(float));
    float *c = malloc(count * sizeof(float));
    double *t = malloc((size_t)repeat * sizeof(double));
    if (!a || !b || !c || !t) {
        fprintf(stderr, "bench_sgemm_openblas: out of memory for n = %ld\n", n);
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        a[i] = (float)((double)(x >> 40) * 0x1p-23 - 1.0);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (float)((double)(x >> 40) * 0x1p-23 - 1.0);
    }
    openblas_set_num_threads((int)threads);
    int in = (int)n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, in, 1.0f, a, in, b, in, 0.0f, c,
                in);
    for (long r = 0; r < repeat; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, in, 1.0f, a, in, b, in, 0.0f,
                    c, in);
        t[r] = now() - t0;
    }
    double sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += c[i];
    qsort(t, (size_t)repeat, sizeof(double), cmp);
    double med = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("{\"name\":\"OpenBLAS cblas_sgemm\",\"n\":%ld,\"threads\":%ld,\"repeat\":%ld,"
           "\"core\":\"%s\",\"coretype_env\":%s%s%s,\"median_seconds\":%.6f,"
           "\"gflops\":%.3f,\"checksum\":%.6e}\n",
           n, threads, repeat, openblas_get_corename(), ct ? "\"" : "", ct ? ct : "null",
           ct ? "\"" : "", med, 2.0 * (double)n * (double)n * (double)n / med * 1e-9, sum);
    free(a), free(b), free(c), free(t);
    return 0;
}
