/* Checkpoint container and the byte-level encoding its payloads use.
 *
 * A checkpoint file is a 24-byte header followed by a payload:
 *   magic "COLOCKPT" (8 bytes) | version u32 | payload length u64 | crc32 u32 | payload
 * All integers are little-endian; doubles are IEEE-754 binary64 stored as their u64 bit pattern.
 * The CRC (zlib crc32) covers the version, the length and the payload, so a flipped byte anywhere
 * but in the magic is caught by the CRC and a wrong magic by the magic itself.
 *
 * CkWriter appends to a growable buffer and remembers an allocation failure instead of failing
 * each call; CkReader reads from a bounded buffer and fails (-EBADMSG, with a message naming the
 * field and offset) on any read past the end, any count above its stated bound and any non-finite
 * double, so a decoder built on it cannot overrun or allocate without bound. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CHECKPOINT_MAGIC "COLOCKPT"
#define CHECKPOINT_MAGIC_SIZE 8
#define CHECKPOINT_HEADER_SIZE 24
/* Largest payload accepted when reading; a profile set of thousands of workloads is far below. */
#define CHECKPOINT_PAYLOAD_MAX ((uint64_t) 256 << 20)

typedef struct CkWriter {
        uint8_t *data;
        size_t size;
        size_t allocated;
        bool failed; /* an allocation failed: the content is incomplete */
} CkWriter;

void ck_writer_init(CkWriter *w);
void ck_writer_done(CkWriter *w);
void ck_put_u8(CkWriter *w, uint8_t v);
void ck_put_u32(CkWriter *w, uint32_t v);
void ck_put_u64(CkWriter *w, uint64_t v);
void ck_put_double(CkWriter *w, double v);
void ck_put_bytes(CkWriter *w, const void *p, size_t n);
void ck_put_string(CkWriter *w, const char *s); /* u32 length + bytes, no NUL */

typedef struct CkReader {
        const uint8_t *data;
        size_t size;
        size_t pos;
        ColoError *err;
} CkReader;

void ck_reader_init(CkReader *r, const void *data, size_t size, ColoError *err);
/* Each returns 0 or -EBADMSG (err names what and where); *ret is untouched on failure. */
int ck_get_u8(CkReader *r, const char *what, uint8_t *ret);
int ck_get_u32(CkReader *r, const char *what, uint32_t *ret);
int ck_get_u64(CkReader *r, const char *what, uint64_t *ret);
int ck_get_bool(CkReader *r, const char *what, bool *ret);
/* A finite double within [lo, hi]. */
int ck_get_double(CkReader *r, const char *what, double lo, double hi, double *ret);
/* A u32 count that must be <= max. */
int ck_get_count(CkReader *r, const char *what, uint32_t max, uint32_t *ret);
/* A string of at most max_len bytes without NUL bytes, copied NUL-terminated into a malloc'd *ret. */
int ck_get_string(CkReader *r, const char *what, size_t max_len, char **ret);
/* Fails unless every byte was consumed. */
int ck_expect_end(CkReader *r, const char *what);

/* Wraps a payload into a checkpoint image (header + payload). Returns 0 or -ENOMEM. */
int checkpoint_wrap(uint32_t version, const void *payload, size_t size, uint8_t **ret, size_t *ret_size);

/* Validates an image: magic, version in [1, max_version], exact length, CRC. On success points
 * *ret_payload into buf. Errors: -EBADMSG (wrong magic, truncated, trailing bytes, bad CRC),
 * -EPROTONOSUPPORT (version 0 or newer than max_version); err says which. */
int checkpoint_unwrap(const void *buf, size_t size, uint32_t max_version, uint32_t *ret_version,
                      const uint8_t **ret_payload, size_t *ret_payload_size, ColoError *err);

/* How long to wait before the next save: interval after the checkpoint's last save
 * (saved_realtime_usec, the file's own modification time; 0 when there is no file), so the
 * schedule survives restarts and an agent restarted more often than the interval still saves.
 * Never sooner than min_delay_usec (a period: a restart saves what it learnt, not only what it
 * loaded), never later than interval (a file dated in the future). Pure. */
uint64_t checkpoint_save_delay_usec(uint64_t saved_realtime_usec, uint64_t now_realtime_usec, uint64_t interval_usec,
                                    uint64_t min_delay_usec);
