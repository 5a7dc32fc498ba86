/* test_primes.c - the primes job: pi(10^k) on every backend, every small
 * range against a plain sieve, ranges near 2^32 and just below 2^64 against
 * Miller-Rabin (the isprime job's), every backend and method against serial,
 * the SIMD variants, output, and bad parameters (library and CLI). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "jobtest.h"

/* pi(10^k), k = 0..10 */
static const uint64_t pi_pow10[] = {0,     4,      25,      168,      1229,     9592,
                                    78498, 664579, 5761455, 50847534, 455052511};

/* The state of this suite's random numbers (jt_xorshift). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* --- helpers ------------------------------------------------------------- */

/* The count from the job's summary line "N primes in [lo, hi)". */
static uint64_t count_of(const pt_job *job)
{
    char *text = jt_job_text(job, PT_OUT_QUIET);
    unsigned long long n = 0;
    cr_assert_eq(sscanf(text, "%llu primes in [", &n), 1, "summary: %s", text);
    free(text);
    return n;
}

/* Counts [lo, hi) with the given extra parameters on backend b. */
static uint64_t count_range(pt_runtime *rt, pt_backend_id b, uint64_t lo, uint64_t hi,
                            const char *const *extra)
{
    char slo[24], shi[24];
    snprintf(slo, sizeof(slo), "%llu", (unsigned long long)lo);
    snprintf(shi, sizeof(shi), "%llu", (unsigned long long)hi);
    const char *kv[24] = {"lo", slo, "hi", shi};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 22; i++)
        kv[n++] = extra[i];
    unsigned flags = b == PT_BACKEND_PROCESSES ? PT_JOB_SHARED : 0;
    pt_job *job = jt_job(rt, "primes", flags, kv, n);
    jt_run_on(rt, job, b);
    uint64_t c = count_of(job);
    pt_job_destroy(job);
    return c;
}

/* The primes the job lists (its text output, minus the summary line), in a
 * new array of *n. */
static uint64_t *listed(const pt_job *job, size_t *n)
{
    char *text = jt_job_text(job, 0);
    size_t cap = 64, cnt = 0;
    uint64_t *v = malloc(cap * sizeof(*v));
    char *line = text;
    for (char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        if (strstr(line, " primes in [") && strstr(line, " primes in [") < nl)
            break; /* the summary */
        if (cnt == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        v[cnt++] = strtoull(line, NULL, 10);
    }
    free(text);
    *n = cnt;
    return v;
}

/* Checks the job's list of [lo, hi) against Miller-Rabin on every number. */
static void check_list_mr(const pt_job *job, uint64_t lo, uint64_t hi, const char *what)
{
    size_t n;
    uint64_t *v = listed(job, &n);
    size_t j = 0;
    for (uint64_t x = lo; x < hi; x++) {
        if (!pt__isprime_mr(x))
            continue;
        cr_assert(j < n && v[j] == x, "%s: [%llu, %llu): missing prime %llu (got %llu)", what,
                  (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)x,
                  j < n ? (unsigned long long)v[j] : 0ull);
        j++;
    }
    cr_assert_eq(j, n, "%s: [%llu, %llu): %zu extra numbers listed, first %llu", what,
                 (unsigned long long)lo, (unsigned long long)hi, n - j,
                 j < n ? (unsigned long long)v[j] : 0ull);
    cr_assert_eq(count_of(job), n, "%s: the count differs from the list", what);
    free(v);
}

/* Lists [lo, hi) with extra parameters on b and checks against Miller-Rabin. */
static void list_vs_mr(pt_runtime *rt, pt_backend_id b, uint64_t lo, uint64_t hi,
                       const char *method)
{
    char slo[24], shi[24];
    snprintf(slo, sizeof(slo), "%llu", (unsigned long long)lo);
    snprintf(shi, sizeof(shi), "%llu", (unsigned long long)hi);
    const char *kv[] = {"lo", slo, "hi", shi, "list", "true", "method", method};
    unsigned flags = b == PT_BACKEND_PROCESSES ? PT_JOB_SHARED : 0;
    pt_job *job = jt_job(rt, "primes", flags, kv, JT_LEN(kv));
    jt_run_on(rt, job, b);
    char what[64];
    snprintf(what, sizeof(what), "%s, method %s", pt_backend_name(b), method);
    check_list_mr(job, lo, hi, what);
    pt_job_destroy(job);
}

/* A plain sieve: is_p[i] for i < n (caller frees). */
static uint8_t *plain_sieve(size_t n)
{
    uint8_t *is_p = malloc(n);
    memset(is_p, 1, n);
    for (size_t i = 0; i < n && i < 2; i++)
        is_p[i] = 0;
    for (size_t i = 2; i * i < n; i++)
        if (is_p[i])
            for (size_t m = i * i; m < n; m += i)
                is_p[m] = 0;
    return is_p;
}

/* --- pi(10^k) on every backend ------------------------------------------- */

ParameterizedTestParameters(primes, pi_powers_of_ten)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, primes, pi_powers_of_ten, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    for (int k = 0; k <= 9; k++) {
        uint64_t hi = 1;
        for (int i = 0; i < k; i++)
            hi *= 10;
        uint64_t c = count_range(rt, *b, 0, hi, NULL);
        cr_assert_eq(c, pi_pow10[k], "%s: pi(10^%d) = %llu, want %llu", pt_backend_name(*b), k,
                     (unsigned long long)c, (unsigned long long)pi_pow10[k]);
    }
    pt_runtime_destroy(rt);
}

/* pi(10^10) once, on the threads backend (about a second in a release build). */
Test(primes, pi_ten_to_the_ten, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    uint64_t c = count_range(rt, PT_BACKEND_THREADS, 0, 10000000000ull, NULL);
    cr_assert_eq(c, 455052511ull, "pi(10^10) = %llu", (unsigned long long)c);
    pt_runtime_destroy(rt);
}

/* --- small ranges against a plain sieve ---------------------------------- */

/* Every [lo, hi) with 0 <= lo <= hi <= 130: the list and the count. */
Test(primes, every_small_range, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    enum { MAX = 130 };
    uint8_t *is_p = plain_sieve(MAX + 1);
    char slo[24], shi[24];
    for (uint64_t lo = 0; lo <= MAX; lo++) {
        for (uint64_t hi = lo; hi <= MAX; hi++) {
            snprintf(slo, sizeof(slo), "%llu", (unsigned long long)lo);
            snprintf(shi, sizeof(shi), "%llu", (unsigned long long)hi);
            const char *kv[] = {"lo", slo, "hi", shi, "list", "true"};
            pt_job *job = jt_job(rt, "primes", 0, kv, JT_LEN(kv));
            jt_run_on(rt, job, PT_BACKEND_SERIAL);
            size_t n;
            uint64_t *v = listed(job, &n);
            size_t j = 0;
            for (uint64_t x = lo; x < hi; x++) {
                if (!is_p[x])
                    continue;
                cr_assert(j < n && v[j] == x, "[%llu, %llu): missing %llu", (unsigned long long)lo,
                          (unsigned long long)hi, (unsigned long long)x);
                j++;
            }
            cr_assert_eq(j, n, "[%llu, %llu): extra numbers listed", (unsigned long long)lo,
                         (unsigned long long)hi);
            cr_assert_eq(count_of(job), n);
            free(v);
            pt_job_destroy(job);
        }
    }
    free(is_p);
    pt_runtime_destroy(rt);
}

/* Random ranges below 2^22 against the plain sieve, with segments of 1 KiB
 * (many segments, chunks and big-prime buckets) and the default. */
Test(primes, random_ranges_below_2_22, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    enum { MAX = 1 << 22 };
    uint8_t *is_p = plain_sieve(MAX);
    for (int i = 0; i < 60; i++) {
        uint64_t lo = jt_xorshift(&rng_state) % MAX, hi = lo + jt_xorshift(&rng_state) % (MAX - lo);
        if (i % 3 == 0)
            hi = lo + jt_xorshift(&rng_state) % 100;
        uint64_t want = 0;
        for (uint64_t x = lo; x < hi; x++)
            want += is_p[x];
        const char *seg1[] = {"segment", "1", NULL};
        const char *hyb[] = {"method", "hybrid", NULL};
        cr_assert_eq(count_range(rt, PT_BACKEND_SERIAL, lo, hi, NULL), want, "[%llu, %llu)",
                     (unsigned long long)lo, (unsigned long long)hi);
        cr_assert_eq(count_range(rt, PT_BACKEND_THREADS, lo, hi, seg1), want,
                     "[%llu, %llu) --segment 1", (unsigned long long)lo, (unsigned long long)hi);
        cr_assert_eq(count_range(rt, PT_BACKEND_SERIAL, lo, hi, hyb), want,
                     "[%llu, %llu) --method hybrid", (unsigned long long)lo,
                     (unsigned long long)hi);
    }
    free(is_p);
    pt_runtime_destroy(rt);
}

/* --- near 2^32 and just below 2^64, against Miller-Rabin ------------------ */

Test(primes, straddles_2_32, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    list_vs_mr(rt, PT_BACKEND_THREADS, (1ull << 32) - 200000, (1ull << 32) + 200000, "auto");
    pt_runtime_destroy(rt);
}

Test(primes, random_ranges_near_2_32, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    static const char *const methods[] = {"sieve", "hybrid", "auto"};
    for (int i = 0; i < 9; i++) {
        uint64_t lo = (1ull << 32) - (1ull << 28) + jt_xorshift(&rng_state) % (1ull << 29);
        uint64_t hi = lo + 1 + jt_xorshift(&rng_state) % 40000;
        list_vs_mr(rt, PT_BACKEND_SERIAL, lo, hi, methods[i % 3]);
    }
    pt_runtime_destroy(rt);
}

Test(primes, random_ranges_below_2_64, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    for (int i = 0; i < 8; i++) {
        uint64_t hi = UINT64_MAX - jt_xorshift(&rng_state) % (1ull << 40);
        if (i == 0)
            hi = UINT64_MAX; /* the top: 2^64 - 1 itself is outside [lo, hi) */
        uint64_t lo = hi - 1 - jt_xorshift(&rng_state) % 30000;
        list_vs_mr(rt, i % 2 ? PT_BACKEND_THREADS : PT_BACKEND_SERIAL, lo, hi,
                   i % 2 ? "hybrid" : "auto");
    }
    pt_runtime_destroy(rt);
}

/* The pure sieve at the top of the range: every prime below 2^32 sieves. */
Test(primes, pure_sieve_below_2_64, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    list_vs_mr(rt, PT_BACKEND_THREADS, UINT64_MAX - 3000, UINT64_MAX, "sieve");
    pt_runtime_destroy(rt);
}

/* The isprime job itself, on every number of two ranges, agrees with the
 * list (the job, not only its Miller-Rabin function). */
Test(primes, agrees_with_the_isprime_job, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    static const uint64_t los[] = {(1ull << 32) - 1000, UINT64_MAX - 3000};
    char err[PT_ERRBUF_SIZE], buf[24];
    for (size_t r = 0; r < 2; r++) {
        uint64_t lo = los[r], hi = lo + 2000;
        const pt_job_desc *d = pt_job_find("isprime");
        cr_assert_not_null(d);
        pt_params *p;
        cr_assert_eq(pt_params_create(&p, d), 0);
        for (uint64_t x = lo; x < hi; x++) {
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long)x);
            cr_assert_eq(pt_params_set(p, "numbers", buf, err, sizeof(err)), 0, "%s", err);
        }
        pt_job *iso;
        cr_assert_eq(pt_job_create(&iso, rt, d, p, 0, err, sizeof(err)), 0, "%s", err);
        pt_params_destroy(p);
        jt_run_on(rt, iso, PT_BACKEND_SERIAL);
        char *text = jt_job_text(iso, 0);

        char slo[24], shi[24];
        snprintf(slo, sizeof(slo), "%llu", (unsigned long long)lo);
        snprintf(shi, sizeof(shi), "%llu", (unsigned long long)hi);
        const char *kv[] = {"lo", slo, "hi", shi, "list", "true"};
        pt_job *job = jt_job(rt, "primes", 0, kv, JT_LEN(kv));
        jt_run_on(rt, job, PT_BACKEND_SERIAL);
        size_t n, j = 0;
        uint64_t *v = listed(job, &n);
        const char *line = text;
        for (uint64_t x = lo; x < hi; x++) {
            unsigned long long num;
            char word[16];
            cr_assert_eq(sscanf(line, "%llu %15s", &num, word), 2);
            cr_assert_eq(num, x);
            bool prime = strcmp(word, "prime") == 0;
            bool in_list = j < n && v[j] == x;
            cr_assert_eq(prime, in_list, "%llu: isprime says %s, primes %s", num, word,
                         in_list ? "lists it" : "does not");
            j += in_list;
            line = strchr(line, '\n') + 1;
        }
        cr_assert_eq(j, n);
        free(v);
        free(text);
        pt_job_destroy(job);
        pt_job_destroy(iso);
    }
    pt_runtime_destroy(rt);
}

/* The largest primes below 2^64, by name. */
Test(primes, largest_64_bit_primes)
{
    pt_runtime *rt = jt_runtime(2);
    const char *kv[] = {"lo", "18446744073709551500", "hi", "18446744073709551615", "list", "true"};
    pt_job *job = jt_job(rt, "primes", 0, kv, JT_LEN(kv));
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    jt_expect_text(job, 0,
                   "18446744073709551521\n18446744073709551533\n18446744073709551557\n"
                   "3 primes in [18446744073709551500, 18446744073709551615)\n");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* --- every backend and method against serial ------------------------------ */

/* The ranges every backend must agree on, with their extra parameters. */
static const struct {
    const char *lo, *hi, *extra[6];
} cases[] = {
    {"0", "0", {NULL}},
    {"0", "1", {NULL}},
    {"0", "2", {NULL}},
    {"0", "3", {"list", "true", NULL}},
    {"1", "2", {NULL}},
    {"2", "3", {"list", "true", NULL}},
    {"3", "4", {NULL}},
    {"5", "5", {"list", "true", NULL}},
    {"7", "8", {NULL}},
    {"0", "97", {"list", "true", NULL}},
    {"31", "32", {NULL}},
    {"49", "54", {"list", "true", NULL}},
    {"999983", "1000003", {"list", "true", NULL}},
    {"0", "1000003", {"segment", "1", NULL}},
    {"12345", "7654321", {"list", "true", "segment", "2", NULL}},
    {"1000000007", "1030000001", {"segment", "1", "method", "sieve", NULL}},
    {"4294967291", "4294967312", {"list", "true", NULL}},
    {"4294000000", "4296000001", {"list", "true", NULL}},
    {"1000000000000", "1000000100003", {"method", "sieve", NULL}},
    {"1000000000000", "1000000100003", {"method", "hybrid", "list", "true", NULL}},
    {"18446744073709550000", "18446744073709551615", {"list", "true", NULL}},
    {"18446744073709551556", "18446744073709551558", {NULL}},
    {"18446744073709551614", "18446744073709551615", {NULL}},
};

ParameterizedTestParameters(primes, backends_agree_with_serial)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, primes, backends_agree_with_serial, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    char err[PT_ERRBUF_SIZE];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *kv[16] = {"lo", cases[i].lo, "hi", cases[i].hi};
        size_t n = 4;
        for (size_t j = 0; cases[i].extra[j]; j++)
            kv[n++] = cases[i].extra[j];
        unsigned flags = *b == PT_BACKEND_PROCESSES ? PT_JOB_SHARED : 0;
        pt_job *job = jt_job(rt, "primes", flags, kv, n);
        pt_job *ref = jt_job(rt, "primes", 0, kv, n);
        jt_run_on(rt, job, *b);
        jt_run_on(rt, ref, PT_BACKEND_SERIAL);
        cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s [%s, %s): %s",
                     pt_backend_name(*b), cases[i].lo, cases[i].hi, err);
        /* and a second run of the same job gives the same (state is reset) */
        jt_run_on(rt, job, *b);
        cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s, 2nd run [%s, %s): %s",
                     pt_backend_name(*b), cases[i].lo, cases[i].hi, err);
        pt_job_destroy(job);
        pt_job_destroy(ref);
    }
    pt_runtime_destroy(rt);
}

/* The methods and segment sizes are different code paths to one answer. */
Test(primes, methods_and_segments_agree, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    static const struct {
        uint64_t lo, hi;
    } r[] = {
        {0, 30000000},
        {1000000000000ull, 1000010000000ull},
        {1000000000000000ull, 1000000000300000ull},
        {(1ull << 63) - 30000, (1ull << 63) + 30000},
    };
    const char *sieve[] = {"method", "sieve", NULL};
    const char *hybrid[] = {"method", "hybrid", NULL};
    const char *seg1[] = {"method", "sieve", "segment", "1", NULL};
    const char *seg4096[] = {"method", "sieve", "segment", "4096", NULL};
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        uint64_t a = count_range(rt, PT_BACKEND_THREADS, r[i].lo, r[i].hi, sieve);
        uint64_t h = count_range(rt, PT_BACKEND_THREADS, r[i].lo, r[i].hi, hybrid);
        cr_assert_eq(a, h, "[%llu, %llu): sieve %llu, hybrid %llu", (unsigned long long)r[i].lo,
                     (unsigned long long)r[i].hi, (unsigned long long)a, (unsigned long long)h);
        if (r[i].hi <= 1000010000000ull) {
            cr_assert_eq(count_range(rt, PT_BACKEND_THREADS, r[i].lo, r[i].hi, seg1), a,
                         "--segment 1");
            cr_assert_eq(count_range(rt, PT_BACKEND_THREADS, r[i].lo, r[i].hi, seg4096), a,
                         "--segment 4096");
        }
    }
    /* pi(2 10^8) - pi(10^8), with 1 KiB segments: mostly big primes */
    cr_assert_eq(count_range(rt, PT_BACKEND_THREADS, 100000000, 200000000, seg1),
                 11078937 - 5761455);
    pt_runtime_destroy(rt);
}

/* --- SIMD variants -------------------------------------------------------- */

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
static int isa_index[] = {0, 1, 2};

ParameterizedTestParameters(primes, isa_variants)
{
    return cr_make_param_array(int, isa_index, sizeof(isa_index) / sizeof(isa_index[0]));
}

/* Each test is its own process: PTOOL_ISA set here picks the variant. */
ParameterizedTest(int *which, primes, isa_variants, .timeout = 300)
{
    setenv("PTOOL_ISA", isa_names[*which], 1);
    cr_log_info("PTOOL_ISA=%s: variant used %s", isa_names[*which], pt_cpu_isa());
    pt_runtime *rt = jt_runtime(2);
    cr_assert_eq(count_range(rt, PT_BACKEND_SERIAL, 0, 100000000, NULL), pi_pow10[8]);
    const char *odd[] = {"segment", "1", NULL}; /* segments not a multiple of 64 bytes at the end */
    cr_assert_eq(count_range(rt, PT_BACKEND_SERIAL, 0, 1000037, odd), 78500);
    list_vs_mr(rt, PT_BACKEND_SERIAL, 999000, 1001003, "sieve");
    pt_runtime_destroy(rt);
}

/* --- output ---------------------------------------------------------------- */

Test(primes, text_and_json_output)
{
    pt_runtime *rt = jt_runtime(2);
    const char *kv[] = {"lo", "0", "hi", "30", "list", "true"};
    pt_job *job = jt_job(rt, "primes", 0, kv, JT_LEN(kv));
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    jt_expect_text(job, 0, "2\n3\n5\n7\n11\n13\n17\n19\n23\n29\n10 primes in [0, 30)\n");
    jt_expect_text(job, PT_OUT_QUIET, "10 primes in [0, 30)\n");
    jt_text tb = {0};
    pt_json *j;
    cr_assert_eq(pt_json_create(&j, jt_text_append, &tb, 0), 0);
    pt_json_object_begin(j);
    cr_assert_eq(pt_job_write_json(job, j), 0);
    pt_json_object_end(j);
    cr_assert_eq(pt_json_finish(j), 0);
    pt_json_destroy(j);
    cr_assert(strstr(tb.buf, "\"count\":10"), "%s", tb.buf);
    cr_assert(strstr(tb.buf, "\"lo\":0,\"hi\":30"), "%s", tb.buf);
    cr_assert(strstr(tb.buf, "\"primes\":[2,3,5,7,11,13,17,19,23,29]"), "%s", tb.buf);
    free(tb.buf);
    pt_job_destroy(job);

    /* an empty range is valid: no primes */
    const char *empty[] = {"lo", "1000", "hi", "1000"};
    job = jt_job(rt, "primes", 0, empty, JT_LEN(empty));
    jt_run_on(rt, job, PT_BACKEND_THREADS);
    jt_expect_text(job, 0, "0 primes in [1000, 1000)\n");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* --- bad parameters ---------------------------------------------------------- */

/* Makes a primes job from the nkv strings of kv; expects code and a one-line
 * message holding every one of words (NULL-terminated). */
static void expect_error(pt_runtime *rt, const char *const *kv, size_t nkv, int code,
                         const char *const *words)
{
    pt_job *job = NULL;
    char err[PT_ERRBUF_SIZE] = "";
    int rc = jt_make(rt, "primes", 0, kv, nkv, &job, err, sizeof(err));
    cr_assert_eq(rc, code, "got %d (%s), want %d: %s", rc, pt_err_name(rc), code, err);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(err, words[i]), "'%s' in: %s", words[i], err);
    pt_job_destroy(job);
}

Test(primes, bad_parameters)
{
    pt_runtime *rt = jt_runtime(2);
    const char *lo_gt_hi[] = {"lo", "10", "hi", "9"};
    const char *w1[] = {"--lo", "--hi", "10", "9", NULL};
    expect_error(rt, lo_gt_hi, JT_LEN(lo_gt_hi), PT_EINVAL, w1);
    const char *too_big[] = {"lo", "0", "hi", "9223372036854775808", "list", "true"};
    const char *w2[] = {"--list", "--lo", "--hi", NULL};
    expect_error(rt, too_big, JT_LEN(too_big), PT_ENOMEM, w2);
    const char *seg3[] = {"segment", "3"};
    const char *w3[] = {"--segment", "power of two", NULL};
    expect_error(rt, seg3, JT_LEN(seg3), PT_EINVAL, w3);
    const char *seg_big[] = {"segment", "16384"};
    const char *w4[] = {"segment", "16384", NULL};
    expect_error(rt, seg_big, JT_LEN(seg_big), PT_ERANGE, w4);
    const char *neg[] = {"hi", "-5"};
    const char *w5[] = {"hi", "-5", NULL};
    expect_error(rt, neg, JT_LEN(neg), PT_ERANGE, w5);
    const char *over[] = {"lo", "18446744073709551616"};
    const char *w6[] = {"lo", NULL};
    expect_error(rt, over, JT_LEN(over), PT_ERANGE, w6);
    const char *method[] = {"method", "trial"};
    const char *w7[] = {"method", "trial", NULL};
    expect_error(rt, method, JT_LEN(method), PT_EPARSE, w7);
    pt_runtime_destroy(rt);
}

/* --- the CLI ----------------------------------------------------------------- */

Test(primes, cli_bad_parameters_exit_2, .timeout = 120)
{
    jt_require_ptool();
    const char *a1[] = {"run", "primes", "--lo", "100", "--hi", "50", NULL};
    const char *w1[] = {"--lo", "--hi", NULL};
    jt_ptool_usage_error_words(a1, w1);
    const char *a2[] = {"run", "primes", "--hi", "18446744073709551615", "--list", NULL};
    const char *w2[] = {"--list", "--lo", "--hi", NULL};
    jt_ptool_usage_error_words(a2, w2);
    const char *a3[] = {"run", "primes", "--hi", "-1", NULL};
    jt_ptool_usage_error(a3, "--hi");
    const char *a4[] = {"run", "primes", "--segment", "100", NULL};
    jt_ptool_usage_error(a4, "--segment");
    const char *a5[] = {"bench", "primes", "--lo", "7", "--hi", "3", NULL};
    jt_ptool_usage_error_words(a5, w1);
}

Test(primes, cli_list_and_verify, .timeout = 120)
{
    jt_require_ptool();
    const char *a[] = {"run",    "primes",   "--lo",      "90",      "--hi", "110",
                       "--list", "--verify", "--backend", "threads", NULL};
    jt_cli r;
    jt_ptool(&r, a);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_str_eq(r.out, "97\n101\n103\n107\n109\n5 primes in [90, 110)\n");
    cr_assert(strstr(r.err, "verified"), "%s", r.err);
}
