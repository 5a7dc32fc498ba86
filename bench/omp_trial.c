/* omp_trial.c - the reference point for `ptool bench isprime --method trial`:
 * a plain C OpenMP loop of the course's trial division over the course
 * workload (112272535095293 x 100), nothing clever. Prints one JSON line
 * with the median wall time of --repeat runs. */
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_prime(uint64_t n)
{
    if (n < 2)
        return false;
    if (n == 2)
        return true;
    if (n % 2 == 0)
        return false;
    uint64_t lim = (uint64_t)floor(sqrt((double)n));
    for (uint64_t i = 3; i <= lim; i += 2)
        if (n % i == 0)
            return false;
    return true;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int repeat = 3;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
    if (repeat < 1 || repeat > 100)
        repeat = 3;
    enum { N = 100 };
    uint64_t nums[N];
    int res[N];
    for (int i = 0; i < N; i++)
        nums[i] = 112272535095293ull;
    double t[100];
    for (int r = 0; r < repeat; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < N; i++)
            res[i] = is_prime(nums[i]);
        t[r] = omp_get_wtime() - t0;
    }
    int primes = 0;
    for (int i = 0; i < N; i++)
        primes += res[i];
    qsort(t, (size_t)repeat, sizeof(double), cmp);
    printf("{\"name\":\"plain C OpenMP trial division\",\"threads\":%d,\"primes\":%d,"
           "\"median_seconds\":%.6f}\n",
           omp_get_max_threads(), primes, t[repeat / 2]);
    return primes == N ? 0 : 1;
}
