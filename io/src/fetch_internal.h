/* fetch_internal.h - pieces of the fetcher shared between io/src files and
 * the io tests (not installed). */
#ifndef PTOOL_FETCH_INTERNAL_H
#define PTOOL_FETCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Percent-decodes src[0..len) into dst (dstlen bytes, NUL-terminated,
 * truncated to fit); returns the decoded length. */
size_t pt__fetch_pct_decode(const char *src, size_t len, char *dst, size_t dstlen);

/* Backoff before retry number `retry` (1-based): base * 2^(retry-1) capped
 * at max_ms, then "equal jitter": a uniform value in [d/2, d]. rng is the
 * caller's xorshift state. In milliseconds. */
uint64_t pt__fetch_backoff_ms(unsigned retry, unsigned base_ms, unsigned max_ms, uint64_t *rng);

#endif /* PTOOL_FETCH_INTERNAL_H */
