/* images_common.h - helpers shared by test_mandelbrot.c and test_blur.c:
 * temporary directories and their listings, running the built `ptool`
 * ($PTOOL_BIN) with its stdout and stderr in files of a scratch directory
 * (and started apart from waited for, to kill it mid-run), and
 * deterministic random PNGs. Jobs, runs on a backend, text output and the
 * backend list come from jobtest.h. Everything is static inline: each test
 * file uses what it needs. */
#ifndef PTOOL_TESTS_IMAGES_COMMON_H
#define PTOOL_TESTS_IMAGES_COMMON_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jobtest.h"

extern char **environ;

/* --- temporary directories ------------------------------------------------- */

static inline void tmpdir_make(char *dir, size_t len, const char *tag)
{
    snprintf(dir, len, "/tmp/ptool-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

/* rm -rf dir (our own temporary directory, nothing else). */
static inline void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strlen(dir) + strlen(e->d_name) + 2 > sizeof(path))
            continue;
        memcpy(path, dir, strlen(dir));
        path[strlen(dir)] = '/';
        memcpy(path + strlen(dir) + 1, e->d_name, strlen(e->d_name) + 1);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            tmpdir_remove(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir (hidden ones too), sorted, joined by single spaces. */
static inline void dir_listing(const char *dir, char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + off, len - off, "%s%s", i ? " " : "", names[i]);
        if (w > 0 && (size_t)w < len - off)
            off += (size_t)w;
        free(names[i]);
    }
}

/* --- the CLI --------------------------------------------------------------- */

typedef struct cli_result {
    int status;     /* exit status, 128 + N for signal N */
    char out[8192]; /* stdout (truncated) */
    char err[8192]; /* stderr (truncated) */
    char cmd[1024]; /* the command line, for messages */
} cli_result;

static inline void slurp(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Starts `ptool args...` (NULL-terminated) with stdout/stderr into files in
 * scratch (a directory of the test's), environment as the test's minus the
 * PTOOL_* knobs that change a run. Returns the pid. */
static inline pid_t cli_start(const char *scratch, const char *const *args, char *cmd,
                              size_t cmdlen)
{
    const char *bin = getenv("PTOOL_BIN");
    cr_assert(bin && *bin, "PTOOL_BIN is not set: run through ctest or set it");
    size_t nargs = 0, off = (size_t)snprintf(cmd, cmdlen, "ptool");
    while (args[nargs]) {
        if (off < cmdlen)
            off += (size_t)snprintf(cmd + off, cmdlen - off, " %s", args[nargs]);
        nargs++;
    }
    char **argv = calloc(nargs + 2, sizeof(*argv));
    cr_assert_not_null(argv);
    argv[0] = (char *)(uintptr_t)bin;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = (char *)(uintptr_t)args[i];
    static const char *const scrub[] = {"PTOOL_BACKEND=",    "PTOOL_THREADS=", "PTOOL_DEVICE=",
                                        "PTOOL_KERNEL_DIR=", "PTOOL_ISA=",     "PTOOL_CL_PATH="};
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 1, sizeof(*envp));
    cr_assert_not_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        bool drop = false;
        for (size_t j = 0; j < sizeof(scrub) / sizeof(scrub[0]); j++)
            drop = drop || strncmp(environ[i], scrub[j], strlen(scrub[j])) == 0;
        if (!drop)
            envp[k++] = environ[i];
    }
    char outp[4200], errp[4200];
    snprintf(outp, sizeof(outp), "%s/.stdout", scratch);
    snprintf(errp, sizeof(errp), "%s/.stderr", scratch);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    free(envp);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", bin, strerror(rc));
    return pid;
}

static inline void cli_wait(pid_t pid, const char *scratch, cli_result *r)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char p[4200];
    snprintf(p, sizeof(p), "%s/.stdout", scratch);
    slurp(p, r->out, sizeof(r->out));
    unlink(p);
    snprintf(p, sizeof(p), "%s/.stderr", scratch);
    slurp(p, r->err, sizeof(r->err));
    unlink(p);
}

/* Runs ptool to completion (scratch: where its stdout/stderr files go). */
static inline void cli_run(const char *scratch, const char *const *args, cli_result *r)
{
    pid_t pid = cli_start(scratch, args, r->cmd, sizeof(r->cmd));
    cli_wait(pid, scratch, r);
}

static inline size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The usage-error contract: exit 2, nothing on stdout, one line on stderr
 * that contains `names`. */
static inline void expect_usage_error(const cli_result *r, const char *names)
{
    cr_expect_eq(r->status, 2, "%s: exit %d (want 2); stderr: %s", r->cmd, r->status, r->err);
    cr_expect_str_empty(r->out, "%s: stdout not empty: %s", r->cmd, r->out);
    cr_expect_eq(count_lines(r->err), 1, "%s: stderr is not one line: %s", r->cmd, r->err);
    cr_expect_not_null(strstr(r->err, names), "%s: stderr does not name %s: %s", r->cmd, names,
                       r->err);
}

/* --- images -------------------------------------------------------------- */

/* Writes a w x h PNG of c channels with seeded random pixels (smoothed a
 * little along rows, so blurring has something to do besides noise). */
static inline void write_random_png(const char *path, uint32_t w, uint32_t h, uint32_t c,
                                    uint64_t seed)
{
    size_t n = (size_t)w * h * c;
    uint8_t *px = malloc(n);
    cr_assert_not_null(px);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)(jt_xorshift(&s) >> 56);
    pt__image img = {.width = w, .height = h, .channels = c, .pixels = px};
    char err[512];
    cr_assert_eq(pt__png_write(path, &img, err, sizeof(err)), 0, "%s", err);
    free(px);
}

static inline void *heap_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return malloc(bytes);
}

#endif /* PTOOL_TESTS_IMAGES_COMMON_H */
