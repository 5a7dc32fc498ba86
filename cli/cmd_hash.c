/* cmd_hash.c - `ptool hash [--algo NAME] [PATH...]` and `ptool hash --check
 * SUMS...`: sha256sum's output and check mode (GNU coreutils 9.1, byte for
 * byte on stdout), with the files read on a libuv loop and hashed on the
 * thread pool (<ptool/hash.h>). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <ptool/hash.h>

#include "cli.h"

typedef struct hash_opts {
    const char *algo;
    char tag[32];
    size_t digest_len;
    bool check, binary, text, tagged, zero;
    bool quiet, status_only, strict, warn, ignore_missing;
    unsigned threads;
    size_t block;
    unsigned max_open;
} hash_opts;

static void usage(void)
{
    puts("Usage: ptool hash [OPTIONS] [PATH...]\n"
         "       ptool hash --check [OPTIONS] [SUMS...]\n\n"
         "Prints the digest of each file like sha256sum: \"HEX  NAME\", with names that\n"
         "hold a backslash, newline or carriage return escaped as sha256sum escapes\n"
         "them, so `sha256sum -c` accepts the output. A directory is hashed\n"
         "recursively: its files in byte order of their names, depth first; symbolic\n"
         "links to files are hashed, symbolic links to directories inside it are not\n"
         "followed. FIFOs, sockets, devices and dangling symbolic links get an error\n"
         "and are never opened for reading. '-' (or no PATH) is standard input.\n"
         "Files are read asynchronously (libuv) and hashed on a thread pool\n"
         "(OpenSSL), several files at a time; the output keeps the order of the\n"
         "arguments.\n\n"
         "Options:\n"
         "  -a, --algo NAME       digest, by its OpenSSL name (default: sha256): sha256,\n"
         "                        sha512, sha224, sha384, sha1, md5, blake2b512,\n"
         "                        sha3-256, sm3... (`openssl list -digest-algorithms`)\n"
         "  -c, --check           read sums from the SUMS files ('-' or none: standard\n"
         "                        input) and check them, like sha256sum -c\n"
         "  -b, --binary          mark names with '*' (binary mode)\n"
         "  -t, --text            mark names with ' ' (the default)\n"
         "      --tag             print BSD-style lines: \"SHA256 (NAME) = HEX\"\n"
         "  -z, --zero            end each line with NUL, not newline; no escaping\n"
         "      --threads N       hashing threads (default: $PTOOL_THREADS, else the\n"
         "                        CPUs this process may use)\n"
         "      --block-size N    bytes per read and per hashing task, with an optional\n"
         "                        K or M suffix (default: 2M)\n"
         "      --max-open N      files read at once (default: 4 x threads)\n"
         "  -h, --help            this help\n\n"
         "With --check:\n"
         "      --ignore-missing  don't fail or report status for missing files\n"
         "      --quiet           don't print OK for each verified file\n"
         "      --status          print nothing; the exit status tells\n"
         "      --strict          exit 1 for improperly formatted lines\n"
         "  -w, --warn            warn about improperly formatted lines\n\n"
         "Exit status: 0 every file was hashed (with --check: every listed file\n"
         "matched); 1 a file could not be read, or (with --check) a digest did not\n"
         "match, a listed file could not be read, no line was properly formatted;\n"
         "2 bad usage (an unknown option or --algo), nothing was done.");
}

/* Like coreutils' quotef(): the name as is when it is plain, else quoted
 * for a shell, so an error message stays on one line. */
static void put_quoted(FILE *f, const char *s)
{
    bool plain = *s != '\0';
    bool ctrl = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            ctrl = true;
        if (!(*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr("%+,-./:=@_^", *p)))
            plain = false;
    }
    if (plain) {
        fputs(s, f);
        return;
    }
    if (!ctrl && !strchr(s, '\'')) {
        fprintf(f, "'%s'", s);
        return;
    }
    fputs("$'", f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\\' || *p == '\'')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\%03o", *p);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* Why a file failed, in sha256sum's words where it has some. */
static const char *failure_text(const pt_hash_result *r)
{
    switch (r->kind) {
    case PT_HASH_KIND_DANGLING:
        return "No such file or directory (dangling symbolic link)";
    case PT_HASH_KIND_FIFO:
        return "is a FIFO, not hashed";
    case PT_HASH_KIND_SOCKET:
        return "is a socket, not hashed";
    case PT_HASH_KIND_CHARDEV:
        return "is a character device, not hashed";
    case PT_HASH_KIND_BLOCKDEV:
        return "is a block device, not hashed";
    case PT_HASH_KIND_OTHER:
        return "is not a regular file, not hashed";
    default:
        break;
    }
    if (r->status < 0 && r->status > -3000)
        return strerror(-r->status);
    return pt_strerror(r->status);
}

static void report_failure(const pt_hash_result *r)
{
    fputs("ptool hash: ", stderr);
    put_quoted(stderr, r->path);
    fprintf(stderr, ": %s\n", failure_text(r));
}

/* --- running a list of paths on a loop and a pool ------------------------- */

typedef struct run_state {
    const hash_opts *o;
    /* hash mode */
    bool any_failed;
    /* check mode */
    uintmax_t n_mismatched, n_unreadable;
    bool matched;
    const uintmax_t *line_of;   /* line number of each listed file */
    const uintmax_t *bad_lines; /* improperly formatted lines, ascending */
    size_t nbad, bad_done;      /* how many, how many reported */
    const char *sums_shown;     /* the sums file's name in messages */
    int done_status;
} run_state;

static void on_done(void *arg, int status)
{
    ((run_state *)arg)->done_status = status;
}

/* Hashes paths with a fresh loop and pool; results go to on_result. Returns
 * 0, or an exit status after printing why. */
static int run_paths(const hash_opts *o, const char *const *paths, size_t n,
                     const char *const *expect, bool dash_is_stdin, pt_hash_result_fn on_result,
                     run_state *st)
{
    pt_pool *pool = NULL;
    pt_pool_options po = {.threads = o->threads};
    int rc = pt_pool_create(&pool, &po);
    if (rc) {
        cli_error("hash: cannot start the thread pool: %s", pt_strerror(rc));
        return EXIT_FAIL;
    }
    uv_loop_t loop;
    rc = uv_loop_init(&loop);
    if (rc) {
        cli_error("hash: cannot start the event loop: %s", uv_strerror(rc));
        pt_pool_destroy(pool);
        return EXIT_FAIL;
    }
    pt_hash_options ho = {.algo = o->algo,
                          .block_size = o->block,
                          .max_open = o->max_open,
                          .dash_is_stdin = dash_is_stdin,
                          .expect = expect,
                          .on_result = on_result,
                          .on_done = on_done,
                          .arg = st};
    pt_hash *h = NULL;
    char err[256];
    st->done_status = INT_MIN; /* on_done has not run */
    rc = pt_hash_start(&h, &loop, pool, paths, n, &ho, err, sizeof(err));
    int exit_rc = 0;
    if (rc) {
        cli_error("%s", err);
        exit_rc = cli_exit_for(rc);
    } else {
        uv_run(&loop, UV_RUN_DEFAULT);
        if (st->done_status) {
            cli_error("hash: stopped early: %s", st->done_status == INT_MIN
                                                     ? "the event loop ran out of work"
                                                     : pt_strerror(st->done_status));
            exit_rc = EXIT_FAIL;
        }
    }
    pt_hash_destroy(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    pt_pool_destroy(pool);
    return exit_rc;
}

/* --- hash mode -------------------------------------------------------------- */

static void on_hash_result(const pt_hash_result *r, void *arg)
{
    run_state *st = arg;
    const hash_opts *o = st->o;
    if (r->status) {
        st->any_failed = true;
        report_failure(r);
        return;
    }
    char line[8192];
    unsigned flags = (o->binary ? PT_HASH_FMT_BINARY : 0) | (o->tagged ? PT_HASH_FMT_TAG : 0) |
                     (o->zero ? PT_HASH_FMT_ZERO : 0);
    size_t need = pt_hash_format_line(line, sizeof(line), o->tag, r->hex, r->path, flags);
    if (need < sizeof(line)) {
        fwrite(line, 1, need, stdout);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) {
        st->any_failed = true;
        cli_error("hash: out of memory");
        return;
    }
    pt_hash_format_line(big, need + 1, o->tag, r->hex, r->path, flags);
    fwrite(big, 1, need, stdout);
    free(big);
}

static int do_hash(const hash_opts *o, char **paths, size_t n)
{
    static const char *const dash[] = {"-"};
    run_state st = {.o = o};
    int rc = run_paths(o, n ? (const char *const *)paths : dash, n ? n : 1, NULL, true,
                       on_hash_result, &st);
    if (rc)
        return cli_finish_stdout(rc);
    return cli_finish_stdout(st.any_failed ? EXIT_FAIL : EXIT_OK);
}

/* --- check mode ------------------------------------------------------------- */

static void put_check_name(const char *name)
{
    char buf[4096];
    size_t need = pt_hash_format_check_name(buf, sizeof(buf), name);
    if (need < sizeof(buf)) {
        fwrite(buf, 1, need, stdout);
        return;
    }
    char *big = malloc(need + 1);
    if (big) {
        pt_hash_format_check_name(big, need + 1, name);
        fwrite(big, 1, need, stdout);
        free(big);
    } else {
        fputs(name, stdout);
    }
}

/* With --warn, reports the improperly formatted lines before `line`, so
 * the messages come in the order sha256sum -c (one line at a time) gives. */
static void warn_bad_lines(run_state *st, uintmax_t line)
{
    for (; st->bad_done < st->nbad && st->bad_lines[st->bad_done] < line; st->bad_done++) {
        if (!st->o->warn)
            continue;
        fflush(stdout);
        fputs("ptool hash: ", stderr);
        put_quoted(stderr, st->sums_shown);
        fprintf(stderr, ": %ju: improperly formatted %s checksum line\n",
                st->bad_lines[st->bad_done], st->o->tag);
    }
}

static void on_check_result(const pt_hash_result *r, void *arg)
{
    run_state *st = arg;
    const hash_opts *o = st->o;
    warn_bad_lines(st, st->line_of[r->arg_index]);
    if (r->status) {
        if (o->ignore_missing && r->status == PT_ENOENT)
            return;
        st->n_unreadable++;
        report_failure(r);
        if (!o->status_only) {
            put_check_name(r->path);
            fputs(": FAILED open or read\n", stdout);
        }
        return;
    }
    if (r->match == 1)
        st->matched = true;
    else
        st->n_mismatched++;
    if (o->status_only || (r->match == 1 && o->quiet))
        return;
    put_check_name(r->path);
    fputs(r->match == 1 ? ": OK\n" : ": FAILED\n", stdout);
}

/* The lines of one sums file: the files to check, and the line numbers
 * of the improperly formatted lines. */
typedef struct sums_list {
    char **names, **hexes;
    uintmax_t *lines;
    size_t n, cap;
    uintmax_t *bad;
    size_t nbad, badcap;
} sums_list;

static void sums_free(sums_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        free(l->hexes[i]);
    }
    free(l->names);
    free(l->hexes);
    free(l->lines);
    free(l->bad);
    memset(l, 0, sizeof(*l));
}

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, nc * size);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

static bool sums_add(sums_list *l, const char *name, const char *hex, uintmax_t line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **a = realloc(l->names, cap * sizeof(*a));
        if (!a)
            return false;
        l->names = a;
        char **b = realloc(l->hexes, cap * sizeof(*b));
        if (!b)
            return false;
        l->hexes = b;
        uintmax_t *c = realloc(l->lines, cap * sizeof(*c));
        if (!c)
            return false;
        l->lines = c;
        l->cap = cap;
    }
    l->names[l->n] = strdup(name);
    l->hexes[l->n] = strdup(hex);
    if (!l->names[l->n] || !l->hexes[l->n]) {
        free(l->names[l->n]);
        free(l->hexes[l->n]);
        return false;
    }
    l->lines[l->n] = line;
    l->n++;
    return true;
}

static bool sums_add_bad(sums_list *l, uintmax_t line)
{
    if (!grow((void **)&l->bad, &l->badcap, l->nbad, sizeof(*l->bad)))
        return false;
    l->bad[l->nbad++] = line;
    return true;
}

static const char *plural(uintmax_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* Checks one sums file; true when everything in it verified (sha256sum -c's
 * rule). The parser is shared by all the files, as in coreutils. */
static bool check_one(const hash_opts *o, pt_hash_parser *parser, const char *sums, int *fatal)
{
    bool is_stdin = !strcmp(sums, "-");
    const char *shown = is_stdin ? "standard input" : sums;
    FILE *f = is_stdin ? stdin : fopen(sums, "r");
    if (!f) {
        fputs("ptool hash: ", stderr);
        put_quoted(stderr, shown);
        fprintf(stderr, ": %s\n", strerror(errno));
        return false;
    }
    sums_list list = {0};
    uintmax_t n_misformatted = 0, line_no = 0;
    char *line = NULL;
    size_t cap = 0;
    bool oom = false;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&line, &cap, f);
        if (len <= 0)
            break;
        line_no++;
        pt_hash_line pl;
        int rc = pt_hash_parse_line(parser, line, (size_t)len, &pl);
        if (rc == 0)
            continue;
        if (rc < 0 || (is_stdin && !strcmp(pl.name, "-"))) {
            n_misformatted++;
            if (!sums_add_bad(&list, line_no)) {
                oom = true;
                break;
            }
            continue;
        }
        if (!sums_add(&list, pl.name, pl.hex, line_no)) {
            oom = true;
            break;
        }
    }
    int read_errno = ferror(f) ? errno : 0;
    bool read_failed = ferror(f) != 0;
    free(line);
    if (is_stdin)
        clearerr(f);
    else
        fclose(f);
    if (oom) {
        cli_error("hash: out of memory reading %s", shown);
        sums_free(&list);
        *fatal = EXIT_FAIL;
        return false;
    }
    if (read_failed) {
        fputs("ptool hash: ", stderr);
        put_quoted(stderr, shown);
        fprintf(stderr, ": %s\n", read_errno ? strerror(read_errno) : "read error");
        sums_free(&list);
        return false;
    }

    run_state st = {.o = o,
                    .line_of = list.lines,
                    .bad_lines = list.bad,
                    .nbad = list.nbad,
                    .sums_shown = shown};
    if (list.n) {
        int rc = run_paths(o, (const char *const *)list.names, list.n,
                           (const char *const *)list.hexes, !is_stdin, on_check_result, &st);
        if (rc) {
            sums_free(&list);
            *fatal = rc;
            return false;
        }
    }
    warn_bad_lines(&st, UINTMAX_MAX);
    bool properly_formatted = list.n > 0;
    sums_free(&list);

    if (!properly_formatted) {
        fputs("ptool hash: ", stderr);
        put_quoted(stderr, shown);
        fputs(": no properly formatted checksum lines found\n", stderr);
    } else if (!o->status_only) {
        if (n_misformatted)
            fprintf(stderr, "ptool hash: WARNING: %ju %s improperly formatted\n", n_misformatted,
                    plural(n_misformatted, "line is", "lines are"));
        if (st.n_unreadable)
            fprintf(stderr, "ptool hash: WARNING: %ju listed %s could not be read\n",
                    st.n_unreadable, plural(st.n_unreadable, "file", "files"));
        if (st.n_mismatched)
            fprintf(stderr, "ptool hash: WARNING: %ju computed %s did NOT match\n", st.n_mismatched,
                    plural(st.n_mismatched, "checksum", "checksums"));
        if (o->ignore_missing && !st.matched) {
            fputs("ptool hash: ", stderr);
            put_quoted(stderr, shown);
            fputs(": no file was verified\n", stderr);
        }
    }
    return properly_formatted && st.matched && st.n_mismatched == 0 && st.n_unreadable == 0 &&
           (!o->strict || n_misformatted == 0);
}

static int do_check(const hash_opts *o, char **sums, size_t n)
{
    static char dash[] = "-";
    static char *dashv[] = {dash};
    if (!n) {
        sums = dashv;
        n = 1;
    }
    pt_hash_parser parser = {.hex_len = 2 * o->digest_len, .tag = o->tag};
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        int fatal = 0;
        ok = check_one(o, &parser, sums[i], &fatal) && ok;
        if (fatal) {
            cli_finish_stdout(fatal);
            return fatal;
        }
        fflush(stdout);
    }
    return cli_finish_stdout(ok ? EXIT_OK : EXIT_FAIL);
}

/* --- options ---------------------------------------------------------------- */

static int parse_count(const char *opt, const char *v, unsigned long long min,
                       unsigned long long max, bool suffix, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || errno || v[0] == '-')
        return cli_usage_error("hash", "%s: '%s' is not a number", opt, v);
    if (suffix && (*end == 'k' || *end == 'K')) {
        x = x > max ? x : x * 1024;
        end++;
    } else if (suffix && (*end == 'm' || *end == 'M')) {
        x = x > max ? x : x * 1024 * 1024;
        end++;
    }
    if (*end)
        return cli_usage_error("hash", "%s: '%s' is not a number", opt, v);
    if (x < min || x > max)
        return cli_usage_error("hash", "%s: %s is not in %llu..%llu", opt, v, min, max);
    *out = x;
    return -1;
}

/* Long option `name` in argv[*i], as "--name VALUE" or "--name=VALUE". */
static bool opt_value(int argc, char **argv, int *i, const char *name, const char **val, int *rc)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n))
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n])
        return false;
    if (*i + 1 >= argc) {
        *rc = cli_usage_error("hash", "%s needs a value", name);
        return true;
    }
    *val = argv[++*i];
    return true;
}

int cmd_hash(int argc, char **argv)
{
    hash_opts o = {.algo = "sha256"};
    char **files = calloc((size_t)argc + 1, sizeof(*files));
    if (!files) {
        cli_error("hash: out of memory");
        return EXIT_FAIL;
    }
    size_t nfiles = 0;
    bool only_files = false;
    int rc = -1;
    for (int i = 0; i < argc && rc < 0; i++) {
        const char *a = argv[i], *val = NULL;
        unsigned long long num;
        if (only_files || a[0] != '-' || !strcmp(a, "-")) {
            files[nfiles++] = argv[i];
        } else if (!strcmp(a, "--")) {
            only_files = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            free(files);
            return cli_finish_stdout(EXIT_OK);
        } else if (!strcmp(a, "-a") || opt_value(argc, argv, &i, "--algo", &val, &rc)) {
            if (!strcmp(a, "-a")) {
                if (i + 1 >= argc)
                    rc = cli_usage_error("hash", "-a needs a value");
                else
                    val = argv[++i];
            }
            if (val)
                o.algo = val;
        } else if (opt_value(argc, argv, &i, "--threads", &val, &rc)) {
            if (val && (rc = parse_count("--threads", val, 1, 4096, false, &num)) < 0)
                o.threads = (unsigned)num;
        } else if (opt_value(argc, argv, &i, "--block-size", &val, &rc)) {
            if (val && (rc = parse_count("--block-size", val, 4096, 64u << 20, true, &num)) < 0)
                o.block = (size_t)num;
        } else if (opt_value(argc, argv, &i, "--max-open", &val, &rc)) {
            if (val && (rc = parse_count("--max-open", val, 1, 4096, false, &num)) < 0)
                o.max_open = (unsigned)num;
        } else if (!strcmp(a, "--check")) {
            o.check = true;
        } else if (!strcmp(a, "--binary")) {
            o.binary = true;
        } else if (!strcmp(a, "--text")) {
            o.text = true;
            o.binary = false;
        } else if (!strcmp(a, "--tag")) {
            o.tagged = true;
        } else if (!strcmp(a, "--zero")) {
            o.zero = true;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
        } else if (!strcmp(a, "--status")) {
            o.status_only = true;
        } else if (!strcmp(a, "--strict")) {
            o.strict = true;
        } else if (!strcmp(a, "--warn")) {
            o.warn = true;
        } else if (!strcmp(a, "--ignore-missing")) {
            o.ignore_missing = true;
        } else if (a[1] != '-' && strspn(a + 1, "bctwz") == strlen(a + 1)) {
            for (const char *c = a + 1; *c; c++) {
                if (*c == 'b')
                    o.binary = true;
                else if (*c == 't')
                    o.text = true, o.binary = false;
                else if (*c == 'c')
                    o.check = true;
                else if (*c == 'w')
                    o.warn = true;
                else
                    o.zero = true;
            }
        } else {
            rc = cli_usage_error("hash", "unknown option '%s'", a);
        }
    }
    if (rc < 0 && (rc = cli_check_env("hash")) < 0) {
        if (!o.threads)
            o.threads = pt_default_threads();
        if (pt_hash_algo_info(o.algo, &o.digest_len, o.tag, sizeof(o.tag)))
            rc = cli_usage_error("hash",
                                 "--algo: unknown digest '%s' (OpenSSL names: sha256, sha512, "
                                 "md5, sha1, blake2b512, sha3-256...)",
                                 o.algo);
        else if (o.check && o.tagged)
            rc = cli_usage_error("hash", "--tag is meaningless with --check");
        else if (o.check && (o.binary || o.text))
            rc = cli_usage_error("hash", "--binary and --text are meaningless with --check");
        else if (o.check && o.zero)
            rc = cli_usage_error("hash", "--zero is not supported with --check");
        else if (o.tagged && o.text)
            rc = cli_usage_error("hash", "--tag does not support --text mode");
        else if (!o.check && (o.quiet || o.status_only || o.strict || o.warn || o.ignore_missing))
            rc = cli_usage_error("hash", "--ignore-missing, --quiet, --status, --strict and "
                                         "--warn only make sense with --check");
    }
    if (rc < 0)
        rc = o.check ? do_check(&o, files, nfiles) : do_hash(&o, files, nfiles);
    free(files);
    return rc;
}
