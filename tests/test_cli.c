/* test_cli.c - end-to-end tests of the `ptool` command line.
 *
 * Every test runs the built binary ($PTOOL_BIN; ctest sets it, by hand:
 * PTOOL_BIN=build/cli/ptool) with posix_spawn, feeds it stdin, and captures
 * its exit status, stdout and stderr through pipes read with poll(), so a
 * chatty child never blocks on a full pipe. Nothing here links libptool: the
 * tests see only what a user sees.
 *
 * The contract under test is the one `ptool --help` documents: exit 0
 * success, 1 the work failed, 2 bad usage or bad input with nothing on
 * stdout and one message on stderr, 3 --strict and the backend is
 * unavailable.
 *
 * The child's environment is the test's, minus the PTOOL_* variables that
 * change what a run does (PTOOL_BACKEND, PTOOL_THREADS, PTOOL_DEVICE,
 * PTOOL_KERNEL_DIR, PTOOL_ISA), so a developer's shell does not change the
 * results; PTOOL_CACHE_DIR and POCL_CACHE_DIR pass through. Tests that need
 * OpenCL ask `ptool backends --json` first and call cr_skip_test("opencl:
 * ...") with its reason when it is unavailable, never passing silently.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How long one ptool command may run before the helper kills it (seconds);
 * below the test timeout so a hang is reported with its command line. */
#define CMD_DEADLINE_S 100

/* The exact output of `run isprime 0 1 2 3 4 561 97` on every backend. */
#define SMALL_ARGS "0", "1", "2", "3", "4", "561", "97"
#define SMALL_OUT                                                                                  \
    "0 composite\n1 composite\n2 prime\n3 prime\n4 composite\n561 composite\n97 prime\n"

/* --- running ptool --------------------------------------------------------- */

typedef struct run_spec {
    const char *in;         /* stdin text; NULL: empty stdin */
    const char *const *env; /* NULL-terminated: "NAME=VALUE" sets, "NAME" unsets */
    const char *out_path;   /* stdout goes to this file instead of the pipe */
} run_spec;

typedef struct result {
    int status;      /* exit status; 128 + N for signal N; -1 timed out */
    char *out, *err; /* NUL-terminated captured stdout and stderr */
    size_t outlen, errlen;
    char cmd[1024]; /* the command line, for messages */
} result;

/* Variables scrubbed from the inherited environment (see the top comment). */
static const char *const scrubbed_env[] = {"PTOOL_BACKEND",    "PTOOL_THREADS", "PTOOL_DEVICE",
                                           "PTOOL_KERNEL_DIR", "PTOOL_ISA",     NULL};

static const char *ptool_bin(void)
{
    const char *bin = getenv("PTOOL_BIN");
    cr_assert(bin && *bin, "PTOOL_BIN is not set: run as PTOOL_BIN=/path/to/ptool test_cli");
    cr_assert(access(bin, X_OK) == 0, "PTOOL_BIN=%s is not executable: %s", bin, strerror(errno));
    return bin;
}

static bool env_name_is(const char *entry, const char *name)
{
    size_t n = strcspn(name, "=");
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* Builds the child's environment: environ minus scrubbed_env and minus every
 * name in extra, then the "NAME=VALUE" entries of extra. Strings are copies. */
static char **make_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    size_t nextra = 0;
    while (extra && extra[nextra])
        nextra++;
    char **env = calloc(n + nextra + 1, sizeof(*env));
    cr_assert_not_null(env);
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t j = 0; scrubbed_env[j] && !drop; j++)
            drop = env_name_is(environ[i], scrubbed_env[j]);
        for (size_t j = 0; j < nextra && !drop; j++)
            drop = env_name_is(environ[i], extra[j]);
        if (!drop)
            env[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < nextra; j++)
        if (strchr(extra[j], '='))
            env[k++] = strdup(extra[j]);
    env[k] = NULL;
    return env;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (*len + n + 1 > nc)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        cr_assert_not_null(nb);
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs ptool with args (NULL-terminated, without argv[0]). */
static result run_ptool(const run_spec *spec, const char *const *args)
{
    static const run_spec none = {0};
    if (!spec)
        spec = &none;
    result r = {.status = -1};
    const char *bin = ptool_bin();

    size_t nargs = 0, off = 0;
    off += (size_t)snprintf(r.cmd, sizeof(r.cmd), "ptool");
    while (args[nargs]) {
        if (off < sizeof(r.cmd))
            off += (size_t)snprintf(r.cmd + off, sizeof(r.cmd) - off, " %s", args[nargs]);
        nargs++;
    }
    char **argv = calloc(nargs + 2, sizeof(*argv));
    cr_assert_not_null(argv);
    argv[0] = strdup(bin);
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = strdup(args[i]);
    char **envp = make_env(spec->env);

    int in[2], out[2], err[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0,
              "pipe2: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    if (spec->out_path)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, spec->out_path, O_WRONLY, 0);
    else
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    /* The parent ignores SIGPIPE (a child that exits before reading its
     * stdin); the child gets the default back. */
    signal(SIGPIPE, SIG_IGN);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

    pid_t pid;
    int src = posix_spawn(&pid, bin, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free_strv(argv);
    free_strv(envp);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    cr_assert_eq(src, 0, "posix_spawn %s: %s", bin, strerror(src));

    const char *text = spec->in ? spec->in : "";
    size_t tlen = strlen(text), tpos = 0;
    int infd = in[1];
    fcntl(infd, F_SETFL, O_NONBLOCK);
    if (tlen == 0) {
        close(infd);
        infd = -1;
    }
    size_t outcap = 0, errcap = 0;
    append(&r.out, &r.outlen, &outcap, "", 0);
    append(&r.err, &r.errlen, &errcap, "", 0);
    int ofd = out[0], efd = err[0];
    if (spec->out_path) {
        close(ofd);
        ofd = -1;
    }
    double deadline = now_s() + CMD_DEADLINE_S;
    bool timed_out = false;
    while (ofd >= 0 || efd >= 0 || infd >= 0) {
        struct pollfd p[3] = {{.fd = ofd, .events = POLLIN},
                              {.fd = efd, .events = POLLIN},
                              {.fd = infd, .events = POLLOUT}};
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int n = poll(p, 3, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n >= 0, "poll: %s", strerror(errno));
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &ofd : &efd;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(*fd, buf, sizeof(buf));
            if (got > 0) {
                if (i == 0)
                    append(&r.out, &r.outlen, &outcap, buf, (size_t)got);
                else
                    append(&r.err, &r.errlen, &errcap, buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(*fd);
                *fd = -1;
            }
        }
        if (infd >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(infd, text + tpos, tlen - tpos);
            if (w > 0)
                tpos += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || tpos == tlen) {
                close(infd);
                infd = -1;
            }
        }
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        if (ofd >= 0)
            close(ofd);
        if (efd >= 0)
            close(efd);
        if (infd >= 0)
            close(infd);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    if (timed_out)
        r.status = -1;
    else if (WIFEXITED(ws))
        r.status = WEXITSTATUS(ws);
    else
        r.status = 128 + WTERMSIG(ws);
    cr_assert(!timed_out, "%s: still running after %d s, killed; stderr so far: %s", r.cmd,
              CMD_DEADLINE_S, r.err);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
/* PTOOL("run", "isprime", "7"): runs ptool with these arguments. */
#define PTOOL(...) run_ptool(NULL, ARGS(__VA_ARGS__))
/* PTOOL_ENV(ENV("A=1"), "run", ...): with environment changes. */
#define ENV(...)             ((const char *const[]){__VA_ARGS__, NULL})
#define PTOOL_ENV(env_, ...) run_ptool(&(run_spec){.env = (env_)}, ARGS(__VA_ARGS__))
/* PTOOL_IN("7\n", "run", ...): with this text on stdin. */
#define PTOOL_IN(text_, ...) run_ptool(&(run_spec){.in = (text_)}, ARGS(__VA_ARGS__))

/* --- checks ---------------------------------------------------------------- */

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static size_t count_str(const char *s, const char *sub)
{
    size_t n = 0, len = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + len, sub))
        n++;
    return n;
}

/* The first line of s (without its newline) into buf. */
static const char *first_line(const char *s, char *buf, size_t len)
{
    size_t n = strcspn(s, "\n");
    if (n >= len)
        n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Whether one line of s contains both a and b. */
static bool line_has_both(const char *s, const char *a, const char *b)
{
    while (*s) {
        size_t n = strcspn(s, "\n");
        char line[4096];
        first_line(s, line, sizeof(line));
        if (strstr(line, a) && strstr(line, b))
            return true;
        s += n + (s[n] == '\n');
    }
    return false;
}

static void expect_exit(const result *r, int code)
{
    cr_assert_eq(r->status, code, "%s: exit %d, expected %d\n--- stdout:\n%s--- stderr:\n%s",
                 r->cmd, r->status, code, r->out, r->err);
}

static void expect_out(const result *r, const char *want)
{
    cr_assert_str_eq(r->out, want, "%s: stdout is\n%s--- expected\n%s--- stderr:\n%s", r->cmd,
                     r->out, want, r->err);
}

static void expect_has(const char *what, const result *r, const char *text, const char *needle)
{
    cr_assert_not_null(strstr(text, needle), "%s: %s lacks \"%s\":\n%s", r->cmd, what, needle,
                       text);
}
#define EXPECT_OUT_HAS(r, needle) expect_has("stdout", &(r), (r).out, (needle))
#define EXPECT_ERR_HAS(r, needle) expect_has("stderr", &(r), (r).err, (needle))

static void expect_err_lacks(const result *r, const char *needle)
{
    cr_assert_null(strstr(r->err, needle), "%s: stderr has \"%s\":\n%s", r->cmd, needle, r->err);
}

/* Exit 2, stdout empty, and one message line on stderr, "ptool...", that
 * contains every needle. A usage error may add one "Try 'ptool CMD --help'."
 * line, nothing else. */
static void expect_usage_error(const result *r, const char *const *needles)
{
    expect_exit(r, 2);
    cr_assert_eq(r->outlen, 0, "%s: exit 2 but stdout is not empty:\n%s", r->cmd, r->out);
    char line[4096];
    first_line(r->err, line, sizeof(line));
    cr_assert(strncmp(line, "ptool", 5) == 0, "%s: stderr does not start with 'ptool':\n%s", r->cmd,
              r->err);
    for (size_t i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(line, needles[i]), "%s: the message does not name \"%s\":\n%s",
                           r->cmd, needles[i], r->err);
    size_t lines = count_lines(r->err);
    cr_assert(r->errlen > 0 && r->err[r->errlen - 1] == '\n',
              "%s: stderr does not end with a newline:\n%s", r->cmd, r->err);
    if (lines == 2) {
        const char *second = strchr(r->err, '\n') + 1;
        cr_assert(strncmp(second, "Try 'ptool ", 11) == 0 && strstr(second, "--help'."),
                  "%s: the second stderr line is not a 'Try ... --help' hint:\n%s", r->cmd, r->err);
    } else {
        cr_assert_eq(lines, 1, "%s: %zu lines on stderr, expected one message:\n%s", r->cmd, lines,
                     r->err);
    }
}
#define EXPECT_USAGE_ERROR(r, ...) expect_usage_error(&(r), ARGS(__VA_ARGS__))

/* Bad input: exit 2, stdout empty, exactly one line on stderr containing
 * every needle. */
static void expect_input_error(const result *r, const char *const *needles)
{
    expect_exit(r, 2);
    cr_assert_eq(r->outlen, 0, "%s: exit 2 but stdout is not empty:\n%s", r->cmd, r->out);
    cr_assert_eq(count_lines(r->err), 1, "%s: expected exactly one line on stderr:\n%s", r->cmd,
                 r->err);
    cr_assert(r->err[r->errlen - 1] == '\n', "%s: stderr does not end with a newline:\n%s", r->cmd,
              r->err);
    for (size_t i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(r->err, needles[i]), "%s: the message does not name \"%s\":\n%s",
                           r->cmd, needles[i], r->err);
}
#define EXPECT_INPUT_ERROR(r, ...) expect_input_error(&(r), ARGS(__VA_ARGS__))

/* --- a small JSON validator ---------------------------------------------- */

typedef struct jcur {
    const char *p, *end;
    int depth;
} jcur;

static void jws(jcur *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jlit(jcur *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || strncmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool jdigits(jcur *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool jstring(jcur *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (j->p >= j->end)
            return false;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                    return false;
        } else if (!c || !strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
    return false;
}

static bool jnumber(jcur *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!jdigits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jdigits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!jdigits(j))
            return false;
    }
    return true;
}

static bool jvalue(jcur *j);

static bool jcontainer(jcur *j, char close, bool object)
{
    if (++j->depth > 64)
        return false;
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        jws(j);
        if (object) {
            if (!jstring(j))
                return false;
            jws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return false;
        }
        if (!jvalue(j))
            return false;
        jws(j);
        if (j->p >= j->end)
            return false;
        char c = *j->p++;
        if (c == close)
            break;
        if (c != ',')
            return false;
    }
    j->depth--;
    return true;
}

static bool jvalue(jcur *j)
{
    jws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return jcontainer(j, '}', true);
    case '[':
        return jcontainer(j, ']', false);
    case '"':
        return jstring(j);
    case 't':
        return jlit(j, "true");
    case 'f':
        return jlit(j, "false");
    case 'n':
        return jlit(j, "null");
    default:
        return jnumber(j);
    }
}

/* stdout is one JSON object and a newline, nothing else. */
static void expect_json_object(const result *r)
{
    cr_assert(r->outlen >= 3 && r->out[0] == '{' && strcmp(r->out + r->outlen - 2, "}\n") == 0,
              "%s: stdout is not one '{...}\\n' object:\n%s", r->cmd, r->out);
    cr_assert_eq(count_lines(r->out), 1, "%s: JSON spans several lines:\n%s", r->cmd, r->out);
    jcur j = {.p = r->out, .end = r->out + r->outlen - 1};
    bool ok = jvalue(&j);
    jws(&j);
    cr_assert(ok && j.p == j.end, "%s: invalid JSON near offset %td:\n%s", r->cmd, j.p - r->out,
              r->out);
}

/* --- environment probes and temp dirs --------------------------------------- */

/* Whether `ptool backends --json` (in env) reports backend `name` available;
 * if not, its reason goes to why. */
static bool backend_available_env(const char *const *env, const char *name, char *why, size_t len)
{
    result r = PTOOL_ENV(env, "backends", "--json");
    expect_exit(&r, 0);
    char key[128];
    snprintf(key, sizeof(key), "{\"name\":\"%s\",\"available\":", name);
    const char *p = strstr(r.out, key);
    cr_assert_not_null(p, "backends --json has no entry %s:\n%s", key, r.out);
    p += strlen(key);
    bool avail = strncmp(p, "true", 4) == 0;
    cr_assert(avail || strncmp(p, "false", 5) == 0, "backends --json: %s is neither:\n%s", key,
              r.out);
    snprintf(why, len, "unavailable (no reason given)");
    const char *w = strstr(p, "\"why\":\"");
    if (!avail && w) {
        w += 7;
        size_t n = strcspn(w, "\"");
        snprintf(why, len, "%.*s", (int)n, w);
    }
    result_free(&r);
    return avail;
}

static bool backend_available(const char *name, char *why, size_t len)
{
    return backend_available_env(NULL, name, why, len);
}

/* Skips the test, visibly and with the reason, when backend is unavailable. */
static void require_backend(const char *name)
{
    char why[1024];
    if (!backend_available(name, why, sizeof(why)))
        cr_skip_test("%s: %s", name, why);
}

/* Temp dirs of the current test, removed by the suite's fini (which also
 * runs after a failed assertion). */
static char tmpdirs[8][512];
static size_t ntmpdirs;

static const char *make_tmpdir(void)
{
    cr_assert_lt(ntmpdirs, sizeof(tmpdirs) / sizeof(tmpdirs[0]));
    const char *base = getenv("TMPDIR");
    char *d = tmpdirs[ntmpdirs];
    snprintf(d, sizeof(tmpdirs[0]), "%s/ptool-cli-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(d), "mkdtemp %s: %s", d, strerror(errno));
    ntmpdirs++;
    return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdirs(void)
{
    for (size_t i = 0; i < ntmpdirs; i++)
        nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ntmpdirs = 0;
}

/* Writes text to dir/name; the path goes into path, which it returns. */
static const char *write_file(const char *dir, const char *name, const char *text, char *path,
                              size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1, "writing %s failed", path);
    return path;
}

TestSuite(cli, .timeout = 120, .fini = remove_tmpdirs);

/* --- version and help ------------------------------------------------------ */

Test(cli, version)
{
    result r = PTOOL("--version");
    expect_exit(&r, 0);
    cr_assert(strncmp(r.out, "ptool ", 6) == 0, "--version: stdout is '%s'", r.out);
    cr_assert_eq(count_lines(r.out), 1, "--version prints one line:\n%s", r.out);
    EXPECT_OUT_HAS(r, "serial threads processes");
    cr_assert_eq(r.errlen, 0, "--version wrote to stderr: %s", r.err);
    result r2 = PTOOL("-V");
    expect_exit(&r2, 0);
    cr_assert_str_eq(r2.out, r.out, "-V and --version differ");
    result_free(&r);
    result_free(&r2);
}

Test(cli, help)
{
    result r = PTOOL("--help");
    expect_exit(&r, 0);
    EXPECT_OUT_HAS(r, "Usage: ptool COMMAND");
    static const char *const commands[] = {"run", "bench", "jobs", "backends", "cache"};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n  %s ", commands[i]);
        EXPECT_OUT_HAS(r, line);
    }
    EXPECT_OUT_HAS(r, "Exit status");
    cr_assert_eq(r.errlen, 0, "--help wrote to stderr: %s", r.err);
    result r2 = PTOOL("help");
    expect_exit(&r2, 0);
    cr_assert_str_eq(r2.out, r.out, "'help' and '--help' differ");
    result r3 = PTOOL("-h");
    expect_exit(&r3, 0);
    cr_assert_str_eq(r3.out, r.out, "'-h' and '--help' differ");
    result_free(&r);
    result_free(&r2);
    result_free(&r3);
}

Test(cli, help_run)
{
    result r = PTOOL("help", "run");
    expect_exit(&r, 0);
    EXPECT_OUT_HAS(r, "Usage: ptool run JOB");
    EXPECT_OUT_HAS(r, "--backend");
    EXPECT_OUT_HAS(r, "--strict");
    EXPECT_OUT_HAS(r, "--verify");
    result r2 = PTOOL("run", "--help");
    expect_exit(&r2, 0);
    cr_assert_str_eq(r2.out, r.out, "'help run' and 'run --help' differ");
    result_free(&r);
    result_free(&r2);
}

Test(cli, help_job)
{
    result r = PTOOL("run", "isprime", "--help");
    expect_exit(&r, 0);
    EXPECT_OUT_HAS(r, "Usage: ptool run isprime");
    EXPECT_OUT_HAS(r, "--method mr|trial");
    EXPECT_OUT_HAS(r, "--input FILE");
    EXPECT_OUT_HAS(r, "--preset course");
    EXPECT_OUT_HAS(r, "--quiet");
    cr_assert_eq(r.errlen, 0, "help wrote to stderr: %s", r.err);
    result_free(&r);
}

Test(cli, help_commands)
{
    static const char *const commands[] = {"bench", "jobs", "backends", "cache"};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        result r = PTOOL(commands[i], "--help");
        expect_exit(&r, 0);
        char want[64];
        snprintf(want, sizeof(want), "Usage: ptool %s", commands[i]);
        EXPECT_OUT_HAS(r, want);
        result_free(&r);
    }
    result r = PTOOL("bench", "isprime", "--help");
    expect_exit(&r, 0);
    EXPECT_OUT_HAS(r, "--backends LIST");
    EXPECT_OUT_HAS(r, "--repeat N");
    result_free(&r);
}

/* --- usage errors ---------------------------------------------------------- */

Test(cli, no_arguments)
{
    result r = PTOOL(NULL);
    expect_exit(&r, 2);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    EXPECT_ERR_HAS(r, "missing COMMAND");
    result_free(&r);
}

Test(cli, unknown_command)
{
    result r = PTOOL("frobnicate");
    expect_exit(&r, 2);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    char line[256];
    cr_assert_str_eq(first_line(r.err, line, sizeof(line)), "ptool: unknown command 'frobnicate'",
                     "stderr:\n%s", r.err);
    result r2 = PTOOL("help", "frobnicate");
    expect_exit(&r2, 2);
    cr_assert_eq(r2.outlen, 0, "stdout: %s", r2.out);
    cr_assert_str_eq(first_line(r2.err, line, sizeof(line)), "ptool: unknown command 'frobnicate'",
                     "stderr:\n%s", r2.err);
    result_free(&r);
    result_free(&r2);
}

Test(cli, run_unknown_option)
{
    result r = PTOOL("run", "isprime", "7", "--bogus");
    EXPECT_USAGE_ERROR(r, "unknown option", "'--bogus'");
    result_free(&r);
}

Test(cli, run_unknown_backend)
{
    result r = PTOOL("run", "isprime", "7", "--backend", "nope");
    EXPECT_USAGE_ERROR(r, "--backend", "unknown backend", "'nope'");
    result r2 = PTOOL("run", "isprime", "7", "--backend=nope");
    EXPECT_USAGE_ERROR(r2, "--backend", "'nope'");
    result_free(&r);
    result_free(&r2);
}

Test(cli, run_unknown_job)
{
    result r = PTOOL("run", "nosuchjob", "7");
    EXPECT_USAGE_ERROR(r, "unknown job", "'nosuchjob'");
    result_free(&r);
}

Test(cli, run_missing_job)
{
    result r = PTOOL("run");
    EXPECT_USAGE_ERROR(r, "missing JOB");
    result r2 = PTOOL("run", "--backend", "serial");
    EXPECT_USAGE_ERROR(r2, "missing JOB", "'--backend'");
    result_free(&r);
    result_free(&r2);
}

Test(cli, run_missing_value)
{
    result r = PTOOL("run", "isprime", "7", "--backend");
    EXPECT_USAGE_ERROR(r, "--backend", "needs a value");
    result r2 = PTOOL("run", "isprime", "--method");
    EXPECT_USAGE_ERROR(r2, "--method", "needs a value");
    result_free(&r);
    result_free(&r2);
}

Test(cli, run_threads_zero)
{
    result r = PTOOL("run", "isprime", "7", "--threads", "0");
    EXPECT_USAGE_ERROR(r, "--threads", "'0'");
    result_free(&r);
}

Test(cli, run_threads_not_a_number)
{
    result r = PTOOL("run", "isprime", "7", "--threads", "abc");
    EXPECT_USAGE_ERROR(r, "--threads", "'abc'");
    result r2 = PTOOL("run", "isprime", "7", "--threads=4x");
    EXPECT_USAGE_ERROR(r2, "--threads", "'4x'");
    result r3 = PTOOL("run", "isprime", "7", "--threads", "-1");
    EXPECT_USAGE_ERROR(r3, "--threads", "'-1'");
    result_free(&r);
    result_free(&r2);
    result_free(&r3);
}

Test(cli, env_backend_bogus)
{
    result r = PTOOL_ENV(ENV("PTOOL_BACKEND=bogus"), "run", "isprime", "7");
    EXPECT_USAGE_ERROR(r, "PTOOL_BACKEND", "'bogus'");
    result_free(&r);
}

Test(cli, run_bad_method)
{
    result r = PTOOL("run", "isprime", "7", "--method", "bogus");
    EXPECT_INPUT_ERROR(r, "--method", "'bogus'");
    result_free(&r);
}

Test(cli, run_json_error_keeps_stdout_empty)
{
    result r = PTOOL("run", "isprime", "abc", "--json");
    EXPECT_INPUT_ERROR(r, "'abc'");
    result_free(&r);
}

/* --- known answers on every backend ---------------------------------------- */

static const char *const backend_names[] = {"serial", "threads", "processes", "openmp", "opencl"};
static const char *const method_names[] = {"mr", "trial"};

typedef struct run_case {
    int backend; /* index into backend_names */
    int method;  /* index into method_names */
} run_case;

static run_case all_cases[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0},
                               {2, 1}, {3, 0}, {3, 1}, {4, 0}, {4, 1}};

ParameterizedTestParameters(cli, run_small_numbers)
{
    return cr_make_param_array(run_case, all_cases, sizeof(all_cases) / sizeof(all_cases[0]));
}

ParameterizedTest(run_case *c, cli, run_small_numbers)
{
    const char *b = backend_names[c->backend], *m = method_names[c->method];
    require_backend(b);
    result r = PTOOL("run", "isprime", SMALL_ARGS, "--backend", b, "--method", m);
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    char want[128];
    snprintf(want, sizeof(want), "isprime on %s", b);
    EXPECT_ERR_HAS(r, want);
    result_free(&r);
}

/* Boundaries: the largest primes below 2^64, 2^63 and 2^32, 2^64-1, strong
 * pseudoprimes to small bases, and squares and products of primes next to
 * 2^26 and 2^28 (numbers around 2^52 and 2^56, where the trial division's
 * floating-point quotient changes method; the divisor sits at the square
 * root). */
#define BOUNDARY_ARGS                                                                              \
    "18446744073709551557", "18446744073709551615", "9223372036854775783", "4294967291",           \
        "4294967296", "3215031751", "341550071728321", "3825123056546413051", "25326001",          \
        "4503598956281881", "4503601640636641", "4503600298459061", "4503599627370449",            \
        "4503599627370517", "72057563436289201", "72057595648540681", "72057579542413141",         \
        "72057594037927931", "72057594037928017", "4293001441", "4292870399"
#define BOUNDARY_OUT                                                                               \
    "18446744073709551557 prime\n18446744073709551615 composite\n9223372036854775783 prime\n"      \
    "4294967291 prime\n4294967296 composite\n3215031751 composite\n341550071728321 composite\n"    \
    "3825123056546413051 composite\n25326001 composite\n4503598956281881 composite\n"              \
    "4503601640636641 composite\n4503600298459061 composite\n4503599627370449 prime\n"             \
    "4503599627370517 prime\n72057563436289201 composite\n72057595648540681 composite\n"           \
    "72057579542413141 composite\n72057594037927931 prime\n72057594037928017 prime\n"              \
    "4293001441 composite\n4292870399 composite\n"

ParameterizedTestParameters(cli, run_boundaries)
{
    return cr_make_param_array(run_case, all_cases, sizeof(all_cases) / sizeof(all_cases[0]));
}

ParameterizedTest(run_case *c, cli, run_boundaries)
{
    const char *b = backend_names[c->backend], *m = method_names[c->method];
    require_backend(b);
    result r;
    if (c->method == 0) {
        r = PTOOL("run", "isprime", BOUNDARY_ARGS, "--backend", b, "--method", m);
        expect_exit(&r, 0);
        expect_out(&r, BOUNDARY_OUT);
    } else {
        /* Trial division of a prime near 2^64 takes seconds: leave out the
         * four numbers above 2^60 (the first three and 3825123056546413051). */
        r = PTOOL("run", "isprime", "4294967291", "4294967296", "3215031751", "341550071728321",
                  "25326001", "4503598956281881", "4503601640636641", "4503600298459061",
                  "4503599627370449", "4503599627370517", "72057563436289201", "72057595648540681",
                  "72057579542413141", "72057594037927931", "72057594037928017", "4293001441",
                  "4292870399", "--backend", b, "--method", m);
        expect_exit(&r, 0);
        expect_out(&r, "4294967291 prime\n4294967296 composite\n3215031751 composite\n"
                       "341550071728321 composite\n25326001 composite\n4503598956281881 composite\n"
                       "4503601640636641 composite\n4503600298459061 composite\n"
                       "4503599627370449 prime\n4503599627370517 prime\n"
                       "72057563436289201 composite\n72057595648540681 composite\n"
                       "72057579542413141 composite\n72057594037927931 prime\n"
                       "72057594037928017 prime\n4293001441 composite\n4292870399 composite\n");
    }
    result_free(&r);
}

Test(cli, run_comma_separated)
{
    result r = PTOOL("run", "isprime", "0,1,2,3", "4,561", "97", "--backend", "serial");
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    result_free(&r);
}

Test(cli, run_auto_says_what_it_picked)
{
    result r = PTOOL("run", "isprime", "7");
    expect_exit(&r, 0);
    expect_out(&r, "7 prime\n");
    EXPECT_ERR_HAS(r, "auto: ");
    result_free(&r);
}

/* --- bad input ------------------------------------------------------------- */

Test(cli, input_negative)
{
    result r = PTOOL("run", "isprime", "-5");
    EXPECT_INPUT_ERROR(r, "'-5'", "negative");
    result r2 = PTOOL("run", "isprime", "--", "-5");
    EXPECT_INPUT_ERROR(r2, "'-5'", "negative");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_not_a_number)
{
    result r = PTOOL("run", "isprime", "7", "abc");
    EXPECT_INPUT_ERROR(r, "'abc'", "not a number");
    result r2 = PTOOL("run", "isprime", "");
    EXPECT_INPUT_ERROR(r2, "''");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_too_large)
{
    result r = PTOOL("run", "isprime", "18446744073709551616");
    EXPECT_INPUT_ERROR(r, "'18446744073709551616'");
    /* One below is the largest accepted value. */
    result r2 = PTOOL("run", "isprime", "18446744073709551615", "--backend", "serial");
    expect_exit(&r2, 0);
    expect_out(&r2, "18446744073709551615 composite\n");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_empty_file)
{
    const char *d = make_tmpdir();
    char path[1024];
    write_file(d, "empty.txt", "", path, sizeof(path));
    result r = PTOOL("run", "isprime", "--input", path);
    EXPECT_INPUT_ERROR(r, path, "empty");
    char path2[1024];
    write_file(d, "blank.txt", "\n  \n\n", path2, sizeof(path2));
    result r2 = PTOOL("run", "isprime", "--input", path2);
    EXPECT_INPUT_ERROR(r2, path2, "no numbers");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_missing_file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/does-not-exist.txt", make_tmpdir());
    result r = PTOOL("run", "isprime", "--input", path);
    EXPECT_INPUT_ERROR(r, path, "no such file");
    result_free(&r);
}

Test(cli, input_bad_line)
{
    char path[1024];
    write_file(make_tmpdir(), "bad.txt", "5\n7\n12a\n11\n", path, sizeof(path));
    result r = PTOOL("run", "isprime", "--input", path);
    EXPECT_INPUT_ERROR(r, path, "line 3", "'12a'");
    result_free(&r);
}

Test(cli, input_stdin_bad_line)
{
    result r = PTOOL_IN("5\n\nxyz\n", "run", "isprime", "--input", "-");
    EXPECT_INPUT_ERROR(r, "<stdin>", "line 3", "'xyz'");
    result r2 = PTOOL_IN("", "run", "isprime", "--input", "-");
    EXPECT_INPUT_ERROR(r2, "<stdin>", "empty");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_none)
{
    result r = PTOOL("run", "isprime");
    EXPECT_INPUT_ERROR(r, "no input", "--input");
    result r2 = PTOOL("run", "isprime", "--backend", "serial", "--quiet");
    EXPECT_INPUT_ERROR(r2, "no input");
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_conflicting_sources)
{
    char path[1024];
    write_file(make_tmpdir(), "n.txt", "7\n", path, sizeof(path));
    result r = PTOOL("run", "isprime", "3", "--input", path);
    EXPECT_INPUT_ERROR(r, "only one of");
    result r2 = PTOOL("run", "isprime", "3", "--preset", "course");
    EXPECT_INPUT_ERROR(r2, "only one of");
    result_free(&r);
    result_free(&r2);
}

/* --- --input --------------------------------------------------------------- */

Test(cli, input_file_matches_arguments)
{
    char path[1024];
    write_file(make_tmpdir(), "n.txt", "0\n1\n\n2\n3\n\n\n4\n561\n97\n\n", path, sizeof(path));
    result r = PTOOL("run", "isprime", "--input", path, "--backend", "serial");
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    result r2 = PTOOL("run", "isprime", "--input", path, "--backend", "threads");
    expect_exit(&r2, 0);
    expect_out(&r2, SMALL_OUT);
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_file_whitespace_crlf_no_final_newline)
{
    char path[1024];
    write_file(make_tmpdir(), "n.txt", " 0\r\n\t1\r\n\r\n2\n3 \n4\n561\n97", path, sizeof(path));
    result r = PTOOL("run", "isprime", "--input=", "--backend", "serial");
    /* "--input=" is an empty file name: bad input, not a crash. */
    expect_exit(&r, 2);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    result r2 = PTOOL("run", "isprime", "--backend", "serial", "--input", path);
    expect_exit(&r2, 0);
    expect_out(&r2, SMALL_OUT);
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_stdin_matches_arguments)
{
    result r = PTOOL_IN("0\n1\n\n2\n3\n4\n\n561\n97\n", "run", "isprime", "--input", "-",
                        "--backend", "serial");
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    result r2 = PTOOL_IN("0\n1\n2\n3\n4\n561\n97\n", "run", "isprime", "--input=-", "--backend",
                         "openmp", "--method", "trial");
    /* Without openmp the run falls back: the output is the same. */
    expect_exit(&r2, 0);
    expect_out(&r2, SMALL_OUT);
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_stdin_is_read_once_for_verify_and_bench)
{
    /* --verify and bench make a second (reference) job: it must reuse the
     * numbers, not read the exhausted stdin again. */
    result r = PTOOL_IN("0\n1\n2\n3\n4\n561\n97\n", "run", "isprime", "--input", "-", "--backend",
                        "threads", "--verify");
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    EXPECT_ERR_HAS(r, "matches serial");
    result r2 = PTOOL_IN("97\n561\n", "bench", "isprime", "--input", "-", "--repeat", "1",
                         "--warmup", "0", "--backends", "threads");
    expect_exit(&r2, 0);
    cr_assert(strstr(r2.out, "threads") && strstr(r2.out, "yes"), "%s", r2.out);
    result_free(&r);
    result_free(&r2);
}

Test(cli, input_stdin_large)
{
    /* More than a pipe buffer of stdin: the helper and ptool must not
     * deadlock, and every number comes back in order. */
    size_t n = 20000, cap = n * 8 + 1, len = 0;
    char *in = malloc(cap);
    cr_assert_not_null(in);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(in + len, cap - len, "%zu\n", 1000 + i);
    result r = PTOOL_IN(in, "run", "isprime", "--input", "-", "--backend", "threads");
    expect_exit(&r, 0);
    cr_assert_eq(count_lines(r.out), n, "%s: %zu lines of output, expected %zu", r.cmd,
                 count_lines(r.out), n);
    cr_assert(strncmp(r.out, "1000 composite\n", 15) == 0, "first line: %.40s", r.out);
    EXPECT_OUT_HAS(r, "\n1009 prime\n");
    EXPECT_OUT_HAS(r, "\n20999 composite\n");
    result q = PTOOL_IN(in, "run", "isprime", "--input", "-", "--backend", "serial", "--quiet");
    expect_exit(&q, 0);
    /* pi(20999) - pi(999) = 2360 - 168. */
    expect_out(&q, "2192 prime, 17808 composite\n");
    free(in);
    result_free(&r);
    result_free(&q);
}

/* --- output modes ---------------------------------------------------------- */

Test(cli, quiet)
{
    result r = PTOOL("run", "isprime", SMALL_ARGS, "--backend", "serial", "--quiet");
    expect_exit(&r, 0);
    expect_out(&r, "3 prime, 4 composite\n");
    cr_assert_eq(r.errlen, 0, "--quiet wrote to stderr:\n%s", r.err);
    result r2 = PTOOL("run", "isprime", "--preset", "course", "--quiet");
    expect_exit(&r2, 0);
    expect_out(&r2, "100 prime, 0 composite\n");
    cr_assert_eq(r2.errlen, 0, "--quiet wrote to stderr:\n%s", r2.err);
    result_free(&r);
    result_free(&r2);
}

Test(cli, json_run)
{
    result r = PTOOL("run", "isprime", "--preset", "course", "--json");
    expect_exit(&r, 0);
    expect_json_object(&r);
    EXPECT_OUT_HAS(r, "\"ptool\":");
    EXPECT_OUT_HAS(r, "\"backend\":");
    EXPECT_OUT_HAS(r, "\"results\":");
    EXPECT_OUT_HAS(r, "\"prime\":100");
    EXPECT_OUT_HAS(r, "\"composite\":0");
    EXPECT_OUT_HAS(r, "\"job\":\"isprime\"");
    EXPECT_OUT_HAS(r, "\"verified\":null");
    cr_assert_eq(count_str(r.out, "{\"n\":112272535095293,\"prime\":true}"), 100,
                 "expected 100 result entries:\n%s", r.out);
    result_free(&r);
}

Test(cli, json_run_backend)
{
    result r = PTOOL("run", "isprime", SMALL_ARGS, "--json", "--backend", "threads");
    expect_exit(&r, 0);
    expect_json_object(&r);
    EXPECT_OUT_HAS(r, "\"requested\":\"threads\"");
    EXPECT_OUT_HAS(r, "\"backend\":\"threads\"");
    EXPECT_OUT_HAS(r, "\"prime\":3");
    EXPECT_OUT_HAS(r, "\"composite\":4");
    EXPECT_OUT_HAS(r, "{\"n\":561,\"prime\":false}");
    EXPECT_OUT_HAS(r, "{\"n\":97,\"prime\":true}");
    result_free(&r);
}

Test(cli, verify)
{
    result r = PTOOL("run", "isprime", SMALL_ARGS, "--backend", "threads", "--verify");
    expect_exit(&r, 0);
    expect_out(&r, SMALL_OUT);
    EXPECT_ERR_HAS(r, "matches serial");
    result r2 = PTOOL("run", "isprime", "--preset", "course", "--backend", "processes", "--verify",
                      "--json");
    expect_exit(&r2, 0);
    expect_json_object(&r2);
    EXPECT_OUT_HAS(r2, "\"verified\":true");
    result_free(&r);
    result_free(&r2);
}

Test(cli, preset_course_trial_openmp)
{
    require_backend("openmp");
    result r = PTOOL("run", "isprime", "--preset", "course", "--method", "trial", "--backend",
                     "openmp", "--quiet");
    expect_exit(&r, 0);
    expect_out(&r, "100 prime, 0 composite\n");
    result_free(&r);
}

Test(cli, stdout_write_error)
{
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no writable /dev/full");
    result r = run_ptool(&(run_spec){.out_path = "/dev/full"}, ARGS("jobs"));
    expect_exit(&r, 1);
    EXPECT_ERR_HAS(r, "error writing output");
    result r2 = run_ptool(&(run_spec){.out_path = "/dev/full"},
                          ARGS("run", "isprime", "--preset", "course", "--json"));
    expect_exit(&r2, 1);
    EXPECT_ERR_HAS(r2, "error writing output");
    result_free(&r);
    result_free(&r2);
}

/* --- jobs and backends ----------------------------------------------------- */

Test(cli, jobs)
{
    result r = PTOOL("jobs");
    expect_exit(&r, 0);
    cr_assert(strncmp(r.out, "isprime ", 8) == 0 || strstr(r.out, "\nisprime "),
              "jobs does not list isprime:\n%s", r.out);
    EXPECT_OUT_HAS(r, "--method");
    EXPECT_OUT_HAS(r, "--input");
    EXPECT_OUT_HAS(r, "--preset");
    result r2 = PTOOL("jobs", "isprime");
    expect_exit(&r2, 0);
    cr_assert(strncmp(r2.out, "isprime ", 8) == 0, "jobs isprime:\n%s", r2.out);
    EXPECT_OUT_HAS(r2, "--method mr|trial");
    result_free(&r);
    result_free(&r2);
}

Test(cli, jobs_json)
{
    result r = PTOOL("jobs", "--json");
    expect_exit(&r, 0);
    expect_json_object(&r);
    EXPECT_OUT_HAS(r, "\"name\":\"isprime\"");
    EXPECT_OUT_HAS(r, "\"name\":\"method\"");
    EXPECT_OUT_HAS(r, "\"choices\":[\"mr\",\"trial\"]");
    result r2 = PTOOL("jobs", "isprime", "--json");
    expect_exit(&r2, 0);
    expect_json_object(&r2);
    EXPECT_OUT_HAS(r2, "\"name\":\"isprime\"");
    result_free(&r);
    result_free(&r2);
}

Test(cli, jobs_unknown)
{
    result r = PTOOL("jobs", "nosuchjob");
    EXPECT_USAGE_ERROR(r, "unknown job", "'nosuchjob'");
    result r2 = PTOOL("jobs", "--bogus");
    EXPECT_USAGE_ERROR(r2, "unknown option", "'--bogus'");
    result_free(&r);
    result_free(&r2);
}

Test(cli, backends)
{
    result r = PTOOL("backends");
    expect_exit(&r, 0);
    for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "\n%-10s ", backend_names[i]);
        EXPECT_OUT_HAS(r, line);
    }
    EXPECT_OUT_HAS(r, "\nserial     available");
    EXPECT_OUT_HAS(r, "OpenCL devices:");
    result_free(&r);
}

Test(cli, backends_json)
{
    result r = PTOOL("backends", "--json");
    expect_exit(&r, 0);
    expect_json_object(&r);
    for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "{\"name\":\"%s\",\"available\":", backend_names[i]);
        EXPECT_OUT_HAS(r, key);
    }
    EXPECT_OUT_HAS(r, "{\"name\":\"serial\",\"available\":true,\"why\":null}");
    EXPECT_OUT_HAS(r, "\"devices\":[");
    result r2 = PTOOL("backends", "--bogus");
    EXPECT_USAGE_ERROR(r2, "unknown option", "'--bogus'");
    result_free(&r);
    result_free(&r2);
}

/* --- bench ----------------------------------------------------------------- */

/* Splits a line into whitespace-separated tokens (in place). */
static size_t tokens(char *line, char **tok, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < max;
         t = strtok_r(NULL, " \t", &save))
        tok[n++] = t;
    return n;
}

Test(cli, bench)
{
    result r = PTOOL("bench", "isprime", "--preset", "course", "--repeat", "1", "--warmup", "0");
    expect_exit(&r, 0);
    EXPECT_OUT_HAS(r, "verified");
    for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
        const char *name = backend_names[i];
        char why[1024];
        bool avail = backend_available(name, why, sizeof(why));
        char start[64];
        snprintf(start, sizeof(start), "\n%s ", name);
        const char *row = strstr(r.out, start);
        cr_assert_not_null(row, "bench has no row for %s:\n%s", name, r.out);
        char line[1024];
        first_line(row + 1, line, sizeof(line));
        char *tok[16];
        size_t n = tokens(line, tok, 16);
        /* name, median (value unit), speedup, throughput (value unit), verified */
        if (avail) {
            cr_assert(n >= 7 && strcmp(tok[6], "yes") == 0,
                      "bench: %s is available but its row is not verified 'yes':\n%s", name, r.out);
        } else {
            cr_assert(n >= 5 && strcmp(tok[1], "-") == 0 && strcmp(tok[4], "-") == 0,
                      "bench: %s is unavailable (%s) but its row is not '-':\n%s", name, why,
                      r.out);
        }
    }
    result_free(&r);
}

Test(cli, bench_json)
{
    result r =
        PTOOL("bench", "isprime", "--preset", "course", "--repeat", "1", "--warmup", "0", "--json");
    expect_exit(&r, 0);
    expect_json_object(&r);
    EXPECT_OUT_HAS(r, "\"rows\":");
    EXPECT_OUT_HAS(r, "\"command\":\"bench\"");
    size_t navail = 0;
    for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
        char why[1024], key[64];
        bool avail = backend_available(backend_names[i], why, sizeof(why));
        navail += avail;
        snprintf(key, sizeof(key), "{\"backend\":\"%s\",\"available\":%s", backend_names[i],
                 avail ? "true" : "false");
        EXPECT_OUT_HAS(r, key);
    }
    cr_assert_eq(count_str(r.out, "\"verified\":true"), navail, "expected %zu verified rows:\n%s",
                 navail, r.out);
    result_free(&r);
}

Test(cli, bench_subset)
{
    result r = PTOOL("bench", "isprime", "1000003", "--backends", "threads", "--repeat", "1",
                     "--warmup", "0");
    expect_exit(&r, 0);
    /* serial always runs: it is the reference. */
    EXPECT_OUT_HAS(r, "\nserial ");
    EXPECT_OUT_HAS(r, "\nthreads ");
    cr_assert_null(strstr(r.out, "\nopenmp "), "bench ran an unlisted backend:\n%s", r.out);
    result_free(&r);
}

Test(cli, bench_bad_backends)
{
    result r = PTOOL("bench", "isprime", "--backends", "serial,bogus");
    EXPECT_USAGE_ERROR(r, "--backends", "'bogus'");
    result r2 = PTOOL("bench", "isprime", "--preset", "course", "--repeat", "0");
    EXPECT_USAGE_ERROR(r2, "--repeat", "'0'");
    result_free(&r);
    result_free(&r2);
}

/* --- --strict and OpenCL fallbacks ------------------------------------------ */

#define NO_OPENCL_ENV ENV("OCL_ICD_VENDORS=/nonexistent")

Test(cli, strict_no_platform)
{
    result r = PTOOL_ENV(NO_OPENCL_ENV, "run", "isprime", "7", "--backend", "opencl", "--strict");
    expect_exit(&r, 3);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    EXPECT_ERR_HAS(r, "no OpenCL platform");
    EXPECT_ERR_HAS(r, "pocl-opencl-icd");
    result r2 = PTOOL_ENV(ENV("OCL_ICD_VENDORS=/nonexistent", "PTOOL_BACKEND=opencl"), "run",
                          "isprime", "7", "--strict");
    expect_exit(&r2, 3);
    EXPECT_ERR_HAS(r2, "no OpenCL platform");
    result_free(&r);
    result_free(&r2);
}

Test(cli, fallback_no_platform)
{
    result r = PTOOL_ENV(NO_OPENCL_ENV, "run", "isprime", "7", "--backend", "opencl");
    expect_exit(&r, 0);
    expect_out(&r, "7 prime\n");
    /* One line says opencl is unavailable and what ran instead. */
    cr_assert(line_has_both(r.err, "opencl unavailable", "serial"),
              "no line says opencl is unavailable and what was used:\n%s", r.err);
    EXPECT_ERR_HAS(r, "no OpenCL platform");
    /* The fallback is said even with --quiet. */
    result r2 = PTOOL_ENV(NO_OPENCL_ENV, "run", "isprime", "7", "--backend", "opencl", "--quiet");
    expect_exit(&r2, 0);
    expect_out(&r2, "1 prime, 0 composite\n");
    EXPECT_ERR_HAS(r2, "opencl unavailable");
    result_free(&r);
    result_free(&r2);
}

Test(cli, backends_no_platform)
{
    char why[1024];
    cr_assert_not(backend_available_env(NO_OPENCL_ENV, "opencl", why, sizeof(why)),
                  "opencl is available with OCL_ICD_VENDORS=/nonexistent");
    cr_assert_not_null(strstr(why, "no OpenCL platform"), "why: %s", why);
    cr_assert(backend_available_env(NO_OPENCL_ENV, "serial", why, sizeof(why)));
    result r = PTOOL_ENV(NO_OPENCL_ENV, "bench", "isprime", "--preset", "course", "--repeat", "1",
                         "--warmup", "0", "--strict");
    expect_exit(&r, 3);
    EXPECT_OUT_HAS(r, "\nserial ");
    result_free(&r);
}

Test(cli, strict_no_such_device)
{
    require_backend("opencl");
    result r =
        PTOOL("run", "isprime", "7", "--backend", "opencl", "--device", "nosuchdevice", "--strict");
    expect_exit(&r, 3);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    EXPECT_ERR_HAS(r, "'nosuchdevice'");
    result r2 = PTOOL_ENV(ENV("PTOOL_DEVICE=nosuchdevice"), "run", "isprime", "7", "--backend",
                          "opencl", "--strict");
    expect_exit(&r2, 3);
    EXPECT_ERR_HAS(r2, "'nosuchdevice'");
    result r3 = PTOOL("run", "isprime", "7", "--backend", "opencl", "--device", "nosuchdevice");
    expect_exit(&r3, 0);
    expect_out(&r3, "7 prime\n");
    EXPECT_ERR_HAS(r3, "'nosuchdevice'");
    result_free(&r);
    result_free(&r2);
    result_free(&r3);
}

/* --- kernels and the kernel cache ---------------------------------------- */

/* A kernel source that no OpenCL compiler accepts; the identifier shows up
 * in any compiler's log. */
#define BAD_KERNEL                                                                                 \
    "__kernel void isprime_mr(__global ulong *x)\n"                                                \
    "{\n"                                                                                          \
    "    x[0] = ptool_test_undeclared_symbol;\n"                                                   \
    "}\n"

Test(cli, kernel_build_failure)
{
    require_backend("opencl");
    const char *kdir = make_tmpdir(), *cdir = make_tmpdir();
    char path[1024], env[1100];
    write_file(kdir, "isprime.cl", BAD_KERNEL, path, sizeof(path));
    snprintf(env, sizeof(env), "PTOOL_KERNEL_DIR=%s", kdir);
    result r = PTOOL_ENV(ENV(env), "run", "isprime", "7", "--backend", "opencl", "--strict",
                         "--cache-dir", cdir);
    expect_exit(&r, 1);
    cr_assert_eq(r.outlen, 0, "stdout: %s", r.out);
    EXPECT_ERR_HAS(r, "build");
    EXPECT_ERR_HAS(r, "ptool_test_undeclared_symbol");
    /* A failed build leaves nothing in the cache. */
    result l = PTOOL("cache", "list", "--cache-dir", cdir);
    expect_exit(&l, 0);
    EXPECT_OUT_HAS(l, ": 0 entries\n");
    result_free(&r);
    result_free(&l);
}

Test(cli, kernel_dir_missing_file)
{
    require_backend("opencl");
    const char *kdir = make_tmpdir();
    char env[600];
    snprintf(env, sizeof(env), "PTOOL_KERNEL_DIR=%s", kdir);
    result r = PTOOL_ENV(ENV(env), "run", "isprime", "7", "--backend", "opencl", "--strict",
                         "--cache-dir", "");
    EXPECT_INPUT_ERROR(r, "PTOOL_KERNEL_DIR", kdir, "isprime.cl");
    result_free(&r);
}

Test(cli, cache)
{
    require_backend("opencl");
    const char *d = make_tmpdir();
    result r = PTOOL("run", "isprime", "7", "--backend", "opencl", "--cache-dir", d);
    expect_exit(&r, 0);
    expect_out(&r, "7 prime\n");

    char want[700];
    result l = PTOOL("cache", "list", "--cache-dir", d);
    expect_exit(&l, 0);
    snprintf(want, sizeof(want), "%s: 1 entry\n  isprime ", d);
    cr_assert(strncmp(l.out, want, strlen(want)) == 0, "cache list, expected '%s...':\n%s", want,
              l.out);
    cr_assert_eq(count_lines(l.out), 2, "cache list:\n%s", l.out);

    result j = PTOOL("cache", "--json", "--cache-dir", d);
    expect_exit(&j, 0);
    expect_json_object(&j);
    snprintf(want, sizeof(want), "\"dir\":\"%s\"", d);
    EXPECT_OUT_HAS(j, want);
    EXPECT_OUT_HAS(j, "\"kernel\":\"isprime\"");
    cr_assert_eq(count_str(j.out, "\"kernel\":"), 1, "cache --json:\n%s", j.out);

    /* The second run loads the binary. */
    result h = PTOOL("run", "isprime", "7", "--backend", "opencl", "--cache-dir", d, "--json");
    expect_exit(&h, 0);
    EXPECT_OUT_HAS(h, "\"kernel_cache\":\"hit\"");

    result p = PTOOL("cache", "path", "--cache-dir", d);
    expect_exit(&p, 0);
    snprintf(want, sizeof(want), "%s\n", d);
    expect_out(&p, want);

    result c = PTOOL("cache", "clear", "--cache-dir", d);
    expect_exit(&c, 0);
    EXPECT_OUT_HAS(c, "removed 1 entry");
    result l2 = PTOOL("cache", "list", "--cache-dir", d);
    expect_exit(&l2, 0);
    snprintf(want, sizeof(want), "%s: 0 entries\n", d);
    expect_out(&l2, want);
    result j2 = PTOOL("cache", "--json", "--cache-dir", d);
    expect_exit(&j2, 0);
    expect_json_object(&j2);
    EXPECT_OUT_HAS(j2, "\"entries\":[]");
    result c2 = PTOOL("cache", "clear", "--cache-dir", d, "--json");
    expect_exit(&c2, 0);
    expect_json_object(&c2);
    EXPECT_OUT_HAS(c2, "\"removed\":0");

    result *all[] = {&r, &l, &j, &h, &p, &c, &l2, &j2, &c2};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        result_free(all[i]);
}

Test(cli, cache_usage_errors)
{
    result r = PTOOL("cache", "bogus");
    EXPECT_USAGE_ERROR(r, "unknown action", "'bogus'");
    result r2 = PTOOL("cache", "list", "--cache-dir", "");
    expect_exit(&r2, 2);
    cr_assert_eq(r2.outlen, 0, "stdout: %s", r2.out);
    EXPECT_ERR_HAS(r2, "disabled");
    result r3 = PTOOL("cache", "--bogus");
    EXPECT_USAGE_ERROR(r3, "unknown option", "'--bogus'");
    result_free(&r);
    result_free(&r2);
    result_free(&r3);
}

/* --- known bugs (see the top comment) ---------------------------------------- */

/* `run isprime --input DIR`: exit 1 and "read error: unknown error"
 * (pt_strerror has no EISDIR). A directory is bad input. */
Test(cli, input_is_directory)
{
    const char *d = make_tmpdir();
    result r = PTOOL("run", "isprime", "--input", d);
    EXPECT_INPUT_ERROR(r, d, "directory");
    expect_err_lacks(&r, "unknown error");
    result_free(&r);
}

/* `run isprime --input FILE/x`: exit 1, "unknown error" (ENOTDIR is not in
 * PT_ERRNO_MAP). */
Test(cli, input_not_a_directory)
{
    char path[1024], bad[1100];
    write_file(make_tmpdir(), "n.txt", "7\n", path, sizeof(path));
    snprintf(bad, sizeof(bad), "%s/x", path);
    result r = PTOOL("run", "isprime", "--input", bad);
    EXPECT_INPUT_ERROR(r, bad, "not a directory");
    expect_err_lacks(&r, "unknown error");
    result_free(&r);
}

/* PTOOL_THREADS=abc is silently ignored, while PTOOL_BACKEND=bogus is a
 * usage error. */
Test(cli, env_threads_bogus)
{
    result r = PTOOL_ENV(ENV("PTOOL_THREADS=abc"), "run", "isprime", "7");
    EXPECT_USAGE_ERROR(r, "PTOOL_THREADS", "'abc'");
    result_free(&r);
}

/* A kernel from PTOOL_KERNEL_DIR that fails to build is reported as
 * "kernels/isprime.cl", not the file that was compiled. */
Test(cli, kernel_build_failure_names_file)
{
    require_backend("opencl");
    const char *kdir = make_tmpdir(), *cdir = make_tmpdir();
    char path[1024], env[1100];
    write_file(kdir, "isprime.cl", BAD_KERNEL, path, sizeof(path));
    snprintf(env, sizeof(env), "PTOOL_KERNEL_DIR=%s", kdir);
    result r = PTOOL_ENV(ENV(env), "run", "isprime", "7", "--backend", "opencl", "--strict",
                         "--cache-dir", cdir);
    expect_exit(&r, 1);
    EXPECT_ERR_HAS(r, path);
    result_free(&r);
}

/* `bench --strict` with a backend unavailable exits 3 with nothing on
 * stderr: the status is unexplained unless one reads the table. */
Test(cli, bench_strict_silent)
{
    result r = PTOOL_ENV(NO_OPENCL_ENV, "bench", "isprime", "--preset", "course", "--repeat", "1",
                         "--warmup", "0", "--strict");
    expect_exit(&r, 3);
    cr_assert(line_has_both(r.err, "opencl", "unavailable"),
              "bench --strict: stderr does not say which backend is unavailable:\n%s", r.err);
    result_free(&r);
}
