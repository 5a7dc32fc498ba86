/* test_files.c - output files that appear only when complete, and PNG in/out. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char dir[64];

static void mk(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ptool-files-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(files, .init = mk, .fini = rm);

/* Names in dir, sorted, joined by spaces. */
static void listing(char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char names[16][256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], len - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, " ", len - strlen(out) - 1);
    }
}

Test(files, commit_puts_the_file_in_place)
{
    char path[128], ls[512], err[256];
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    pt__outfile o;
    cr_assert_eq(pt__outfile_open(&o, path, err, sizeof(err)), 0, "%s", err);
    fputs("hello", o.f);
    listing(ls, sizeof(ls));
    cr_assert_str_eq(ls, "", "nothing visible before commit: %s", ls);
    cr_assert_eq(pt__outfile_commit(&o, err, sizeof(err)), 0, "%s", err);
    listing(ls, sizeof(ls));
    cr_assert_str_eq(ls, "out.txt");
    FILE *f = fopen(path, "r");
    char buf[16] = "";
    cr_assert_not_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    cr_assert_str_eq(buf, "hello");
}

Test(files, abort_and_replace)
{
    char path[128], ls[512], err[256];
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    pt__outfile o;
    cr_assert_eq(pt__outfile_open(&o, path, err, sizeof(err)), 0);
    fputs("partial", o.f);
    pt__outfile_abort(&o);
    listing(ls, sizeof(ls));
    cr_assert_str_eq(ls, "out.txt", "abort leaves only the old file: %s", ls);
    f = fopen(path, "r");
    char buf[16] = "";
    cr_assert_not_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    cr_assert_str_eq(buf, "old");
    cr_assert_eq(pt__outfile_open(&o, path, err, sizeof(err)), 0);
    fputs("new", o.f);
    cr_assert_eq(pt__outfile_commit(&o, err, sizeof(err)), 0);
    f = fopen(path, "r");
    cr_assert_not_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    cr_assert_str_eq(buf, "new");
}

Test(files, bad_paths_name_the_path)
{
    char err[256];
    pt__outfile o;
    cr_assert_eq(pt__outfile_open(&o, "/nonexistent-dir/out.png", err, sizeof(err)), PT_ENOENT);
    cr_assert(strstr(err, "/nonexistent-dir/out.png"), "%s", err);
    cr_assert_eq(pt__outfile_open(&o, dir, err, sizeof(err)), PT_EISDIR);
    cr_assert_eq(pt__outfile_open(&o, "", err, sizeof(err)), PT_EINVAL);
}

static void *heap(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

Test(files, png_roundtrip_every_channel_count)
{
    for (uint32_t ch = 1; ch <= 4; ch++) {
        pt__image img = {.width = 37, .height = 11, .channels = ch};
        img.pixels = malloc(37 * 11 * ch);
        for (size_t i = 0; i < 37u * 11 * ch; i++)
            img.pixels[i] = (uint8_t)(i * 7 + ch);
        char path[128], err[256];
        snprintf(path, sizeof(path), "%s/img%u.png", dir, ch);
        cr_assert_eq(pt__png_write(path, &img, err, sizeof(err)), 0, "%s", err);
        pt__image back;
        cr_assert_eq(pt__png_read(path, &back, heap, NULL, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(back.width, 37);
        cr_assert_eq(back.height, 11);
        cr_assert_eq(back.channels, ch);
        cr_assert_eq(memcmp(back.pixels, img.pixels, 37u * 11 * ch), 0, "%u channels", ch);
        free(back.pixels);
        free(img.pixels);
    }
}

Test(files, png_read_errors)
{
    char path[128], err[256];
    pt__image img;
    snprintf(path, sizeof(path), "%s/not.png", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a png file at all", f);
    fclose(f);
    cr_assert_eq(pt__png_read(path, &img, heap, NULL, err, sizeof(err)), PT_EPARSE);
    cr_assert(strstr(err, "not a PNG"), "%s", err);
    cr_assert_eq(pt__png_read("/nonexistent.png", &img, heap, NULL, err, sizeof(err)), PT_ENOENT);
    /* a truncated file: the header of a real PNG only */
    pt__image small = {.width = 64, .height = 64, .channels = 3};
    small.pixels = calloc(64 * 64 * 3, 1);
    snprintf(path, sizeof(path), "%s/cut.png", dir);
    cr_assert_eq(pt__png_write(path, &small, err, sizeof(err)), 0);
    free(small.pixels);
    cr_assert_eq(truncate(path, 60), 0);
    int rc = pt__png_read(path, &img, heap, NULL, err, sizeof(err));
    cr_assert_eq(rc, PT_EPARSE, "%d %s", rc, err);
    free(img.pixels);
}
