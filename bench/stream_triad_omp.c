/* stream_triad_omp.c - the reference point for `ptool run stream`: a plain
 * OpenMP triad loop, a[i] = b[i] + s*c[i], over arrays of --n doubles,
 * nothing clever (no streaming stores, no intrinsics; the compiler may
 * vectorise). The arrays are first touched by the same static schedule
 * that times them, then --ntimes passes run; the rate counts STREAM's 24
 * bytes per element over the time of all passes (the average, as ptool
 * reports it) and of the fastest pass. Prints one JSON line.
 *
 *   OMP_NUM_THREADS=2 bench_stream_triad_omp --n 16777216 --ntimes 5
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    long long n = 1 << 24;
    int ntimes = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--ntimes"))
            ntimes = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--n N] [--ntimes K]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || ntimes < 1 || ntimes > 1000) {
        fprintf(stderr, "%s: --n and --ntimes must be positive\n", argv[0]);
        return 2;
    }
    double *a = malloc((size_t)n * sizeof(double));
    double *b = malloc((size_t)n * sizeof(double));
    double *c = malloc((size_t)n * sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "%s: out of memory for 3 x %lld doubles\n", argv[0], n);
        return 1;
    }
    const double s = 3.0;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < n; i++) {
        a[i] = 1.0;
        b[i] = 2.0;
        c[i] = 0.5;
    }
    double total = 0, best = 1e30;
    for (int k = 0; k < ntimes; k++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double t = omp_get_wtime() - t0;
        total += t;
        if (t < best)
            best = t;
    }
    double bytes = 24.0 * (double)n;
    /* a[] = 2.5 everywhere: print a checksum so the loop cannot be dropped */
    double check = 0;
    for (long long i = 0; i < n; i += 4096)
        check += a[i];
    printf("{\"n\": %lld, \"ntimes\": %d, \"threads\": %d, \"gbps\": %.4f, \"best_gbps\": %.4f, "
           "\"seconds\": %.6f, \"check\": %.1f}\n",
           n, ntimes, omp_get_max_threads(), bytes * ntimes / total / 1e9, bytes / best / 1e9,
           total, check);
    free(a);
    free(b);
    free(c);
    return 0;
}
