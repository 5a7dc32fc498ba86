/* test_io_hash_cli.c - `ptool hash` end to end, against GNU coreutils.
 *
 * Every test runs the built ptool ($PTOOL_BIN) and, on the same input, the
 * coreutils tool it imitates (sha256sum, sha512sum, md5sum, ..., b2sum),
 * and compares exit statuses and stdout byte for byte; stderr is compared
 * line by line once the program name is stripped. Commands run in a fresh
 * directory (the tests chdir into it), with stdout and stderr in files, and
 * are killed after CMD_DEADLINE_S: a FIFO that blocked ptool would show up
 * as a timeout, not as a hung suite.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CMD_DEADLINE_S 60

static char root[64]; /* holds work/ (the files) and io/ (captured output) */
static char io_dir[128];

static void mk(void)
{
    snprintf(root, sizeof(root), "/tmp/ptool-hashcli-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    char work[128];
    snprintf(work, sizeof(work), "%s/work", root);
    snprintf(io_dir, sizeof(io_dir), "%s/io", root);
    cr_assert_eq(mkdir(work, 0755), 0);
    cr_assert_eq(mkdir(io_dir, 0755), 0);
    cr_assert_eq(chdir(work), 0);
}

static void rm(void)
{
    char cmd[128];
    cr_assert_eq(chdir("/"), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(hash_cli, .init = mk, .fini = rm, .timeout = 300);

/* --- running commands -------------------------------------------------------- */

typedef struct out {
    int status; /* exit status, 128 + signal */
    char *out, *err;
    size_t outlen, errlen;
    char cmd[512];
} out;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            b = realloc(b, cap);
        }
    }
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

static const char *ptool_bin(void)
{
    const char *bin = getenv("PTOOL_BIN");
    cr_assert(bin && *bin,
              "PTOOL_BIN is not set: run as PTOOL_BIN=/path/to/ptool test_io_hash_cli");
    return bin;
}

/* Runs argv (argv[0] "ptool" means $PTOOL_BIN; others go through PATH)
 * with stdin from in_path (NULL: /dev/null). */
static out run_argv(const char *in_path, const char *const *argv)
{
    out r = {0};
    size_t n = 0, off = 0;
    while (argv[n]) {
        if (off < sizeof(r.cmd))
            off +=
                (size_t)snprintf(r.cmd + off, sizeof(r.cmd) - off, "%s%s", n ? " " : "", argv[n]);
        n++;
    }
    char **av = calloc(n + 1, sizeof(*av));
    for (size_t i = 0; i < n; i++)
        av[i] = strdup(argv[i]);
    const char *exe = strcmp(argv[0], "ptool") ? argv[0] : ptool_bin();
    char opath[256], epath[256];
    snprintf(opath, sizeof(opath), "%s/stdout", io_dir);
    snprintf(epath, sizeof(epath), "%s/stderr", io_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, exe, &fa, NULL, av, environ);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < n; i++)
        free(av[i]);
    free(av);
    cr_assert_eq(rc, 0, "spawn %s: %s", exe, strerror(rc));
    struct timespec start, now, nap = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    int ws;
    for (;;) {
        pid_t w = waitpid(pid, &ws, WNOHANG);
        if (w == pid)
            break;
        cr_assert(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > CMD_DEADLINE_S) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            cr_assert_fail("%s: still running after %d s (blocked?), killed", r.cmd,
                           CMD_DEADLINE_S);
        }
        nanosleep(&nap, NULL);
    }
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = slurp(opath, &r.outlen);
    r.err = slurp(epath, &r.errlen);
    return r;
}

#define ARGS(...)       ((const char *const[]){__VA_ARGS__, NULL})
#define RUN(...)        run_argv(NULL, ARGS(__VA_ARGS__))
#define RUN_IN(in, ...) run_argv(in, ARGS(__VA_ARGS__))

static void out_free(out *r)
{
    free(r->out);
    free(r->err);
}

/* stderr without the program names ("sha256sum: ", "ptool hash: "). */
static char *strip_names(const char *err)
{
    char *s = malloc(strlen(err) + 1), *d = s;
    const char *p = err;
    while (*p) {
        const char *names[] = {
            "ptool hash: ", "sha256sum: ", "sha512sum: ", "md5sum: ", "b2sum: ", NULL};
        for (int i = 0; names[i]; i++)
            if (!strncmp(p, names[i], strlen(names[i]))) {
                p += strlen(names[i]);
                break;
            }
        while (*p && *p != '\n')
            *d++ = *p++;
        if (*p)
            *d++ = *p++;
    }
    *d = '\0';
    return s;
}

static void expect_same_stdout(const out *a, const out *b)
{
    cr_assert_eq(a->outlen, b->outlen, "stdout lengths differ:\n[%s] gave:\n%s\n[%s] gave:\n%s",
                 a->cmd, a->out, b->cmd, b->out);
    cr_assert(memcmp(a->out, b->out, a->outlen) == 0,
              "stdout differs:\n[%s] gave:\n%s\n[%s] gave:\n%s", a->cmd, a->out, b->cmd, b->out);
}

/* Same exit status, same stdout bytes, same stderr lines (names stripped). */
static void expect_same(const out *a, const out *b)
{
    cr_assert_eq(a->status, b->status, "[%s] exit %d, [%s] exit %d\nstderr:\n%s\n---\n%s", a->cmd,
                 a->status, b->cmd, b->status, a->err, b->err);
    expect_same_stdout(a, b);
    char *ea = strip_names(a->err), *eb = strip_names(b->err);
    cr_assert_str_eq(ea, eb, "stderr differs:\n[%s]\n%s\n[%s]\n%s", a->cmd, a->err, b->cmd, b->err);
    free(ea);
    free(eb);
}

static void write_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    uint32_t x = seed * 2654435761u + 7;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        fputc((int)(x >> 24), f);
    }
    cr_assert_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* --- digests and names --------------------------------------------------------- */

#define MiB (1024 * 1024)

Test(hash_cli, digests_equal_coreutils_for_every_size)
{
    /* Around 1 MiB (--block-size 1M below) and 2 MiB (the default block). */
    const size_t sizes[] = {0,           1,       MiB - 1,     MiB,          MiB + 1,
                            2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 5 * MiB + 123};
    const char *names[] = {"s0", "s1", "s1m-1", "s1m", "s1m+1", "s2m-1", "s2m", "s2m+1", "s5m"};
    for (int i = 0; i < 9; i++)
        write_file(names[i], sizes[i], (unsigned)i);
    struct {
        const char *algo, *tool;
    } algos[] = {{"sha256", "sha256sum"}, {"sha512", "sha512sum"}, {"md5", "md5sum"},
                 {"sha1", "sha1sum"},     {"sha224", "sha224sum"}, {"sha384", "sha384sum"},
                 {"blake2b512", "b2sum"}};
    for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++) {
#define SIZES "s0", "s1", "s1m-1", "s1m", "s1m+1", "s2m-1", "s2m", "s2m+1", "s5m"
        out want = RUN(algos[a].tool, SIZES);
        cr_assert_eq(want.status, 0, "%s: %s", want.cmd, want.err);
        out got = RUN("ptool", "hash", "--algo", algos[a].algo, SIZES);
        expect_same(&got, &want);
        cr_assert_eq(got.errlen, 0);
        out_free(&got);
        /* Small blocks, one thread, one file at a time: the same bytes. */
        got = RUN("ptool", "hash", "--algo", algos[a].algo, "--block-size", "4096", "--threads",
                  "1", "--max-open", "1", SIZES);
        expect_same(&got, &want);
        out_free(&got);
        got = RUN("ptool", "hash", "--algo", algos[a].algo, "--block-size", "1M", SIZES);
        expect_same(&got, &want);
        out_free(&got);
        /* --tag (BSD style) and -b. */
        out_free(&want);
        want = RUN(algos[a].tool, "--tag", "s1", "s1m");
        got = RUN("ptool", "hash", "-a", algos[a].algo, "--tag", "s1", "s1m");
        expect_same(&got, &want);
        out_free(&got);
        out_free(&want);
    }
    /* -b, and --algo=NAME. */
    out want = RUN("sha512sum", "-b", "s1", "s0");
    out got = RUN("ptool", "hash", "--algo=sha512", "-b", "s1", "s0");
    expect_same(&got, &want);
    out_free(&got);
    out_free(&want);
}

/* Names that need care: blanks, escapes, UTF-8, leading '-' and '\'. */
static const char *const tricky[] = {"sp ace",    "back\\slash", "new\nline",   "cr\rx",
                                     "\\start",   "-lead",       "\xc3\xbctf8", "tab\tx",
                                     "all\\\n\r", "trail ",      "*star",       " lead"};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

static void make_tricky(void)
{
    for (size_t i = 0; i < NTRICKY; i++)
        write_file(tricky[i], 100 + i, (unsigned)i);
}

Test(hash_cli, tricky_names_byte_for_byte)
{
    make_tricky();
    const char *flags[][2] = {{"--text", NULL}, {"--tag", NULL}, {"-b", NULL}, {"-z", NULL}};
    for (size_t f = 0; f < 4; f++) {
        const char *a[NTRICKY + 8], *b[NTRICKY + 8];
        size_t na = 0, nb = 0;
        a[na++] = "sha256sum";
        a[na++] = flags[f][0];
        a[na++] = "--";
        b[nb++] = "ptool";
        b[nb++] = "hash";
        b[nb++] = flags[f][0];
        b[nb++] = "--";
        for (size_t i = 0; i < NTRICKY; i++)
            a[na++] = b[nb++] = tricky[i];
        a[na] = b[nb] = NULL;
        out want = run_argv(NULL, a), got = run_argv(NULL, b);
        cr_assert_eq(want.status, 0);
        expect_same(&got, &want);
        out_free(&want);
        out_free(&got);
    }
}

Test(hash_cli, standard_input)
{
    write_file("in", 3 * MiB + 5, 9);
    out want = RUN_IN("in", "sha256sum");
    out got = RUN_IN("in", "ptool", "hash");
    expect_same(&got, &want);
    out_free(&want);
    out_free(&got);
    write_file("x", 10, 1);
    /* "-" twice: the second reads what the first left (nothing). */
    want = RUN_IN("in", "sha256sum", "-", "x", "-");
    got = RUN_IN("in", "ptool", "hash", "-", "x", "-");
    expect_same(&got, &want);
    out_free(&want);
    out_free(&got);
}

/* --- directories ------------------------------------------------------------------ */

Test(hash_cli, directories_recursively_in_a_fixed_order)
{
    /* d/: files and subdirectories created in scrambled order. */
    const char *dirs[] = {"d", "d/zz", "d/b", "d/b/deep", "d/a.d", "d/empty"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        cr_assert_eq(mkdir(dirs[i], 0755), 0);
    const char *files[] = {"d/zz/1",  "d/b.txt",  "d/b/deep/x", "d/b/y",  "d/a",        "d/A",
                           "d/a.d/q", "d/sp ace", "d/b/-z",     "d/zz/0", "d/new\nline"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        write_file(files[i], 1000 * i + 1, (unsigned)i);
    cr_assert_eq(symlink("b.txt", "d/link"), 0); /* hashed */
    cr_assert_eq(symlink("b", "d/dirlink"), 0);  /* not followed */
    cr_assert_eq(symlink("..", "d/b/up"), 0);    /* not followed */
    /* Byte order of names, depth first ("b" < "b.txt": "d/b/..." first). */
    out want = RUN("sha256sum", "d/A", "d/a", "d/a.d/q", "d/b/-z", "d/b/deep/x", "d/b/y", "d/b.txt",
                   "d/link", "d/new\nline", "d/sp ace", "d/zz/0", "d/zz/1");
    cr_assert_eq(want.status, 0);
    out got = RUN("ptool", "hash", "d");
    expect_same(&got, &want);
    out_free(&got);
    got = RUN("ptool", "hash", "--threads", "1", "--max-open", "1", "d");
    expect_same(&got, &want);
    out_free(&got);
    got = RUN("ptool", "hash", "--threads", "3", "--max-open", "64", "--block-size", "4k", "d");
    expect_same(&got, &want);
    out_free(&got);
    out_free(&want);
    /* A trailing slash is kept once; arguments keep their order. */
    want = RUN("sha256sum", "d/zz/0", "d/zz/1", "d/a");
    got = RUN("ptool", "hash", "d/zz/", "d/a");
    expect_same(&got, &want);
    out_free(&got);
    out_free(&want);
}

/* --- check mode ------------------------------------------------------------------- */

Test(hash_cli, each_accepts_the_others_sums)
{
    make_tricky();
    write_file("big", 4 * MiB + 3, 4);
    const char *a[NTRICKY + 8], *b[NTRICKY + 8];
    size_t na = 0, nb = 0;
    b[nb++] = "ptool";
    b[nb++] = "hash";
    b[nb++] = "--";
    a[na++] = "sha256sum";
    a[na++] = "--";
    for (size_t i = 0; i < NTRICKY; i++)
        a[na++] = b[nb++] = tricky[i];
    a[na++] = b[nb++] = "big";
    a[na] = b[nb] = NULL;
    out p = run_argv(NULL, b), s = run_argv(NULL, a);
    expect_same(&p, &s);
    char path[256];
    snprintf(path, sizeof(path), "%s/ptool.sums", io_dir);
    FILE *f = fopen(path, "wb");
    fwrite(p.out, 1, p.outlen, f);
    fclose(f);
    out c1 = RUN("sha256sum", "-c", path);
    cr_assert_eq(c1.status, 0, "sha256sum -c rejects ptool's sums:\n%s\n%s", c1.out, c1.err);
    /* One line per file: names with a newline are escaped. */
    cr_assert_eq(count_lines(c1.out), NTRICKY + 1, "%s", c1.out);
    out c2 = RUN("ptool", "hash", "-c", path);
    expect_same(&c2, &c1);
    /* The same from standard input. */
    out c3 = RUN_IN(path, "ptool", "hash", "--check");
    out c4 = RUN_IN(path, "sha256sum", "--check");
    expect_same(&c3, &c4);
    out_free(&p);
    out_free(&s);
    out_free(&c1);
    out_free(&c2);
    out_free(&c3);
    out_free(&c4);
}

/* md5sum's and b2sum's sums, GNU and --tag lines, checked with --algo. */
Test(hash_cli, check_other_digests_and_tagged_lines)
{
    make_tricky();
    write_file("big", 3 * MiB, 8);
    const char *tools[][2] = {{"md5sum", "md5"}, {"b2sum", "blake2b512"}, {"sha512sum", "sha512"}};
    for (size_t t = 0; t < 3; t++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s.sums", io_dir, tools[t][0]);
        FILE *f = fopen(path, "wb");
        for (int tag = 0; tag < 2; tag++) {
            const char *a[NTRICKY + 8];
            size_t na = 0;
            a[na++] = tools[t][0];
            a[na++] = tag ? "--tag" : "--text";
            a[na++] = "--";
            for (size_t i = 0; i < NTRICKY; i++)
                a[na++] = tricky[i];
            a[na++] = "big";
            a[na] = NULL;
            out sums = run_argv(NULL, a);
            cr_assert_eq(sums.status, 0);
            fwrite(sums.out, 1, sums.outlen, f);
            out_free(&sums);
        }
        fclose(f);
        out want = RUN(tools[t][0], "-c", path);
        cr_assert_eq(want.status, 0, "%s", want.err);
        out got = RUN("ptool", "hash", "-c", "--algo", tools[t][1], path);
        expect_same(&got, &want);
        out_free(&got);
        /* With the default sha256 no line fits: exit 1, as sha256sum -c. */
        out_free(&want);
        want = RUN("sha256sum", "-c", path);
        got = RUN("ptool", "hash", "-c", path);
        expect_same(&got, &want);
        out_free(&want);
        out_free(&got);
    }
}

/* A sums file with every kind of line; checked with each option set. */
Test(hash_cli, check_statuses_and_messages_equal_sha256sum)
{
    write_file("ok1", 1000, 1);
    write_file("ok2", 2 * MiB, 2);
    write_file("changed", 500, 3);
    write_file("sp ace", 10, 4);
    out sums = RUN("sha256sum", "ok1", "ok2", "changed", "sp ace");
    write_text("good.sums", sums.out);
    out_free(&sums);
    write_file("changed", 501, 5);
    const char *Z = "0000000000000000000000000000000000000000000000000000000000000000";
    char text[8192];
    FILE *f = fopen("good.sums", "r");
    char line[256];
    size_t off = 0;
    while (fgets(line, sizeof(line), f))
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%s", line);
    fclose(f);
    snprintf(text + off, sizeof(text) - off,
             "garbage line\n"
             "%s  missing file\n"
             "# a comment\n"
             "\n"
             "%.60s  short digest\n"
             "SHA256 (ok1) = %s\n",
             Z, Z, Z);
    write_text("mixed.sums", text);
    /* Only a mismatch; only a missing file; only bad lines; empty. */
    write_text("mismatch.sums",
               "0000000000000000000000000000000000000000000000000000000000000000  ok1\n");
    write_text("missing.sums",
               "0000000000000000000000000000000000000000000000000000000000000000  nope\n");
    write_text("bad.sums", "not a sums line\nnor this\n");
    write_text("empty.sums", "");
    /* Uppercase hex and CRLF are fine. */
    out up = RUN("sha256sum", "ok1");
    for (char *p = up.out; *p && *p != ' '; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    up.out[strlen(up.out) - 1] = '\0';
    snprintf(text, sizeof(text), "%s\r\n", up.out);
    write_text("upper.sums", text);
    out_free(&up);

    const char *files[] = {"good.sums", "mixed.sums", "mismatch.sums", "missing.sums",
                           "bad.sums",  "empty.sums", "upper.sums",    "no-such.sums"};
    const char *opts[][3] = {{NULL},
                             {"--quiet", NULL},
                             {"--status", NULL},
                             {"--strict", NULL},
                             {"-w", NULL},
                             {"--ignore-missing", NULL},
                             {"--ignore-missing", "--quiet", NULL},
                             {"--strict", "--warn", NULL}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
            const char *a[10], *b[10];
            size_t na = 0, nb = 0;
            a[na++] = "sha256sum";
            a[na++] = "-c";
            b[nb++] = "ptool";
            b[nb++] = "hash";
            b[nb++] = "-c";
            for (size_t k = 0; k < 2 && opts[o][k]; k++)
                a[na++] = b[nb++] = opts[o][k];
            a[na++] = b[nb++] = files[i];
            a[na] = b[nb] = NULL;
            out want = run_argv(NULL, a), got = run_argv(NULL, b);
            expect_same(&got, &want);
            out_free(&want);
            out_free(&got);
        }
    }
    /* Several sums files in one run. */
    out want = RUN("sha256sum", "-c", "good.sums", "missing.sums", "good.sums");
    out got = RUN("ptool", "hash", "-c", "good.sums", "missing.sums", "good.sums");
    expect_same(&got, &want);
    out_free(&want);
    out_free(&got);
}

/* --- files that must not be read ---------------------------------------------------- */

static int make_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    return fd;
}

/* Whether err has exactly one line "ptool hash: NAME: ..." and it says
 * `what`. */
static void expect_error_line(const char *err, const char *name, const char *what)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "ptool hash: %s: ", name);
    size_t hits = 0;
    const char *p = err;
    while (*p) {
        size_t n = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        if (!strncmp(line, prefix, strlen(prefix))) {
            hits++;
            cr_assert(strstr(line, what), "the error for %s says '%s': %s", name, what, line);
        }
        p += n + (p[n] == '\n');
    }
    cr_assert_eq(hits, 1, "one error line for %s in:\n%s", name, err);
}

Test(hash_cli, fifos_sockets_devices_dangling_links_fail_fast, .timeout = 120)
{
    cr_assert_eq(mkfifo("fifo", 0644), 0);
    int s = make_socket("sock");
    cr_assert_eq(symlink("nowhere", "dangling"), 0);
    cr_assert_eq(mkdir("dir", 0755), 0);
    write_file("good", 77, 1);
    out r = RUN("ptool", "hash", "fifo", "good", "sock", "/dev/null", "dangling", "missing", "dir");
    cr_assert_eq(r.status, 1, "exit 1 when a file failed (%s)", r.err);
    out g = RUN("sha256sum", "good");
    expect_same_stdout(&r, &g); /* only the good file on stdout */
    cr_assert_eq(count_lines(r.err), 5, "one line per failed file:\n%s", r.err);
    expect_error_line(r.err, "fifo", "FIFO");
    expect_error_line(r.err, "sock", "socket");
    expect_error_line(r.err, "/dev/null", "character device");
    expect_error_line(r.err, "dangling", "dangling symbolic link");
    expect_error_line(r.err, "missing", "No such file or directory");
    out_free(&r);

    /* The same kinds listed in a sums file (a directory too). */
    const char *Z = "0000000000000000000000000000000000000000000000000000000000000000";
    char text[2048];
    snprintf(text, sizeof(text), "%s  fifo\n%s  sock\n%s  /dev/null\n%s  dangling\n%s  dir\n", Z, Z,
             Z, Z, Z);
    char goodline[256];
    snprintf(goodline, sizeof(goodline), "%s", g.out);
    strncat(text, goodline, sizeof(text) - strlen(text) - 1);
    write_text("special.sums", text);
    r = RUN("ptool", "hash", "-c", "special.sums");
    cr_assert_eq(r.status, 1);
    cr_assert_str_eq(r.out, "fifo: FAILED open or read\n"
                            "sock: FAILED open or read\n"
                            "/dev/null: FAILED open or read\n"
                            "dangling: FAILED open or read\n"
                            "dir: FAILED open or read\n"
                            "good: OK\n");
    expect_error_line(r.err, "fifo", "FIFO");
    expect_error_line(r.err, "dir", "Is a directory");
    cr_assert(strstr(r.err, "WARNING: 5 listed files could not be read"), "%s", r.err);
    out_free(&r);
    /* sha256sum agrees on the directory and the dangling link. */
    snprintf(text, sizeof(text), "%s  dangling\n%s  dir\n%s", Z, Z, goodline);
    write_text("some.sums", text);
    out want = RUN("sha256sum", "-c", "some.sums");
    out got = RUN("ptool", "hash", "-c", "some.sums");
    cr_assert_eq(got.status, want.status);
    expect_same_stdout(&got, &want);
    out_free(&want);
    out_free(&got);
    out_free(&g);
    close(s);
}

/* --- bad usage ----------------------------------------------------------------------- */

static void expect_usage_error(out r, const char *mention)
{
    cr_assert_eq(r.status, 2, "[%s] exit %d, want 2 (%s)", r.cmd, r.status, r.err);
    cr_assert_eq(r.outlen, 0, "[%s] printed on stdout: %s", r.cmd, r.out);
    cr_assert(strncmp(r.err, "ptool hash: ", 12) == 0, "%s", r.err);
    cr_assert(strstr(r.err, mention), "[%s] the error names %s: %s", r.cmd, mention, r.err);
    out_free(&r);
}

Test(hash_cli, bad_usage_exits_2_with_nothing_on_stdout)
{
    write_file("f", 10, 1);
    expect_usage_error(RUN("ptool", "hash", "--algo", "sha999", "f"), "sha999");
    expect_usage_error(RUN("ptool", "hash", "--algo", "", "f"), "--algo");
    expect_usage_error(RUN("ptool", "hash", "--algo"), "--algo");
    expect_usage_error(RUN("ptool", "hash", "--threads", "0", "f"), "--threads");
    expect_usage_error(RUN("ptool", "hash", "--block-size", "12", "f"), "--block-size");
    expect_usage_error(RUN("ptool", "hash", "--max-open", "x", "f"), "--max-open");
    expect_usage_error(RUN("ptool", "hash", "--frobnicate", "f"), "--frobnicate");
    expect_usage_error(RUN("ptool", "hash", "--quiet", "f"), "--check");
    expect_usage_error(RUN("ptool", "hash", "-c", "--tag", "f"), "--tag");
    out r = RUN("ptool", "hash", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "Usage: ptool hash"));
    out_free(&r);
}
