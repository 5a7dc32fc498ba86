/* test_params.c - typed job parameters and the catalog. */
#include <criterion/criterion.h>
#include <string.h>

#include "ptool/ptool.h"

Test(params, parse_u64_boundaries)
{
    uint64_t v;
    const char *why;
    cr_assert_eq(pt_parse_u64("0", 1, &v, &why), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pt_parse_u64(" 18446744073709551615 ", 22, &v, &why), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(pt_parse_u64("18446744073709551616", 20, &v, &why), PT_ERANGE);
    cr_assert_str_eq(why, "greater than 2^64-1");
    cr_assert_eq(pt_parse_u64("99999999999999999999999", 23, &v, &why), PT_ERANGE);
    cr_assert_eq(pt_parse_u64("-5", 2, &v, &why), PT_ERANGE);
    cr_assert_str_eq(why, "negative");
    cr_assert_eq(pt_parse_u64("12a", 3, &v, &why), PT_EPARSE);
    cr_assert_str_eq(why, "not a number");
    cr_assert_eq(pt_parse_u64("   ", 3, &v, &why), PT_EPARSE);
    cr_assert_str_eq(why, "empty");
    cr_assert_eq(pt_parse_u64("0x10", 4, &v, &why), PT_EPARSE);
    cr_assert_eq(pt_parse_u64("1.5", 3, &v, &why), PT_EPARSE);
    cr_assert_eq(pt_parse_u64("+7", 2, &v, &why), 0);
    cr_assert_eq(v, 7);
}

Test(params, catalog_has_isprime)
{
    size_t n;
    const pt_job_desc *const *all = pt_job_catalog(&n);
    cr_assert_geq(n, 1);
    const pt_job_desc *d = pt_job_find("isprime");
    cr_assert_not_null(d);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || all[i] == d;
    cr_assert(found);
    cr_assert_null(pt_job_find("nosuchjob"));
    cr_assert_not_null(pt_param_find(d, "method"));
    cr_assert_null(pt_param_find(d, "nosuch"));
    cr_assert_eq(pt_job_register(d), PT_EBUSY);
    cr_assert_eq(pt_job_register(NULL), PT_EINVAL);
}

Test(params, set_validates_and_names_the_parameter)
{
    const pt_job_desc *d = pt_job_find("isprime");
    pt_params *p;
    cr_assert_eq(pt_params_create(&p, d), 0);
    char err[256];
    cr_assert_eq(pt_params_set(p, "method", "trial", err, sizeof(err)), 0);
    cr_assert_eq(pt_params_set(p, "method", "fast", err, sizeof(err)), PT_EPARSE);
    cr_assert(strstr(err, "--method") && strstr(err, "fast") && strstr(err, "mr|trial"), "%s", err);
    cr_assert_eq(pt_params_set(p, "nosuch", "1", err, sizeof(err)), PT_EUNKNOWN);
    cr_assert(strstr(err, "nosuch"), "%s", err);
    cr_assert_eq(pt_params_set(p, "numbers", "1,2,3", err, sizeof(err)), 0);
    cr_assert_eq(pt_params_set(p, "numbers", "4", err, sizeof(err)), 0);
    cr_assert_eq(pt_params_set(p, "numbers", "5,x", err, sizeof(err)), PT_EPARSE);
    cr_assert(strstr(err, "'x'"), "%s", err);
    cr_assert_eq(pt_params_set(p, "numbers", "-1", err, sizeof(err)), PT_ERANGE);
    cr_assert(strstr(err, "negative"), "%s", err);

    pt_runtime *rt;
    pt_runtime_options ro = {.no_processes = true};
    cr_assert_eq(pt_runtime_create(&rt, &ro), 0);
    pt_job *job;
    cr_assert_eq(pt_job_create(&job, rt, d, p, 0, err, sizeof(err)), 0, "%s", err);
    size_t n;
    const uint64_t *list = pt_job_list(job, "numbers", &n);
    cr_assert_eq(n, 4);
    cr_assert_eq(list[0], 1);
    cr_assert_eq(list[3], 4);
    cr_assert_str_eq(pt_job_str(job, "method"), "trial");
    cr_assert(pt_job_param_given(job, "numbers"));
    cr_assert_not(pt_job_param_given(job, "input"));
    pt_job_destroy(job);
    pt_params_destroy(p);
    pt_runtime_destroy(rt);
}

Test(params, shared_job_needs_a_process_pool)
{
    pt_runtime *rt;
    pt_runtime_options ro = {.no_processes = true};
    cr_assert_eq(pt_runtime_create(&rt, &ro), 0);
    pt_job *job;
    char err[256];
    cr_assert_eq(
        pt_job_create(&job, rt, pt_job_find("isprime"), NULL, PT_JOB_SHARED, err, sizeof(err)),
        PT_EINVAL);
    cr_assert(strstr(err, "process pool"), "%s", err);
    pt_runtime_destroy(rt);
}

Test(params, errors_have_names_and_messages)
{
    cr_assert_str_eq(pt_err_name(PT_EWORKER), "PT_EWORKER");
    cr_assert_str_eq(pt_strerror(PT_EDEVMEM), "out of device memory");
    cr_assert_str_eq(pt_strerror(PT_ENOMEM), "out of memory");
    cr_assert_str_eq(pt_strerror(12345), "unknown error");
    pt_backend_id b;
    cr_assert_eq(pt_backend_parse("openmp", &b), 0);
    cr_assert_eq(b, PT_BACKEND_OPENMP);
    cr_assert_eq(pt_backend_parse("gpu", &b), PT_EUNKNOWN);
    cr_assert_str_eq(pt_backend_name(PT_BACKEND_PROCESSES), "processes");
}
