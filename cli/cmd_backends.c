/* cmd_backends.c - `ptool backends [--json]`: each backend, available or why
 * not, and every OpenCL platform and device. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_backends(int argc, char **argv)
{
    cli_run_opts o = {0};
    int erc = cli_check_env("backends");
    if (erc >= 0)
        return erc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (!strcmp(a, "--device") || !strcmp(a, "--threads")) {
            if (i + 1 >= argc)
                return cli_usage_error("backends", "%s needs a value", a);
            if (!strcmp(a, "--device")) {
                o.device = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end || v < 1 || v > 4096)
                    return cli_usage_error("backends",
                                           "--threads: '%s' is not an integer in "
                                           "1..4096",
                                           argv[i]);
                o.threads = (unsigned)v;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("Usage: ptool backends [--device D] [--threads N] [--json]\n\n"
                 "Shows each backend (available, or why not), the thread count, and every\n"
                 "OpenCL platform and device with its compute units and memory. --device\n"
                 "shows which device a run with that selector would use.");
            return EXIT_OK;
        } else {
            return cli_usage_error("backends", "unknown option '%s'", a);
        }
    }
    pt_runtime *rt = NULL;
    int rc = cli_make_runtime(&o, true, &rt);
    if (rc >= 0)
        return rc;

    if (o.json) {
        pt_json *j = cli_json_begin("backends");
        if (j)
            pt_backends_json(j, rt);
        pt_runtime_destroy(rt);
        return cli_finish_stdout(j ? cli_json_end(j) : EXIT_FAIL);
    }

    static const pt_backend_id ids[] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS, PT_BACKEND_PROCESSES,
                                        PT_BACKEND_OPENMP, PT_BACKEND_OPENCL};
    enum { NB = sizeof(ids) / sizeof(ids[0]) };
    bool avail[NB];
    char why[NB][512];
    for (size_t i = 0; i < NB; i++)
        avail[i] = pt_backend_available(rt, ids[i], NULL, why[i], sizeof(why[i]));
    pt_cl_device_info *devs = NULL;
    size_t ndev = 0;
    char clerr[PT_ERRBUF_SIZE] = "";
    int clrc = pt_cl_devices(&devs, &ndev, clerr, sizeof(clerr));
    size_t selected = (size_t)-1;
    char selerr[512] = "";
    if (clrc == 0 && pt_cl_select(devs, ndev, o.device ? o.device : getenv("PTOOL_DEVICE"),
                                  &selected, selerr, sizeof(selerr)) != 0)
        selected = (size_t)-1;
    unsigned threads = pt_runtime_threads(rt);

    printf("ptool %s, %u threads by default (%u usable CPUs), %s ISA\n\n", pt_version(), threads,
           pt_cpu_count(), pt_cpu_isa());
    printf("%-10s %-11s %s\n", "backend", "status", "detail");
    for (size_t i = 0; i < NB; i++) {
        char detail[600];
        switch (ids[i]) {
        case PT_BACKEND_SERIAL:
            snprintf(detail, sizeof(detail), "1 thread: the reference");
            break;
        case PT_BACKEND_THREADS:
            snprintf(detail, sizeof(detail), "thread pool, %u threads", threads);
            break;
        case PT_BACKEND_PROCESSES:
            snprintf(detail, sizeof(detail), "fork server + %zu worker processes, shared memory",
                     pt_runtime_worker_pids(rt, NULL, 0));
            break;
        case PT_BACKEND_OPENMP:
            snprintf(detail, sizeof(detail), "%u threads", threads);
            break;
        default:
            if (selected != (size_t)-1)
                snprintf(detail, sizeof(detail), "device %zu: %s (%s)", selected,
                         devs[selected].name, devs[selected].platform);
            else
                detail[0] = '\0';
            break;
        }
        printf("%-10s %-11s %s\n", pt_backend_name(ids[i]), avail[i] ? "available" : "unavailable",
               avail[i] ? detail : why[i]);
    }
    printf("\nOpenCL devices:\n");
    if (clrc)
        printf("  none: %s\n", clerr);
    for (size_t i = 0; i < ndev; i++) {
        const pt_cl_device_info *d = &devs[i];
        printf("  %c %zu (%u:%u) %s\n", i == selected ? '*' : ' ', i, d->platform_index,
               d->device_index, d->name);
        printf("      platform   %s (%s)\n", d->platform, d->platform_version);
        printf("      type       %s, %u compute units, driver %s, %s\n", d->type, d->compute_units,
               d->driver, d->version);
        printf("      memory     %.1f GiB global, %.1f GiB max buffer, %.0f KiB local\n",
               (double)d->global_mem / (1 << 30), (double)d->max_alloc / (1 << 30),
               (double)d->local_mem / 1024);
        printf("      fp64       %s; max work-group %zu\n", d->fp64 ? "yes" : "no",
               d->max_work_group);
    }
    if (ndev)
        printf("  (* = the device runs use; pick another with --device or PTOOL_DEVICE)\n");
    pt_free(devs);
    pt_runtime_destroy(rt);
    return cli_finish_stdout(EXIT_OK);
}
