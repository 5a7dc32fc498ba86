/* cmd_bench.c - `ptool bench JOB`: the course's single-thread vs threads vs
 * processes comparison, for every backend: runs the job on each, verifies
 * each result against serial, and prints median time, speedup over serial
 * and throughput. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct row {
    pt_backend_id b;
    bool available;
    char why[512]; /* unavailable or failed: the reason */
    bool failed;
    double *times; /* repeat timed runs */
    unsigned ntimes;
    double median;
    int verified; /* -1 not checked, 0 no, 1 yes */
    char verr[512];
    pt_run_info info;
} row;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, unsigned n)
{
    double *s = malloc(n * sizeof(*s));
    if (!s)
        return v[0];
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

/* Parses --backends into rows (serial first, always). */
static int parse_backends(const char *list, row *rows, size_t *n)
{
    static const pt_backend_id all[] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS, PT_BACKEND_PROCESSES,
                                        PT_BACKEND_OPENMP, PT_BACKEND_OPENCL};
    *n = 0;
    rows[(*n)++].b = PT_BACKEND_SERIAL;
    if (!list) {
        for (size_t i = 1; i < sizeof(all) / sizeof(all[0]); i++)
            rows[(*n)++].b = all[i];
        return -1;
    }
    char *copy = strdup(list);
    if (!copy)
        return EXIT_FAIL;
    int rc = -1;
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        pt_backend_id b;
        if (pt_backend_parse(t, &b) != 0 || b == PT_BACKEND_AUTO) {
            rc = cli_usage_error("bench",
                                 "--backends: unknown backend '%s' (choose from serial, threads, "
                                 "processes, openmp, opencl)",
                                 t);
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < *n; i++)
            dup = dup || rows[i].b == b;
        if (!dup && *n < PT_BACKEND_COUNT)
            rows[(*n)++].b = b;
    }
    free(copy);
    return rc;
}

static void progress(bool tty, const char *job, const row *r, unsigned k, unsigned total)
{
    if (tty)
        fprintf(stderr, "\r\033[Kbench %s: %s run %u/%u", job, pt_backend_name(r->b), k, total);
}

int cmd_bench(int argc, char **argv)
{
    cli_run_opts o = {0};
    cli_job_args a;
    int rc = cli_parse_job_command("bench", argc, argv, CLI_OPT_BENCH, &o, &a);
    if (rc >= 0) {
        pt_params_destroy(a.params);
        return rc;
    }
    row rows[PT_BACKEND_COUNT];
    memset(rows, 0, sizeof(rows));
    size_t nrows = 0;
    pt_runtime *rt = NULL;
    pt_job *job = NULL, *ref = NULL;
    if ((rc = parse_backends(o.backends, rows, &nrows)) >= 0)
        goto out;
    bool want_processes = false;
    for (size_t i = 0; i < nrows; i++)
        want_processes = want_processes || rows[i].b == PT_BACKEND_PROCESSES;
    if ((rc = cli_make_runtime(&o, want_processes, &rt)) >= 0)
        goto out;
    unsigned flags = want_processes && pt_runtime_worker_pids(rt, NULL, 0) ? PT_JOB_SHARED : 0;
    char err[PT_ERRBUF_SIZE];
    int crc = pt_job_create(&job, rt, a.desc, a.params, flags, err, sizeof(err));
    if (crc == 0)
        crc = pt_job_create_like(&ref, job, 0, err, sizeof(err));
    if (crc) {
        cli_error("%s", err);
        rc = cli_exit_for_job(crc);
        goto out;
    }
    bool tty = cli_stderr_tty();
    if (tty)
        fprintf(stderr, "bench %s: reference run on serial", a.desc->name);
    pt_run_options sr = {.backend = PT_BACKEND_SERIAL, .strict = true};
    if (pt_run(rt, ref, &sr, NULL, err, sizeof(err)) != 0) {
        if (tty)
            fputc('\n', stderr);
        cli_error("the serial reference run failed: %s", err);
        rc = EXIT_FAIL;
        goto out;
    }

    bool any_failed = false, any_unavailable = false;
    for (size_t i = 0; i < nrows; i++) {
        row *r = &rows[i];
        r->verified = -1;
        r->available = pt_backend_available(rt, r->b, job, r->why, sizeof(r->why));
        if (!r->available) {
            any_unavailable = true;
            if (o.strict)
                cli_error("bench: %s unavailable: %s", pt_backend_name(r->b), r->why);
            continue;
        }
        r->times = calloc(o.repeat, sizeof(double));
        if (!r->times) {
            rc = EXIT_FAIL;
            goto out;
        }
        pt_run_options ro = {.backend = r->b, .strict = true, .threads = o.threads};
        unsigned total = o.warmup + o.repeat;
        for (unsigned k = 0; k < total; k++) {
            progress(tty, a.desc->name, r, k + 1, total);
            if (pt_run(rt, job, &ro, &r->info, err, sizeof(err)) != 0) {
                r->failed = true;
                size_t n = strlen(err);
                if (n >= sizeof(r->why))
                    n = sizeof(r->why) - 1;
                memcpy(r->why, err, n);
                r->why[n] = '\0';
                break;
            }
            if (k >= o.warmup)
                r->times[r->ntimes++] = r->info.seconds;
        }
        if (r->failed) {
            any_failed = true;
            r->verified = 0;
            continue;
        }
        r->median = median_of(r->times, r->ntimes);
        r->verified = pt_job_verify(job, ref, r->verr, sizeof(r->verr)) == 0;
        if (!r->verified)
            any_failed = true;
    }
    if (tty)
        fputs("\r\033[K", stderr);
    double base = rows[0].available && !rows[0].failed ? rows[0].median : 0;

    if (o.json) {
        pt_json *j = cli_json_begin("bench");
        if (!j) {
            rc = EXIT_FAIL;
            goto out;
        }
        pt_job_json(j, job);
        pt_json_key(j, "threads");
        pt_json_uint(j, o.threads ? o.threads : pt_runtime_threads(rt));
        pt_json_key(j, "repeat");
        pt_json_uint(j, o.repeat);
        pt_json_key(j, "warmup");
        pt_json_uint(j, o.warmup);
        pt_json_key(j, "rows");
        pt_json_array_begin(j);
        for (size_t i = 0; i < nrows; i++) {
            const row *r = &rows[i];
            pt_json_object_begin(j);
            pt_json_key(j, "backend");
            pt_json_str(j, pt_backend_name(r->b));
            pt_json_key(j, "available");
            pt_json_bool(j, r->available);
            pt_json_key(j, "error");
            pt_json_str(j, (!r->available || r->failed) ? r->why : NULL);
            if (r->available && !r->failed) {
                pt_json_key(j, "median_seconds");
                pt_json_double(j, r->median);
                pt_json_key(j, "times");
                pt_json_array_begin(j);
                for (unsigned k = 0; k < r->ntimes; k++)
                    pt_json_double(j, r->times[k]);
                pt_json_array_end(j);
                pt_json_key(j, "speedup");
                pt_json_double(j, base > 0 && r->median > 0 ? base / r->median : 0);
                const char *unit;
                double tp = pt_job_throughput(job, r->median, &unit);
                pt_json_key(j, "throughput");
                pt_json_double(j, tp);
                pt_json_key(j, "unit");
                pt_json_str(j, unit);
                pt_json_key(j, "threads");
                pt_json_uint(j, r->info.threads);
                pt_json_key(j, "device");
                pt_json_str(j, r->info.device[0] ? r->info.device : NULL);
                pt_json_key(j, "driver");
                pt_json_str(j, r->info.driver[0] ? r->info.driver : NULL);
                pt_json_key(j, "prepare_seconds");
                pt_json_double(j, r->info.prepare_seconds);
            }
            pt_json_key(j, "verified");
            if (r->verified < 0)
                pt_json_null(j);
            else
                pt_json_bool(j, r->verified == 1);
            if (r->verified == 0 && !r->failed) {
                pt_json_key(j, "verify_error");
                pt_json_str(j, r->verr);
            }
            pt_json_object_end(j);
        }
        pt_json_array_end(j);
        cli_json_end(j);
    } else {
        printf("%s, %u threads, median of %u run%s (after %u warm-up), %s ISA\n", a.desc->name,
               o.threads ? o.threads : pt_runtime_threads(rt), o.repeat, o.repeat == 1 ? "" : "s",
               o.warmup, pt_cpu_isa());
        printf("%-10s %12s %9s %18s  %-8s\n", "backend", "median", "speedup", "throughput",
               "verified");
        for (size_t i = 0; i < nrows; i++) {
            const row *r = &rows[i];
            if (!r->available) {
                printf("%-10s %12s %9s %18s  %-8s (%s)\n", pt_backend_name(r->b), "-", "-", "-",
                       "-", r->why);
                continue;
            }
            if (r->failed) {
                printf("%-10s %12s %9s %18s  %-8s (failed: %s)\n", pt_backend_name(r->b), "-", "-",
                       "-", "no", r->why);
                continue;
            }
            char t[32], rate[32], tp[64], sp[16];
            const char *unit;
            double v = pt_job_throughput(job, r->median, &unit);
            snprintf(tp, sizeof(tp), "%s%s", cli_fmt_rate(v, rate, sizeof(rate)), unit);
            if (base > 0 && r->median > 0)
                snprintf(sp, sizeof(sp), "%.2fx", base / r->median);
            else
                snprintf(sp, sizeof(sp), "-");
            printf("%-10s %12s %9s %18s  %-8s", pt_backend_name(r->b),
                   cli_fmt_seconds(r->median, t, sizeof(t)), sp, tp,
                   r->verified == 1 ? "yes" : "NO");
            if (r->b == PT_BACKEND_OPENCL)
                printf(" (%s)", r->info.device);
            if (r->verified == 0)
                printf(" (%s)", r->verr);
            putchar('\n');
        }
    }
    rc = any_failed ? EXIT_FAIL : (o.strict && any_unavailable) ? EXIT_UNAVAIL : EXIT_OK;
    if (any_failed)
        cli_error("bench: some backends failed or did not match serial");
    rc = cli_finish_stdout(rc);
out:
    for (size_t i = 0; i < nrows; i++)
        free(rows[i].times);
    pt_job_destroy(ref);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    pt_params_destroy(a.params);
    return rc;
}
