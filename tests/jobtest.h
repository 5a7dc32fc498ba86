/* jobtest.h - helpers shared by the job suites (test_stream.c,
 * test_histogram.c, test_nbody.c, test_primes.c, test_matmul.c,
 * test_backends.c, test_isprime.c, and test_mandelbrot.c / test_blur.c
 * through images_common.h): make a job from name=value pairs, run it on a
 * backend (skipping visibly when the backend is unavailable), collect its
 * text output, deterministic random numbers, and run the built `ptool`
 * ($PTOOL_BIN) capturing its exit status, stdout and stderr. Header-only:
 * each suite is one executable. */
#ifndef PTOOL_TESTS_JOBTEST_H
#define PTOOL_TESTS_JOBTEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Every backend, for cr_make_param_array (it takes the const array as is). */
static const pt_backend_id jt_backends[] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS,
                                            PT_BACKEND_PROCESSES, PT_BACKEND_OPENMP,
                                            PT_BACKEND_OPENCL};
#define JT_NBACKENDS (sizeof(jt_backends) / sizeof(jt_backends[0]))

/* The number of elements of array a (an array, not a pointer). */
#define JT_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One xorshift64 step of the state *s (nonzero): the suites' deterministic
 * random numbers. Returns the new state. */
static inline uint64_t jt_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A runtime with `threads` threads and the process pool; the caller
 * destroys it. */
static inline pt_runtime *jt_runtime(unsigned threads)
{
    pt_runtime *rt;
    pt_runtime_options o = {.threads = threads};
    cr_assert_eq(pt_runtime_create(&rt, &o), 0);
    return rt;
}

/* A runtime with `threads` threads (0: the default) and no process pool
 * (no fork server: the processes backend is unavailable); the caller
 * destroys it. */
static inline pt_runtime *jt_runtime_no_processes(unsigned threads)
{
    pt_runtime *rt;
    pt_runtime_options o = {.threads = threads, .no_processes = true};
    cr_assert_eq(pt_runtime_create(&rt, &o), 0);
    return rt;
}

/* Creates job `name` with the pairs kv[0]=kv[1], ...; returns the code of
 * pt_params_set or pt_job_create, with the message in err. */
static inline int jt_make(pt_runtime *rt, const char *name, unsigned flags, const char *const *kv,
                          size_t nkv, pt_job **out, char *err, size_t errlen)
{
    const pt_job_desc *d = pt_job_find(name);
    cr_assert_not_null(d, "job %s is not in the catalog", name);
    pt_params *p;
    cr_assert_eq(pt_params_create(&p, d), 0);
    *out = NULL;
    for (size_t i = 0; i + 1 < nkv; i += 2) {
        int rc = pt_params_set(p, kv[i], kv[i + 1], err, errlen);
        if (rc) {
            pt_params_destroy(p);
            return rc;
        }
    }
    int rc = pt_job_create(out, rt, d, p, flags, err, errlen);
    pt_params_destroy(p);
    return rc;
}

/* One bad value of one parameter, and what pt_params_set/pt_job_create
 * must answer: the code and a fragment of the message. */
typedef struct jt_bad_param {
    const char *name, *value, *want;
    int code;
} jt_bad_param;

/* Makes job `name` once per case with that one parameter set; expects the
 * case's code and a one-line message that holds its fragment. */
static inline void jt_expect_bad_params(const char *name, const jt_bad_param *cases, size_t n)
{
    pt_runtime *rt = jt_runtime_no_processes(0);
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {cases[i].name, cases[i].value};
        pt_job *job = NULL;
        char err[PT_ERRBUF_SIZE] = "";
        int rc = jt_make(rt, name, 0, kv, 2, &job, err, sizeof(err));
        cr_expect_eq(rc, cases[i].code, "--%s %s: code %d (%s)", cases[i].name, cases[i].value, rc,
                     err);
        cr_expect(strstr(err, cases[i].want) != NULL, "'%s' in: %s", cases[i].want, err);
        cr_expect_null(strchr(err, '\n'), "one line: %s", err);
        pt_job_destroy(job);
    }
    pt_runtime_destroy(rt);
}

/* Like jt_make, but the job must be created; the caller destroys it. */
static inline pt_job *jt_job(pt_runtime *rt, const char *name, unsigned flags,
                             const char *const *kv, size_t nkv)
{
    char err[PT_ERRBUF_SIZE];
    pt_job *job;
    int rc = jt_make(rt, name, flags, kv, nkv, &job, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    return job;
}

/* Skips the test visibly when backend b cannot run job. */
static inline void jt_require(pt_runtime *rt, pt_backend_id b, const pt_job *job)
{
    char why[512];
    if (!pt_backend_available(rt, b, job, why, sizeof(why)))
        cr_skip_test("%s: unavailable: %s", pt_backend_name(b), why);
}

/* Runs job on b (strict) and returns the run's info. */
static inline pt_run_info jt_run(pt_runtime *rt, pt_job *job, pt_backend_id b)
{
    char err[PT_ERRBUF_SIZE];
    pt_run_options ro = {.backend = b, .strict = true};
    pt_run_info info;
    cr_assert_eq(pt_run(rt, job, &ro, &info, err, sizeof(err)), 0, "%s: %s", pt_backend_name(b),
                 err);
    cr_assert_eq(info.backend, b);
    return info;
}

/* jt_require then jt_run: skips the test visibly when b cannot run job,
 * else runs it on b (strict) and returns the run's info. */
static inline pt_run_info jt_run_on(pt_runtime *rt, pt_job *job, pt_backend_id b)
{
    jt_require(rt, b, job);
    return jt_run(rt, job, b);
}

/* --- text output ----------------------------------------------------------- */

/* Text collected by jt_text_append: buf (NULL until the first write, then
 * NUL-terminated) belongs to the caller, who frees it. */
typedef struct jt_text {
    char *buf;
    size_t len, cap;
} jt_text;

/* A pt_write_fn that appends n bytes of b to the jt_text ctx (growing its
 * buf; the caller frees buf). Always returns 0. */
static inline int jt_text_append(void *ctx, const char *b, size_t n)
{
    jt_text *t = ctx;
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        cr_assert_not_null(t->buf);
    }
    memcpy(t->buf + t->len, b, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

/* The job's text output (pt_job_write_text with flags, which must succeed)
 * as a new NUL-terminated string ("" when it writes nothing); the caller
 * frees it. */
static inline char *jt_job_text(const pt_job *job, unsigned flags)
{
    jt_text t = {0};
    int rc = pt_job_write_text(job, flags, jt_text_append, &t);
    cr_assert_eq(rc, 0, "pt_job_write_text: %s", pt_err_name(rc));
    if (!t.buf) {
        t.buf = calloc(1, 1);
        cr_assert_not_null(t.buf);
    }
    return t.buf;
}

/* Asserts that the job's text output (pt_job_write_text with flags) is
 * exactly want; frees what it collected. */
static inline void jt_expect_text(const pt_job *job, unsigned flags, const char *want)
{
    char *text = jt_job_text(job, flags);
    cr_assert_str_eq(text, want);
    free(text);
}

/* --- the ptool binary -------------------------------------------------------- */

/* Skips the test visibly when $PTOOL_BIN is not set (a run outside ctest);
 * jt_ptool itself fails the test then. */
static inline void jt_require_ptool(void)
{
    const char *bin = getenv("PTOOL_BIN");
    if (!bin || !*bin)
        cr_skip_test("PTOOL_BIN is not set (ctest sets it)");
}

/* What jt_ptool captured of one run (the caller's, no heap memory). */
typedef struct jt_cli {
    int status; /* exit status; 128 + N for signal N */
    char out[16384];
    char err[4096];
} jt_cli;

/* Reads the file at path into buf (NUL-terminated, truncated to len - 1
 * bytes), then removes the file. */
static inline void jt_slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
}

/* Runs `ptool args...` (NULL-terminated) with stdout and stderr captured in
 * *r (the caller's); stdin is /dev/null. */
static inline void jt_ptool(jt_cli *r, const char *const *args)
{
    const char *bin = getenv("PTOOL_BIN");
    cr_assert(bin && *bin, "PTOOL_BIN is not set (ctest sets it)");
    /* What a developer's shell may set must not change the run. */
    unsetenv("PTOOL_BACKEND");
    unsetenv("PTOOL_THREADS");
    unsetenv("PTOOL_ISA");
    unsetenv("PTOOL_KERNEL_DIR");
    char outp[] = "/tmp/ptool-jobtest-out-XXXXXX", errp[] = "/tmp/ptool-jobtest-err-XXXXXX";
    int ofd = mkstemp(outp), efd = mkstemp(errp);
    cr_assert(ofd >= 0 && efd >= 0);
    char *argv[32];
    size_t n = 0;
    argv[n++] = strdup(bin);
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = strdup(args[i]);
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ofd, 1);
    posix_spawn_file_actions_adddup2(&fa, efd, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    extern char **environ;
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", bin, strerror(rc));
    close(ofd);
    close(efd);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    jt_slurp(outp, r->out, sizeof(r->out));
    jt_slurp(errp, r->err, sizeof(r->err));
}

/* A bad parameter: exit 2, nothing on stdout, one line on stderr that
 * contains every one of words (NULL-terminated: the parameters' names). */
static inline void jt_ptool_usage_error_words(const char *const *args, const char *const *words)
{
    jt_cli r;
    jt_ptool(&r, args);
    cr_expect_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
    cr_expect_str_empty(r.out, "stdout: %s", r.out);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "one line on stderr: %s", r.err);
    for (size_t i = 0; words[i]; i++)
        cr_expect(strstr(r.err, words[i]) != NULL, "'%s' in: %s", words[i], r.err);
}

/* A bad parameter: exit 2, nothing on stdout, one line on stderr that
 * contains `want` (the parameter's name). */
static inline void jt_ptool_usage_error(const char *const *args, const char *want)
{
    const char *const words[] = {want, NULL};
    jt_ptool_usage_error_words(args, words);
}

#endif /* PTOOL_TESTS_JOBTEST_H */
