/* params.c - typed job parameters: parsing and validation of the text the
 * CLI, the server or a program hands in. Every message names the parameter
 * and the offending value, so callers can print it as is. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const pt_param *pt_param_find(const pt_job_desc *desc, const char *name)
{
    if (!desc || !name)
        return NULL;
    for (size_t i = 0; i < desc->nparams; i++)
        if (strcmp(desc->params[i].name, name) == 0)
            return &desc->params[i];
    return NULL;
}

int pt_parse_u64(const char *s, size_t len, uint64_t *out, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    while (len > i && isspace((unsigned char)s[len - 1]))
        len--;
    if (i == len) {
        *why = "empty";
        return PT_EPARSE;
    }
    if (s[i] == '-') {
        /* "-0" is still a negative-looking number: refuse it too. */
        bool digits = i + 1 < len;
        for (size_t k = i + 1; k < len; k++)
            digits = digits && isdigit((unsigned char)s[k]);
        *why = digits ? "negative" : "not a number";
        return digits ? PT_ERANGE : PT_EPARSE;
    }
    if (s[i] == '+')
        i++;
    if (i == len) {
        *why = "not a number";
        return PT_EPARSE;
    }
    uint64_t v = 0;
    bool overflow = false;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isdigit(c)) {
            *why = "not a number";
            return PT_EPARSE;
        }
        unsigned d = c - '0';
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
    }
    if (overflow) {
        *why = "greater than 2^64-1";
        return PT_ERANGE;
    }
    *out = v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out, const char **why)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) {
        *why = "empty";
        return PT_EPARSE;
    }
    long long v = strtoll(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end) {
        *why = "not an integer";
        return PT_EPARSE;
    }
    if (errno == ERANGE) {
        *why = "out of the 64-bit range";
        return PT_ERANGE;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out, const char **why)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) {
        *why = "empty";
        return PT_EPARSE;
    }
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end) {
        *why = "not a number";
        return PT_EPARSE;
    }
    if (!isfinite(v) || errno == ERANGE) {
        *why = "not a finite number";
        return PT_ERANGE;
    }
    *out = v;
    return 0;
}

static bool has_bounds(const pt_param *p)
{
    return p->min < p->max;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *c = choices;
    while (c && *c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return true;
        c = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Parses text for parameter p into *v (strings and lists heap-allocated into
 * v; a list appends). The job name is only for the message. */
static int parse_value(const char *job, const pt_param *p, const char *text, pt__value *v,
                       size_t *cap, char *err, size_t errlen)
{
    const char *why = NULL;
    int rc = 0;
    switch (p->type) {
    case PT_TYPE_BOOL:
        if (!text || !strcmp(text, "1") || !strcmp(text, "true") || !strcmp(text, "yes"))
            v->b = true;
        else if (!strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no"))
            v->b = false;
        else
            return pt__errf(err, errlen, PT_EPARSE,
                            "%s: --%s: '%s' is not a boolean (use true or false)", job, p->name,
                            text);
        return 0;
    case PT_TYPE_INT: {
        int64_t x;
        if (!text || (rc = parse_i64(text, &x, &why)))
            return pt__errf(err, errlen, text ? rc : PT_EPARSE, "%s: --%s: '%s' is %s", job,
                            p->name, text ? text : "", text ? why : "missing a value");
        if (has_bounds(p) && ((double)x < p->min || (double)x > p->max))
            return pt__errf(err, errlen, PT_ERANGE, "%s: --%s: %s is out of range [%.17g, %.17g]",
                            job, p->name, text, p->min, p->max);
        v->i = x;
        return 0;
    }
    case PT_TYPE_U64: {
        uint64_t x;
        if (!text || (rc = pt_parse_u64(text, strlen(text), &x, &why)))
            return pt__errf(err, errlen, text ? rc : PT_EPARSE,
                            "%s: --%s: '%s': %s (expected an unsigned 64-bit integer)", job,
                            p->name, text ? text : "", text ? why : "missing a value");
        if (has_bounds(p) && ((double)x < p->min || (double)x > p->max))
            return pt__errf(err, errlen, PT_ERANGE, "%s: --%s: %s is out of range [%.17g, %.17g]",
                            job, p->name, text, p->min, p->max);
        v->u = x;
        return 0;
    }
    case PT_TYPE_DOUBLE: {
        double x;
        if (!text || (rc = parse_double(text, &x, &why)))
            return pt__errf(err, errlen, text ? rc : PT_EPARSE, "%s: --%s: '%s' is %s", job,
                            p->name, text ? text : "", text ? why : "missing a value");
        if (has_bounds(p) && (x < p->min || x > p->max))
            return pt__errf(err, errlen, PT_ERANGE, "%s: --%s: %s is out of range [%g, %g]", job,
                            p->name, text, p->min, p->max);
        v->d = x;
        return 0;
    }
    case PT_TYPE_CHOICE:
        if (!text || !choice_ok(p->choices, text))
            return pt__errf(err, errlen, PT_EPARSE, "%s: --%s: '%s' is not one of %s", job, p->name,
                            text ? text : "", p->choices);
        /* fall through */
    case PT_TYPE_STRING: {
        if (!text)
            return pt__errf(err, errlen, PT_EPARSE, "%s: --%s needs a value", job, p->name);
        char *copy = strdup(text);
        if (!copy)
            return PT_ENOMEM;
        free(v->s);
        v->s = copy;
        return 0;
    }
    case PT_TYPE_U64_LIST: {
        if (!text)
            return pt__errf(err, errlen, PT_EPARSE, "%s: %s needs a value", job, p->name);
        /* One value, or several separated by commas; all or nothing. */
        const char *s = text;
        size_t keep = v->list.n;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            uint64_t x;
            if ((rc = pt_parse_u64(s, len, &x, &why))) {
                v->list.n = keep;
                return pt__errf(err, errlen, rc,
                                "%s: %s: '%.*s': %s (expected an unsigned 64-bit integer)", job,
                                p->name, (int)(len > 64 ? 64 : len), s, why);
            }
            if (v->list.n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                uint64_t *nv = realloc(v->list.v, ncap * sizeof(*nv));
                if (!nv) {
                    v->list.n = keep;
                    return PT_ENOMEM;
                }
                v->list.v = nv;
                *cap = ncap;
            }
            v->list.v[v->list.n++] = x;
            if (!comma)
                break;
            s = comma + 1;
        }
        return 0;
    }
    }
    return PT_EINVAL;
}

static void free_values(const pt_job_desc *desc, pt__value *values)
{
    for (size_t i = 0; i < desc->nparams; i++) {
        pt_type t = desc->params[i].type;
        if (t == PT_TYPE_STRING || t == PT_TYPE_CHOICE)
            free(values[i].s);
        else if (t == PT_TYPE_U64_LIST)
            free(values[i].list.v);
    }
}

int pt_params_create(pt_params **out, const pt_job_desc *desc)
{
    if (!out || !desc)
        return PT_EINVAL;
    pt_params *p = calloc(1, sizeof(*p));
    if (!p)
        return PT_ENOMEM;
    p->desc = desc;
    size_t n = desc->nparams ? desc->nparams : 1;
    p->values = calloc(n, sizeof(*p->values));
    p->given = calloc(n, sizeof(*p->given));
    p->cap = calloc(n, sizeof(*p->cap));
    if (!p->values || !p->given || !p->cap)
        goto fail;
    for (size_t i = 0; i < desc->nparams; i++) {
        const pt_param *par = &desc->params[i];
        if (!par->def)
            continue;
        char err[256];
        int rc =
            parse_value(desc->name, par, par->def, &p->values[i], &p->cap[i], err, sizeof(err));
        /* A descriptor whose default does not parse is a programming error. */
        if (rc)
            goto fail;
    }
    *out = p;
    return 0;
fail:
    pt_params_destroy(p);
    return PT_ENOMEM;
}

void pt_params_destroy(pt_params *p)
{
    if (!p)
        return;
    if (p->values)
        free_values(p->desc, p->values);
    free(p->values);
    free(p->given);
    free(p->cap);
    free(p);
}

int pt_params_set(pt_params *p, const char *name, const char *value, char *err, size_t errlen)
{
    if (!p || !name)
        return PT_EINVAL;
    const pt_param *par = pt_param_find(p->desc, name);
    if (!par)
        return pt__errf(err, errlen, PT_EUNKNOWN, "%s: unknown parameter '%s'", p->desc->name,
                        name);
    size_t i = (size_t)(par - p->desc->params);
    /* The first explicit value of a list replaces its default. */
    if (par->type == PT_TYPE_U64_LIST && !p->given[i])
        p->values[i].list.n = 0;
    int rc = parse_value(p->desc->name, par, value, &p->values[i], &p->cap[i], err, errlen);
    if (rc == 0)
        p->given[i] = true;
    return rc;
}
