/* cmd_run.c - `ptool run JOB [params] [options]`: one job on one backend. */
#include <string.h>

#include "cli.h"

/* Creates a job, printing the error; returns -1 or an exit status. */
static int make_job(pt_runtime *rt, const cli_job_args *a, unsigned flags, pt_job **job)
{
    char err[PT_ERRBUF_SIZE];
    int rc = pt_job_create(job, rt, a->desc, a->params, flags, err, sizeof(err));
    if (rc) {
        cli_error("%s", err);
        return cli_exit_for_job(rc);
    }
    return -1;
}

int cmd_run(int argc, char **argv)
{
    cli_run_opts o = {0};
    cli_job_args a;
    int rc = cli_parse_job_command("run", argc, argv, CLI_OPT_RUN, &o, &a);
    if (rc >= 0) {
        pt_params_destroy(a.params);
        return rc;
    }
    pt_runtime *rt = NULL;
    pt_job *job = NULL, *ref = NULL;
    bool processes = o.backend == PT_BACKEND_PROCESSES;
    if ((rc = cli_make_runtime(&o, processes, &rt)) >= 0)
        goto out;
    unsigned flags = processes && pt_runtime_worker_pids(rt, NULL, 0) ? PT_JOB_SHARED : 0;
    if ((rc = make_job(rt, &a, flags, &job)) >= 0)
        goto out;

    char err[PT_ERRBUF_SIZE];
    pt_run_options ro = {.backend = o.backend, .strict = o.strict, .threads = o.threads};
    pt_run_info info;
    char label[96];
    snprintf(label, sizeof(label), "%s on %s", a.desc->name, pt_backend_name(o.backend));
    cli_progress *prog = o.quiet ? NULL : cli_progress_start(job, label);
    int prc = pt_run(rt, job, &ro, &info, err, sizeof(err));
    cli_progress_stop(prog);
    if (prc) {
        cli_error("%s", err);
        rc = prc == PT_EUNAVAIL ? EXIT_UNAVAIL : cli_exit_for(prc);
        goto out;
    }
    /* Say how the backend was chosen: always when it fell back, otherwise
     * unless --quiet or --json (then it is in the JSON). */
    bool fell_back = o.backend != PT_BACKEND_AUTO && info.backend != o.backend;
    if (info.note[0] && (fell_back || (!o.quiet && !o.json)))
        cli_error("%s", info.note);

    /* Output files (images) go in place only now, complete. */
    if ((prc = pt_job_save(job, err, sizeof(err))) != 0) {
        cli_error("%s", err);
        rc = cli_exit_for_job(prc) == EXIT_USAGE && prc != PT_ENOSPC ? EXIT_USAGE : EXIT_FAIL;
        goto out;
    }

    int verified = -1;
    char verr[PT_ERRBUF_SIZE] = "";
    if (o.verify) {
        int crc = pt_job_create_like(&ref, job, 0, err, sizeof(err));
        if (crc) {
            cli_error("%s", err);
            rc = cli_exit_for_job(crc);
            goto out;
        }
        pt_run_options sr = {.backend = PT_BACKEND_SERIAL, .strict = true};
        if (pt_run(rt, ref, &sr, NULL, err, sizeof(err)) != 0) {
            cli_error("verify: the serial reference run failed: %s", err);
            rc = EXIT_FAIL;
            goto out;
        }
        verified = pt_job_verify(job, ref, verr, sizeof(verr)) == 0;
    }

    if (o.json) {
        pt_json *j = cli_json_begin("run");
        if (!j) {
            rc = EXIT_FAIL;
            goto out;
        }
        pt_run_json(j, job, o.backend, &info);
        pt_json_key(j, "verified");
        if (verified < 0)
            pt_json_null(j);
        else
            pt_json_bool(j, verified == 1);
        if (verified == 0) {
            pt_json_key(j, "verify_error");
            pt_json_str(j, verr);
        }
        pt_json_key(j, "result");
        pt_json_object_begin(j);
        int wrc = pt_job_write_json(job, j);
        pt_json_object_end(j);
        cli_json_end(j);
        if (wrc && wrc != PT_EIO) {
            cli_error("%s: %s", a.desc->name, pt_strerror(wrc));
            rc = EXIT_FAIL;
            goto out;
        }
    } else {
        int wrc = pt_job_write_text(job, o.quiet ? PT_OUT_QUIET : 0, cli_write_file, stdout);
        if (wrc && wrc != PT_EIO) {
            /* the job could not produce its result (PT_EIO: stdout failed,
             * reported below) */
            cli_error("%s: %s", a.desc->name, pt_strerror(wrc));
            rc = EXIT_FAIL;
            goto out;
        }
        if (!o.quiet) {
            char t[32];
            const char *unit = info.backend == PT_BACKEND_OPENCL      ? "compute unit"
                               : info.backend == PT_BACKEND_PROCESSES ? "worker process"
                                                                      : "thread";
            fprintf(stderr, "ptool: %s on %s (%u %s%s): %s\n", a.desc->name,
                    pt_backend_name(info.backend), info.threads, unit,
                    info.threads == 1                      ? ""
                    : info.backend == PT_BACKEND_PROCESSES ? "es"
                                                           : "s",
                    cli_fmt_seconds(info.seconds, t, sizeof(t)));
        }
    }
    rc = EXIT_OK;
    if (verified == 0) {
        cli_error("verification against serial FAILED: %s", verr);
        rc = EXIT_FAIL;
    } else if (verified == 1 && !o.quiet && !o.json) {
        cli_error("verified: the result matches serial");
    }
    rc = cli_finish_stdout(rc);
out:
    pt_job_destroy(ref);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    pt_params_destroy(a.params);
    return rc;
}
