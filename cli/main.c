/* main.c - `ptool`: the command-line front end. Parses the command and hands
 * the rest of argv to it; every command has --help. */
#include <string.h>

#include "cli.h"

#ifdef PT_HAVE_IO
#define PT_IO_COMMANDS ", fetch, hash, crawl, serve"
#else
#define PT_IO_COMMANDS ""
#endif

#ifdef PT_HAVE_IO
/* The network commands run from ptool-net.so (net.c). */
static int net_fetch(int argc, char **argv)
{
    return cli_net_command("fetch", argc, argv);
}
static int net_crawl(int argc, char **argv)
{
    return cli_net_command("crawl", argc, argv);
}
static int net_serve(int argc, char **argv)
{
    return cli_net_command("serve", argc, argv);
}
#endif

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "run a job on a backend"},
    {"bench", cmd_bench, "time a job on every backend, verified against serial"},
    {"jobs", cmd_jobs, "list the jobs and their parameters"},
    {"backends", cmd_backends, "show backends, threads and OpenCL devices"},
    {"cache", cmd_cache, "list or clear the OpenCL kernel binary cache"},
#ifdef PT_HAVE_IO
    {"fetch", net_fetch, "download many URLs at once (HTTP/1.1, HTTP/2, TLS)"},
    {"hash", cmd_hash, "file digests like sha256sum (-c checks them), hashed in parallel"},
    {"crawl", net_crawl, "crawl a site: fetch, parse HTML, follow links (JSON lines)"},
    {"serve", net_serve, "an HTTP server that runs jobs on any backend"},
#endif
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "Usage: ptool COMMAND [ARGS]\n\n"
               "ptool runs CPU-heavy jobs on a backend chosen at run time: serial, threads,\n"
               "processes, openmp or opencl (any OpenCL device: a GPU, or PoCL's CPU device),\n"
               "and async IO on one libuv loop: downloads, file digests, a crawler, a server.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExamples:\n"
               "  ptool run isprime 97 561 --method trial\n"
               "  ptool bench isprime --preset course --method trial\n"
               "  ptool run isprime --input numbers.txt --backend opencl --json\n"
               "  ptool run primes --hi 10000000000 --threads 2\n"
               "  ptool run mandelbrot --width 2048 --height 2048 --output m.png\n"
               "  ptool fetch -i urls.txt --concurrency 50 --output-dir pages\n"
               "  ptool serve --port 8080\n\n"
               "'ptool COMMAND --help' explains a command; 'ptool run JOB --help' a job.\n\n"
               "Environment: PTOOL_BACKEND, PTOOL_THREADS, PTOOL_DEVICE, PTOOL_CACHE_DIR,\n"
               "PTOOL_ISA (baseline|avx2|avx512: cap the SIMD level), PTOOL_KERNEL_DIR (load\n"
               "kernels/*.cl from this directory instead of the built-in copies).\n\n"
               "Exit status: 0 success; 1 the work failed (a run error, a result that does\n"
               "not match serial); 2 bad usage or bad input (nothing was done); 3 --strict\n"
               "and the backend is unavailable.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing COMMAND (run, bench, jobs, backends, cache%s)\nTry 'ptool --help'.",
                  PT_IO_COMMANDS);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return cli_finish_stdout(EXIT_OK);
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("ptool %s (backends: serial threads processes%s%s; ISA %s)\n", pt_version(),
               PTOOL_HAVE_OPENMP ? " openmp" : "", PTOOL_HAVE_OPENCL ? " opencl" : "",
               pt_cpu_isa());
        return cli_finish_stdout(EXIT_OK);
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            usage(stdout);
            return cli_finish_stdout(EXIT_OK);
        }
        for (size_t i = 0; i < NCOMMANDS; i++) {
            if (!strcmp(argv[2], commands[i].name)) {
                char help_arg[] = "--help";
                char *help[] = {help_arg, NULL};
                return commands[i].fn(1, help);
            }
        }
        cli_error("unknown command '%s'\nTry 'ptool --help'.", argv[2]);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 2, argv + 2);
    cli_error("unknown command '%s'\nTry 'ptool --help'.", cmd);
    return EXIT_USAGE;
}
