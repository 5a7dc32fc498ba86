/* cmd_jobs.c - `ptool jobs [JOB] [--json]`: the catalog, generated from the
 * job descriptors. */
#include <string.h>

#include "cli.h"

static const char *type_name(pt_type t)
{
    switch (t) {
    case PT_TYPE_BOOL:
        return "bool";
    case PT_TYPE_INT:
        return "int";
    case PT_TYPE_U64:
        return "u64";
    case PT_TYPE_DOUBLE:
        return "double";
    case PT_TYPE_STRING:
        return "string";
    case PT_TYPE_CHOICE:
        return "choice";
    case PT_TYPE_U64_LIST:
        return "u64 list";
    }
    return "?";
}

static void job_json(pt_json *j, const pt_job_desc *d)
{
    pt_json_object_begin(j);
    pt_json_key(j, "name");
    pt_json_str(j, d->name);
    pt_json_key(j, "summary");
    pt_json_str(j, d->summary);
    pt_json_key(j, "opencl");
    pt_json_bool(j, d->kernel != NULL && d->cl_run != NULL);
    pt_json_key(j, "params");
    pt_json_array_begin(j);
    for (size_t i = 0; i < d->nparams; i++) {
        const pt_param *p = &d->params[i];
        pt_json_object_begin(j);
        pt_json_key(j, "name");
        pt_json_str(j, p->name);
        pt_json_key(j, "type");
        pt_json_str(j, type_name(p->type));
        pt_json_key(j, "default");
        pt_json_str(j, p->def);
        pt_json_key(j, "help");
        pt_json_str(j, p->help);
        if (p->choices) {
            pt_json_key(j, "choices");
            pt_json_array_begin(j);
            const char *c = p->choices;
            while (*c) {
                const char *bar = strchr(c, '|');
                size_t len = bar ? (size_t)(bar - c) : strlen(c);
                pt_json_strn(j, c, len);
                c += len + (bar ? 1 : 0);
            }
            pt_json_array_end(j);
        }
        if (p->min < p->max) {
            pt_json_key(j, "min");
            pt_json_double(j, p->min);
            pt_json_key(j, "max");
            pt_json_double(j, p->max);
        }
        pt_json_key(j, "positional");
        pt_json_bool(j, (p->flags & PT_PARAM_POSITIONAL) != 0);
        pt_json_object_end(j);
    }
    pt_json_array_end(j);
    pt_json_object_end(j);
}

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
                job_json(j, all[i]);
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
