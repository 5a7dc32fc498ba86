/* common.c - messages, output and the job-command option parser shared by
 * the subcommands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ptool: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ptool %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'ptool %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cli_write_file(void *ctx, const char *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

int cli_finish_stdout(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("error writing output: %s", strerror(errno));
        return EXIT_FAIL;
    }
    return rc;
}

bool cli_stderr_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}

const char *cli_fmt_seconds(double s, char *buf, size_t len)
{
    if (s < 1e-3)
        snprintf(buf, len, "%.1f us", s * 1e6);
    else if (s < 1.0)
        snprintf(buf, len, "%.2f ms", s * 1e3);
    else
        snprintf(buf, len, "%.3f s", s);
    return buf;
}

const char *cli_fmt_bytes(double b, char *buf, size_t len)
{
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(buf, len, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0)
        snprintf(buf, len, "%.1f KiB", b / 1024.0);
    else
        snprintf(buf, len, "%.0f B", b);
    return buf;
}

void cli_progress_clear(bool *shown)
{
    if (*shown) {
        fputs("\r\033[K", stderr);
        *shown = false;
    }
}

const char *cli_fmt_rate(double v, char *buf, size_t len)
{
    if (v >= 1e9)
        snprintf(buf, len, "%.2f G", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2f M", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, len, "%.2f k", v / 1e3);
    else
        snprintf(buf, len, "%.2f ", v);
    return buf;
}

int cli_exit_for(int code)
{
    switch (code) {
    case PT_EINVAL:
    case PT_EPARSE:
    case PT_ERANGE:
    case PT_ENOENT:
    case PT_EACCES:
    case PT_EUNKNOWN:
        return EXIT_USAGE;
    case PT_EUNAVAIL:
        return EXIT_UNAVAIL;
    default:
        return EXIT_FAIL;
    }
}

int cli_exit_for_job(int code)
{
    /* Parameters too large to allocate are bad input too; a read error of
     * an input that exists is not. */
    return code == PT_EIO ? EXIT_FAIL : EXIT_USAGE;
}

int cli_check_env(const char *cmd)
{
    const char *t = getenv("PTOOL_THREADS");
    if (t && *t) {
        char *end;
        errno = 0;
        long v = strtol(t, &end, 10);
        if (*end || errno || v < 1 || v > 4096)
            return cli_usage_error(cmd, "PTOOL_THREADS: '%s' is not an integer in 1..4096", t);
    }
    const char *isa = getenv("PTOOL_ISA");
    if (isa && *isa && strcmp(isa, "baseline") && strcmp(isa, "avx2") && strcmp(isa, "avx512"))
        return cli_usage_error(cmd, "PTOOL_ISA: '%s' is not one of baseline, avx2, avx512", isa);
    return -1;
}

/* --- help ---------------------------------------------------------------- */

static const char *type_metavar(const pt_param *p)
{
    if (p->metavar)
        return p->metavar;
    switch (p->type) {
    case PT_TYPE_INT:
    case PT_TYPE_U64:
        return "N";
    case PT_TYPE_DOUBLE:
        return "X";
    case PT_TYPE_CHOICE:
        return p->choices;
    default:
        return "VALUE";
    }
}

void cli_print_params(FILE *f, const pt_job_desc *desc, const char *indent)
{
    for (size_t i = 0; i < desc->nparams; i++) {
        const pt_param *p = &desc->params[i];
        char left[96];
        if (p->flags & PT_PARAM_POSITIONAL)
            snprintf(left, sizeof(left), "%s...", type_metavar(p));
        else if (p->type == PT_TYPE_BOOL)
            snprintf(left, sizeof(left), "--%s", p->name);
        else if (p->type == PT_TYPE_CHOICE)
            snprintf(left, sizeof(left), "--%s %s", p->name, p->choices);
        else
            snprintf(left, sizeof(left), "--%s %s", p->name, type_metavar(p));
        fprintf(f, "%s%-24s %s", indent, left, p->help ? p->help : "");
        if (p->def)
            fprintf(f, " (default: %s)", p->def);
        if (p->min < p->max)
            fprintf(f, " [%g..%g]", p->min, p->max);
        fputc('\n', f);
    }
}

static void print_common_options(FILE *f, unsigned which)
{
    fputs("Options:\n"
          "  --backend B              serial|threads|processes|openmp|opencl|auto\n"
          "                           (default: $PTOOL_BACKEND, else auto: the fastest\n"
          "                           available for the job; ptool says what it picked)\n"
          "  --threads N              threads or worker processes (default: $PTOOL_THREADS,\n"
          "                           else the CPUs this process may use)\n"
          "  --device D               OpenCL device: index, PLATFORM:DEVICE or a name\n"
          "                           substring (default: $PTOOL_DEVICE, else the first GPU)\n"
          "  --strict                 an unavailable backend is an error (exit 3), not a\n"
          "                           fallback\n"
          "  --cache-dir DIR          OpenCL binary cache (default: $PTOOL_CACHE_DIR, else\n"
          "                           ~/.cache/ptool); '' disables it\n"
          "  --json                   one JSON object on stdout: results, timings, metadata\n",
          f);
    if (which & CLI_OPT_RUN)
        fputs("  --quiet                  print only the summary\n"
              "  --verify                 also run on serial and check the result matches\n",
              f);
    if (which & CLI_OPT_BENCH)
        fputs("  --backends LIST          comma-separated backends to compare (default: all;\n"
              "                           serial always runs: it is the reference)\n"
              "  --repeat N               timed runs per backend (default: 3); the median counts\n"
              "  --warmup N               untimed runs first (default: 1)\n",
              f);
    fputs("  -h, --help               this help\n", f);
}

void cli_print_job_help(FILE *f, const char *cmd, const pt_job_desc *desc, unsigned which)
{
    const pt_param *pos = NULL;
    for (size_t i = 0; i < desc->nparams; i++)
        if (desc->params[i].flags & PT_PARAM_POSITIONAL)
            pos = &desc->params[i];
    fprintf(f, "Usage: ptool %s %s", cmd, desc->name);
    if (pos)
        fprintf(f, " [%s...]", type_metavar(pos));
    fprintf(f, " [PARAMETERS] [OPTIONS]\n\n%s: %s\n\nParameters:\n", desc->name, desc->summary);
    cli_print_params(f, desc, "  ");
    fputc('\n', f);
    print_common_options(f, which);
}

/* --- parsing ------------------------------------------------------------- */

static int parse_uint(const char *cmd, const char *opt, const char *v, unsigned min, unsigned max,
                      unsigned *out)
{
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < (long long)min || x > (long long)max)
        return cli_usage_error(cmd, "%s: '%s' is not an integer in %u..%u", opt, v ? v : "", min,
                               max);
    *out = (unsigned)x;
    return -1;
}

bool cli_opt_is(const char *arg, const char *want, const char **inline_value)
{
    size_t n = strlen(want);
    if (strncmp(arg, want, n) != 0)
        return false;
    if (arg[n] == '\0') {
        *inline_value = NULL;
        return true;
    }
    if (arg[n] == '=' && want[1] == '-') {
        *inline_value = arg + n + 1;
        return true;
    }
    return false;
}

int cli_parse_count(const char *cmd, const char *opt, const char *v, unsigned long long min,
                    unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *v == '-' || *end || errno || x < min || x > max)
        return cli_usage_error(cmd, "%s: '%s' is not an integer in %llu..%llu", opt, v, min, max);
    *out = x;
    return -1;
}

int cli_parse_seconds(const char *cmd, const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < 0 || x > 1e6)
        return cli_usage_error(cmd, "%s: '%s' is not a number of seconds in 0..1000000", opt, v);
    *out = x;
    return -1;
}

int cli_parse_bytes(const char *cmd, const char *opt, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mul = 1024ull * 1024 * 1024;
    if (mul != 1)
        end++;
    if (!*v || *v == '-' || *end || errno || x < 1 || x > UINT64_MAX / mul)
        return cli_usage_error(cmd, "%s: '%s' is not a size in bytes (N, NK, NM or NG, N >= 1)",
                               opt, v);
    *out = x * mul;
    return -1;
}

static bool looks_like_number(const char *s)
{
    return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

int cli_parse_job_command(const char *cmd, int argc, char **argv, unsigned which, cli_run_opts *o,
                          cli_job_args *a)
{
    memset(a, 0, sizeof(*a));
    o->repeat = 3;
    o->warmup = 1;
    if (argc < 1)
        return cli_usage_error(cmd, "missing JOB (see 'ptool jobs')");
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
        printf("Usage: ptool %s JOB [PARAMETERS] [OPTIONS]\n\n"
               "%s a job of the catalog (see 'ptool jobs'); 'ptool %s JOB --help' lists\n"
               "the job's parameters.\n\n",
               cmd,
               strcmp(cmd, "bench") == 0
                   ? "Runs and times, on every available backend, and verifies against serial,"
                   : "Runs",
               cmd);
        print_common_options(stdout, which);
        return EXIT_OK;
    }
    if (argv[0][0] == '-')
        return cli_usage_error(cmd, "missing JOB before '%s' (see 'ptool jobs')", argv[0]);
    a->desc = pt_job_find(argv[0]);
    if (!a->desc)
        return cli_usage_error(cmd, "unknown job '%s' (see 'ptool jobs')", argv[0]);
    if (pt_params_create(&a->params, a->desc) != 0) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    const pt_param *positional = NULL;
    for (size_t i = 0; i < a->desc->nparams; i++)
        if (a->desc->params[i].flags & PT_PARAM_POSITIONAL)
            positional = &a->desc->params[i];

    int erc = cli_check_env(cmd);
    if (erc >= 0)
        return erc;
    /* The backend: --backend, else PTOOL_BACKEND, else auto. */
    o->backend = PT_BACKEND_AUTO;
    const char *envb = getenv("PTOOL_BACKEND");
    if (envb && *envb) {
        if (pt_backend_parse(envb, &o->backend) != 0)
            return cli_usage_error(cmd,
                                   "PTOOL_BACKEND: unknown backend '%s' (choose from serial, "
                                   "threads, processes, openmp, opencl, auto)",
                                   envb);
        o->backend_given = true;
        o->backend_src = "PTOOL_BACKEND";
    }

    bool only_positional = false;
    char err[PT_ERRBUF_SIZE];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (only_positional || arg[0] != '-' || looks_like_number(arg) || !strcmp(arg, "-")) {
            if (!positional)
                return cli_usage_error(cmd, "%s: unexpected argument '%s'", a->desc->name, arg);
            int rc = pt_params_set(a->params, positional->name, arg, err, sizeof(err));
            if (rc) {
                cli_error("%s", err);
                return EXIT_USAGE;
            }
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_print_job_help(stdout, cmd, a->desc, which);
            return EXIT_OK;
        }
        if (cli_opt_is(arg, "--backend", &val)) {
            CLI_TAKE_VALUE(cmd, "--backend");
            if (pt_backend_parse(val, &o->backend) != 0)
                return cli_usage_error(cmd,
                                       "--backend: unknown backend '%s' (choose from serial, "
                                       "threads, processes, openmp, opencl, auto)",
                                       val);
            o->backend_given = true;
            o->backend_src = "--backend";
        } else if (cli_opt_is(arg, "--threads", &val)) {
            CLI_TAKE_VALUE(cmd, "--threads");
            int rc = parse_uint(cmd, "--threads", val, 1, 4096, &o->threads);
            if (rc >= 0)
                return rc;
        } else if (cli_opt_is(arg, "--device", &val)) {
            CLI_TAKE_VALUE(cmd, "--device");
            o->device = val;
        } else if (cli_opt_is(arg, "--cache-dir", &val)) {
            CLI_TAKE_VALUE(cmd, "--cache-dir");
            o->cache_dir = val;
        } else if (cli_opt_is(arg, "--strict", &val) && !val) {
            o->strict = true;
        } else if (cli_opt_is(arg, "--json", &val) && !val) {
            o->json = true;
        } else if ((which & CLI_OPT_RUN) && cli_opt_is(arg, "--quiet", &val) && !val) {
            o->quiet = true;
        } else if ((which & CLI_OPT_RUN) && cli_opt_is(arg, "--verify", &val) && !val) {
            o->verify = true;
        } else if ((which & CLI_OPT_BENCH) && cli_opt_is(arg, "--backends", &val)) {
            CLI_TAKE_VALUE(cmd, "--backends");
            o->backends = val;
        } else if ((which & CLI_OPT_BENCH) && cli_opt_is(arg, "--repeat", &val)) {
            CLI_TAKE_VALUE(cmd, "--repeat");
            int rc = parse_uint(cmd, "--repeat", val, 1, 1000, &o->repeat);
            if (rc >= 0)
                return rc;
        } else if ((which & CLI_OPT_BENCH) && cli_opt_is(arg, "--warmup", &val)) {
            CLI_TAKE_VALUE(cmd, "--warmup");
            int rc = parse_uint(cmd, "--warmup", val, 0, 100, &o->warmup);
            if (rc >= 0)
                return rc;
        } else if (arg[1] == '-') {
            /* A job parameter. */
            char name[64];
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len >= sizeof(name))
                len = sizeof(name) - 1;
            memcpy(name, arg + 2, len);
            name[len] = '\0';
            const pt_param *p = pt_param_find(a->desc, name);
            if (!p || (p->flags & PT_PARAM_POSITIONAL && p->type != PT_TYPE_U64_LIST))
                return cli_usage_error(cmd,
                                       "unknown option '%s': not an option of 'ptool %s' nor a "
                                       "parameter of job %s",
                                       arg, cmd, a->desc->name);
            val = eq ? eq + 1 : NULL;
            if (p->type != PT_TYPE_BOOL && !val) {
                if (i + 1 >= argc)
                    return cli_usage_error(cmd, "%s needs a value", arg);
                val = argv[++i];
            }
            int rc = pt_params_set(a->params, name, val, err, sizeof(err));
            if (rc) {
                cli_error("%s", err);
                return EXIT_USAGE;
            }
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        }
    }
    return -1;
}

int cli_make_runtime(const cli_run_opts *o, bool processes, pt_runtime **rt)
{
    pt_runtime_options ro = {
        .threads = o->threads,
        .no_processes = !processes,
        .device = o->device,
        .cache_dir = o->cache_dir,
    };
    int rc = pt_runtime_create(rt, &ro);
    if (rc) {
        cli_error("cannot start the runtime: %s", pt_strerror(rc));
        return EXIT_FAIL;
    }
    return -1;
}

pt_json *cli_json_begin(const char *command)
{
    pt_json *j;
    if (pt_json_create(&j, cli_write_file, stdout, 0) != 0) {
        cli_error("out of memory");
        return NULL;
    }
    pt_json_object_begin(j);
    pt_json_key(j, "ptool");
    pt_json_str(j, pt_version());
    pt_json_key(j, "command");
    pt_json_str(j, command);
    pt_json_key(j, "isa");
    pt_json_str(j, pt_cpu_isa());
    return j;
}

int cli_json_end(pt_json *j)
{
    pt_json_object_end(j);
    int rc = pt_json_finish(j);
    pt_json_destroy(j);
    return rc ? EXIT_FAIL : EXIT_OK;
}
