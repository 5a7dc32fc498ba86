/* image.c - PNG files in and out (libpng's simplified API would hide the
 * channel layout and gamma handling we want explicit, so the classic API).
 * Reading narrows 16-bit samples to 8 bits, expands palettes and low bit
 * depths, and keeps gray, gray+alpha, RGB and RGBA as they are. Writing goes
 * through pt__outfile: never a partial file. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_SIDE 65536u /* larger images are refused before allocating */

typedef struct png_err {
    char msg[256];
} png_err;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    pt__strlcpy(e->msg, msg, sizeof(e->msg));
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

int pt__png_read(const char *path, pt__image *img, void *(*alloc)(void *ctx, size_t bytes),
                 void *ctx, char *err, size_t errlen)
{
    memset(img, 0, sizeof(*img));
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = -errno;
        return pt__errf(err, errlen, e, "%s: %s", path, pt_strerror(e));
    }
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof(sig), f);
    if (got != sizeof(sig) || png_sig_cmp(sig, 0, sizeof(sig)) != 0) {
        int dir = ferror(f) && errno == EISDIR;
        fclose(f);
        if (dir)
            return pt__errf(err, errlen, PT_EISDIR, "%s: is a directory", path);
        return pt__errf(err, errlen, PT_EPARSE, "%s: not a PNG file", path);
    }
    png_err pe = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &pe, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = NULL;
    int rc = 0;
    if (!png || !info) {
        rc = pt__errf(err, errlen, PT_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = pt__errf(err, errlen, PT_EPARSE, "%s: bad PNG data: %s", path, pe.msg);
        goto out;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, sizeof(sig));
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE) {
        rc = pt__errf(err, errlen, PT_ERANGE, "%s: %ux%u: image sides must be 1..%u", path,
                      (unsigned)w, (unsigned)h, MAX_SIDE);
        goto out;
    }
    if (depth == 16)
        png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (png_set_interlace_handling(png) < 0)
        goto out;
    png_read_update_info(png, info);
    img->width = w;
    img->height = h;
    img->channels = png_get_channels(png, info);
    size_t row = (size_t)w * img->channels;
    if (png_get_rowbytes(png, info) != row) {
        rc = pt__errf(err, errlen, PT_EPARSE, "%s: unsupported PNG layout", path);
        goto out;
    }
    img->pixels = alloc(ctx, row * h);
    rows = malloc(h * sizeof(*rows));
    if (!img->pixels || !rows) {
        rc = pt__errf(err, errlen, PT_ENOMEM, "%s: out of memory for a %ux%u image", path,
                      (unsigned)w, (unsigned)h);
        goto out;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = img->pixels + y * row;
    png_read_image(png, rows);
    png_read_end(png, NULL);
out:
    free(rows);
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    fclose(f);
    return rc;
}

int pt__png_write(const char *path, const pt__image *img, char *err, size_t errlen)
{
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    if (img->channels < 1 || img->channels > 4 || !img->width || !img->height)
        return pt__errf(err, errlen, PT_EINVAL, "%s: bad image", path);
    pt__outfile out;
    int rc = pt__outfile_open(&out, path, err, errlen);
    if (rc)
        return rc;
    png_err pe = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        rc = pt__errf(err, errlen, PT_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (setjmp(png_jmpbuf(png))) {
        rc = pt__errf(err, errlen, PT_EIO, "%s: %s", path, pe.msg);
        goto fail;
    }
    png_init_io(png, out.f);
    png_set_compression_level(png, 3); /* fast; the images are ours to re-make */
    png_set_IHDR(png, info, img->width, img->height, 8, types[img->channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row = (size_t)img->width * img->channels;
    for (uint32_t y = 0; y < img->height; y++)
        png_write_row(png, img->pixels + y * row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return pt__outfile_commit(&out, err, errlen);
fail:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    pt__outfile_abort(&out);
    return rc;
}
