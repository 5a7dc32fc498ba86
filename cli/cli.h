/* cli.h - what the `ptool` subcommands share: exit statuses, messages,
 * output, and the options of commands that run jobs. The CLI uses only the
 * public <ptool/...> API (as curl's src/ uses only libcurl's). */
#ifndef PTOOL_CLI_H
#define PTOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ptool/ptool.h>

/* Exit statuses, documented in `ptool --help`. */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,    /* the work failed: a run error, a failed verification */
    EXIT_USAGE = 2,   /* bad usage or bad input; nothing was done */
    EXIT_UNAVAIL = 3, /* --strict and the backend is unavailable */
};

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* "ptool: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* "ptool CMD: MESSAGE" then "Try 'ptool CMD --help'." on stderr; returns
 * EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* A pt_write_fn that writes to the FILE * in ctx. */
int cli_write_file(void *ctx, const char *buf, size_t len);

/* Flushes stdout; on failure reports it and returns EXIT_FAIL, else rc. */
int cli_finish_stdout(int rc);

/* Whether stderr is a terminal (progress lines only then). */
bool cli_stderr_tty(void);

/* Formats seconds as "123 ms", "1.23 s", "45.6 us" into buf. */
const char *cli_fmt_seconds(double s, char *buf, size_t len);

/* Formats a rate with SI prefixes ("1.23 M") into buf. */
const char *cli_fmt_rate(double v, char *buf, size_t len);

/* Formats a byte count as "512 B", "1.5 KiB", "2.00 MiB" or "1.00 GiB" into
 * buf; returns buf. */
const char *cli_fmt_bytes(double b, char *buf, size_t len);

/* Erases the progress line on stderr if *shown, and clears *shown. */
void cli_progress_clear(bool *shown);

/* Whether arg is the option want: "-x"/"--name" alone (*inline_value =
 * NULL) or, for a long option, "--name=VALUE" (*inline_value -> VALUE,
 * inside arg). */
bool cli_opt_is(const char *arg, const char *want, const char **inline_value);

/* In an option loop over argv[i] of argc, after cli_opt_is(arg, name, &val)
 * matched: leaves an inline value in val, else takes the next argument into
 * val (advancing i), else returns cli_usage_error(cmd, "NAME needs a value")
 * from the calling function. */
#define CLI_TAKE_VALUE(cmd, name)                                                                  \
    do {                                                                                           \
        if (!val) {                                                                                \
            if (i + 1 >= argc)                                                                     \
                return cli_usage_error(cmd, "%s needs a value", name);                             \
            val = argv[++i];                                                                       \
        }                                                                                          \
    } while (0)

/* Parses option opt's value v as an integer in min..max into *out: -1 if
 * fine, else prints a usage error for command cmd and returns EXIT_USAGE. */
int cli_parse_count(const char *cmd, const char *opt, const char *v, unsigned long long min,
                    unsigned long long max, unsigned long long *out);

/* Parses v as seconds in 0..1e6 into *out; -1, or EXIT_USAGE after the error. */
int cli_parse_seconds(const char *cmd, const char *opt, const char *v, double *out);

/* Parses v as a byte count >= 1 with an optional K/M/G suffix (powers of
 * 1024) into *out; -1, or EXIT_USAGE after the error. */
int cli_parse_bytes(const char *cmd, const char *opt, const char *v, uint64_t *out);

/* Exit status for a library error code (usage-type errors -> 2, else 1). */
int cli_exit_for(int code);

/* Exit status for a failed pt_job_create(): the parameters or the input were
 * bad (2), unless memory or the disk failed (1). */
int cli_exit_for_job(int code);

/* Checks PTOOL_THREADS and PTOOL_ISA when set: -1 if fine, else prints why
 * and returns EXIT_USAGE. */
int cli_check_env(const char *cmd);

/* --- options shared by commands that run jobs (run, bench) ---------------- */

typedef struct cli_run_opts {
    pt_backend_id backend;
    bool backend_given;
    const char *backend_src; /* "--backend" or "PTOOL_BACKEND" */
    unsigned threads;        /* 0 = default */
    const char *device;
    const char *cache_dir;
    bool strict;
    bool json;
    bool quiet;
    bool verify;
    /* bench */
    const char *backends;
    unsigned repeat;
    unsigned warmup;
} cli_run_opts;

/* What the option parser found. */
typedef struct cli_job_args {
    const pt_job_desc *desc;
    pt_params *params; /* owned */
} cli_job_args;

/* Which command-level options a command accepts. */
#define CLI_OPT_RUN   1u /* --quiet --verify */
#define CLI_OPT_BENCH 2u /* --backends --repeat --warmup */

/* Parses `ptool CMD JOB [params] [options]` from argv[0..argc) (argv[0] is
 * the job name). Fills opts and args. Returns -1 on success, else the exit
 * status to return (a message has been printed; for --help, the help and
 * EXIT_OK). */
int cli_parse_job_command(const char *cmd, int argc, char **argv, unsigned which,
                          cli_run_opts *opts, cli_job_args *args);

/* Prints the help of `ptool CMD JOB` (the job's parameters, from its
 * descriptor, and the command's options). */
void cli_print_job_help(FILE *f, const char *cmd, const pt_job_desc *desc, unsigned which);

/* Prints the parameters of a job, one per line, for help and `ptool jobs`. */
void cli_print_params(FILE *f, const pt_job_desc *desc, const char *indent);

/* Creates the runtime for opts (with the process pool when `processes`).
 * Returns -1, or an exit status after printing the error. */
int cli_make_runtime(const cli_run_opts *opts, bool processes, pt_runtime **rt);

/* Starts the JSON report of `command` on stdout: opens the top object and
 * writes the metadata members every report starts with. NULL if out of
 * memory. */
pt_json *cli_json_begin(const char *command);

/* Closes the top object, ends the document and frees j: EXIT_OK, or
 * EXIT_FAIL if the output could not be written. */
int cli_json_end(pt_json *j);

/* A live progress line for a running job (NULL when stderr is not a
 * terminal: then nothing is printed). Stop it before printing anything. */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_start(const pt_job *job, const char *label);
void cli_progress_stop(cli_progress *p);

/* Subcommands: each takes argv after the command name. */
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_backends(int argc, char **argv);
int cmd_cache(int argc, char **argv);
#ifdef PT_HAVE_IO
int cmd_serve(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_crawl(int argc, char **argv);
int cmd_hash(int argc, char **argv);

/* Runs the network command `name` (fetch, crawl, serve) from ptool-net.so,
 * loading the module first (net.c); returns its exit status, or EXIT_FAIL
 * after a one-line error when the module cannot be loaded. The module stays
 * loaded until the process exits. */
int cli_net_command(const char *name, int argc, char **argv);
#endif

#endif /* PTOOL_CLI_H */
