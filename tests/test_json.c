/* test_json.c - the streaming JSON writer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ptool/ptool.h"

typedef struct sink {
    char buf[65536];
    size_t len;
    int fail_after; /* calls before failing; <0 never */
} sink;

static int sink_write(void *ctx, const char *b, size_t n)
{
    sink *s = ctx;
    if (s->fail_after == 0)
        return -1;
    if (s->fail_after > 0)
        s->fail_after--;
    cr_assert_lt(s->len + n, sizeof(s->buf));
    memcpy(s->buf + s->len, b, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

Test(json, nesting_commas_and_scalars)
{
    sink s = {.fail_after = -1};
    pt_json *j;
    cr_assert_eq(pt_json_create(&j, sink_write, &s, 0), 0);
    pt_json_object_begin(j);
    pt_json_key(j, "a");
    pt_json_int(j, -5);
    pt_json_key(j, "b");
    pt_json_array_begin(j);
    pt_json_uint(j, UINT64_MAX);
    pt_json_bool(j, true);
    pt_json_null(j);
    pt_json_double(j, 0.1);
    pt_json_double(j, NAN);
    pt_json_array_end(j);
    pt_json_key(j, "c");
    pt_json_object_begin(j);
    pt_json_object_end(j);
    pt_json_key(j, "d");
    pt_json_str(j, NULL);
    pt_json_object_end(j);
    cr_assert_eq(pt_json_finish(j), 0);
    pt_json_destroy(j);
    cr_assert_str_eq(
        s.buf, "{\"a\":-5,\"b\":[18446744073709551615,true,null,0.1,null],\"c\":{},\"d\":null}\n");
}

Test(json, escapes_strings)
{
    sink s = {.fail_after = -1};
    pt_json *j;
    pt_json_create(&j, sink_write, &s, 0);
    pt_json_array_begin(j);
    pt_json_str(j, "q\"b\\n\n\t\x01");
    pt_json_str(j, "caf\xc3\xa9"); /* valid UTF-8 passes through */
    pt_json_strn(j,
                 "x\xff"
                 "y",
                 3); /* invalid byte -> U+FFFD */
    pt_json_array_end(j);
    pt_json_finish(j);
    pt_json_destroy(j);
    cr_assert_str_eq(s.buf, "[\"q\\\"b\\\\n\\n\\t\\u0001\",\"caf\xc3\xa9\",\"x\\ufffdy\"]\n");
}

Test(json, misuse_is_an_error)
{
    sink s = {.fail_after = -1};
    pt_json *j;
    pt_json_create(&j, sink_write, &s, 0);
    pt_json_object_begin(j);
    cr_assert_eq(pt_json_int(j, 1), PT_EINVAL); /* value without a key */
    cr_assert_eq(pt_json_error(j), PT_EINVAL);  /* sticky */
    pt_json_destroy(j);

    pt_json_create(&j, sink_write, &s, 0);
    pt_json_array_begin(j);
    cr_assert_eq(pt_json_key(j, "k"), PT_EINVAL); /* key in an array */
    pt_json_destroy(j);

    pt_json_create(&j, sink_write, &s, 0);
    pt_json_array_begin(j);
    cr_assert_eq(pt_json_finish(j), PT_EINVAL); /* unclosed */
    pt_json_destroy(j);

    cr_assert_eq(pt_json_create(&j, NULL, &s, 0), PT_EINVAL);
}

Test(json, write_error_is_reported)
{
    sink s = {.fail_after = 0};
    pt_json *j;
    pt_json_create(&j, sink_write, &s, 0);
    pt_json_array_begin(j);
    for (int i = 0; i < 2000; i++)
        pt_json_str(j, "some text to fill the buffer");
    pt_json_array_end(j);
    cr_assert_eq(pt_json_finish(j), PT_EIO);
    pt_json_destroy(j);
}

Test(json, pretty_output)
{
    sink s = {.fail_after = -1};
    pt_json *j;
    pt_json_create(&j, sink_write, &s, PT_JSON_PRETTY);
    pt_json_object_begin(j);
    pt_json_key(j, "a");
    pt_json_array_begin(j);
    pt_json_int(j, 1);
    pt_json_array_end(j);
    pt_json_object_end(j);
    pt_json_finish(j);
    pt_json_destroy(j);
    cr_assert_str_eq(s.buf, "{\n  \"a\": [\n    1\n  ]\n}\n");
}
