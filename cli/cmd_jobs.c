/* cmd_jobs.c - `ptool jobs [JOB] [--json]`: the catalog, generated from the
 * job descriptors. */
#include <string.h>

#include "cli.h"

int cmd_jobs(int argc, char **argv)
{
    bool json = false;
    const char *only = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("Usage: ptool jobs [JOB] [--json]\n\n"
                 "Lists the job catalog with every parameter (type, default, help).\n"
                 "Run one with 'ptool run JOB', compare backends with 'ptool bench JOB'.");
            return EXIT_OK;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("jobs", "unknown option '%s'", argv[i]);
        } else if (!only) {
            only = argv[i];
        } else {
            return cli_usage_error("jobs", "unexpected argument '%s'", argv[i]);
        }
    }
    size_t n;
    const pt_job_desc *const *all = pt_job_catalog(&n);
    if (only && !pt_job_find(only))
        return cli_usage_error("jobs", "unknown job '%s'", only);
    if (json) {
        pt_json *j = cli_json_begin("jobs");
        if (!j)
            return EXIT_FAIL;
        pt_json_key(j, "jobs");
        pt_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
            if (!only || !strcmp(only, all[i]->name))
                pt_job_desc_json(j, all[i], NULL);
        pt_json_array_end(j);
        cli_json_end(j);
        return cli_finish_stdout(EXIT_OK);
    }
    for (size_t i = 0; i < n; i++) {
        const pt_job_desc *d = all[i];
        if (only && strcmp(only, d->name))
            continue;
        printf("%s%s  %s%s\n", i && !only ? "\n" : "", d->name, d->summary,
               d->kernel && d->cl_run ? "" : " [no OpenCL kernel]");
        cli_print_params(stdout, d, "    ");
    }
    return cli_finish_stdout(EXIT_OK);
}
