/* Checkpoint container (magic, version, length, CRC32) and the bounded little-endian encoding its
 * payloads use. Readers never trust a count or length from the buffer: every read is checked
 * against the bytes left and every count against a caller-given bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "predict/checkpoint.h"

void ck_writer_init(CkWriter *w) {
        *w = (CkWriter) {};
}

void ck_writer_done(CkWriter *w) {
        free(w->data);
        *w = (CkWriter) {};
}

void ck_put_bytes(CkWriter *w, const void *p, size_t n) {
        if (w->failed || n == 0)
                return;
        if (w->size + n > w->allocated) {
                size_t a = MAX(w->allocated * 2, (size_t) 256);
                while (a < w->size + n)
                        a *= 2;
                uint8_t *d = realloc(w->data, a);
                if (!d) {
                        w->failed = true;
                        return;
                }
                w->data = d;
                w->allocated = a;
        }
        memcpy(w->data + w->size, p, n);
        w->size += n;
}

static void put_le(CkWriter *w, uint64_t v, unsigned bytes) {
        uint8_t b[8];
        for (unsigned i = 0; i < bytes; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        ck_put_bytes(w, b, bytes);
}

void ck_put_u8(CkWriter *w, uint8_t v) {
        put_le(w, v, 1);
}

void ck_put_u32(CkWriter *w, uint32_t v) {
        put_le(w, v, 4);
}

void ck_put_u64(CkWriter *w, uint64_t v) {
        put_le(w, v, 8);
}

void ck_put_double(CkWriter *w, double v) {
        uint64_t u = 0;
        memcpy(&u, &v, sizeof(u));
        put_le(w, u, 8);
}

void ck_put_string(CkWriter *w, const char *s) {
        size_t n = strlen(s);
        ck_put_u32(w, (uint32_t) n);
        ck_put_bytes(w, s, n);
}

void ck_reader_init(CkReader *r, const void *data, size_t size, ColoError *err) {
        *r = (CkReader) { .data = data, .size = size, .err = err };
}

static int get_le(CkReader *r, const char *what, unsigned bytes, uint64_t *ret) {
        if (r->size - r->pos < bytes)
                return colo_error_setf_plain(r->err, EBADMSG, "truncated at %s (offset %zu)", what, r->pos);
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; i++)
                v |= (uint64_t) r->data[r->pos + i] << (8 * i);
        r->pos += bytes;
        *ret = v;
        return 0;
}

int ck_get_u8(CkReader *r, const char *what, uint8_t *ret) {
        uint64_t v = 0;
        int k = get_le(r, what, 1, &v);
        if (k < 0)
                return k;
        *ret = (uint8_t) v;
        return 0;
}

int ck_get_u32(CkReader *r, const char *what, uint32_t *ret) {
        uint64_t v = 0;
        int k = get_le(r, what, 4, &v);
        if (k < 0)
                return k;
        *ret = (uint32_t) v;
        return 0;
}

int ck_get_u64(CkReader *r, const char *what, uint64_t *ret) {
        return get_le(r, what, 8, ret);
}

int ck_get_bool(CkReader *r, const char *what, bool *ret) {
        size_t at = r->pos;
        uint8_t v;
        int k = ck_get_u8(r, what, &v);
        if (k < 0)
                return k;
        if (v > 1)
                return colo_error_setf_plain(r->err, EBADMSG, "invalid boolean %u at %s (offset %zu)", v, what, at);
        *ret = v;
        return 0;
}

int ck_get_double(CkReader *r, const char *what, double lo, double hi, double *ret) {
        size_t at = r->pos;
        uint64_t u = 0;
        int k = get_le(r, what, 8, &u);
        if (k < 0)
                return k;
        double v;
        memcpy(&v, &u, sizeof(v));
        if (!isfinite(v) || v < lo || v > hi)
                return colo_error_setf_plain(r->err, EBADMSG, "value out of range at %s (offset %zu)", what, at);
        *ret = v;
        return 0;
}

int ck_get_count(CkReader *r, const char *what, uint32_t max, uint32_t *ret) {
        size_t at = r->pos;
        uint32_t v;
        int k = ck_get_u32(r, what, &v);
        if (k < 0)
                return k;
        if (v > max)
                return colo_error_setf_plain(r->err, EBADMSG, "%s %u exceeds %u (offset %zu)", what, v, max, at);
        *ret = v;
        return 0;
}

int ck_get_string(CkReader *r, const char *what, size_t max_len, char **ret) {
        size_t at = r->pos;
        uint32_t n;
        int k = ck_get_u32(r, what, &n);
        if (k < 0)
                return k;
        if (n > max_len)
                return colo_error_setf_plain(r->err, EBADMSG, "%s length %u exceeds %zu (offset %zu)", what, n, max_len, at);
        if (r->size - r->pos < n)
                return colo_error_setf_plain(r->err, EBADMSG, "truncated at %s (offset %zu)", what, r->pos);
        if (memchr(r->data + r->pos, '\0', n))
                return colo_error_setf_plain(r->err, EBADMSG, "NUL byte in %s (offset %zu)", what, r->pos);
        char *s = malloc((size_t) n + 1);
        if (!s)
                return colo_error_set(r->err, ENOMEM, "allocate %s", what);
        memcpy(s, r->data + r->pos, n);
        s[n] = '\0';
        r->pos += n;
        *ret = s;
        return 0;
}

int ck_expect_end(CkReader *r, const char *what) {
        if (r->pos != r->size)
                return colo_error_setf_plain(r->err, EBADMSG, "%zu unexpected trailing bytes after %s",
                                             r->size - r->pos, what);
        return 0;
}

static uint32_t image_crc(const uint8_t *header, const uint8_t *payload, size_t size) {
        /* version and length (header bytes 8..19), then the payload; zlib takes uInt lengths */
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, header + CHECKPOINT_MAGIC_SIZE, 12);
        while (size > 0) {
                uInt chunk = (uInt) MIN(size, (size_t) (1u << 30));
                crc = crc32(crc, payload, chunk);
                payload += chunk;
                size -= chunk;
        }
        return (uint32_t) crc;
}

int checkpoint_wrap(uint32_t version, const void *payload, size_t size, uint8_t **ret, size_t *ret_size) {
        CkWriter w;
        ck_writer_init(&w);
        ck_put_bytes(&w, CHECKPOINT_MAGIC, CHECKPOINT_MAGIC_SIZE);
        ck_put_u32(&w, version);
        ck_put_u64(&w, size);
        ck_put_u32(&w, 0); /* CRC, patched below */
        ck_put_bytes(&w, payload, size);
        if (w.failed) {
                ck_writer_done(&w);
                return -ENOMEM;
        }
        uint32_t crc = image_crc(w.data, w.data + CHECKPOINT_HEADER_SIZE, size);
        for (unsigned i = 0; i < 4; i++)
                w.data[20 + i] = (uint8_t) (crc >> (8 * i));
        *ret = w.data;
        *ret_size = w.size;
        return 0;
}

int checkpoint_unwrap(const void *buf, size_t size, uint32_t max_version, uint32_t *ret_version,
                      const uint8_t **ret_payload, size_t *ret_payload_size, ColoError *err) {
        const uint8_t *b = buf;
        if (size < CHECKPOINT_MAGIC_SIZE || memcmp(b, CHECKPOINT_MAGIC, CHECKPOINT_MAGIC_SIZE) != 0)
                return colo_error_setf_plain(err, EBADMSG, "not a colo checkpoint (wrong magic)");
        if (size < CHECKPOINT_HEADER_SIZE)
                return colo_error_setf_plain(err, EBADMSG, "truncated header (%zu of %d bytes)", size,
                                             CHECKPOINT_HEADER_SIZE);
        CkReader r;
        ck_reader_init(&r, b, CHECKPOINT_HEADER_SIZE, err);
        r.pos = CHECKPOINT_MAGIC_SIZE;
        uint32_t version, crc;
        uint64_t length;
        if (ck_get_u32(&r, "version", &version) < 0 || ck_get_u64(&r, "length", &length) < 0 ||
            ck_get_u32(&r, "crc", &crc) < 0)
                return -EBADMSG;
        if (version == 0 || version > max_version)
                return colo_error_setf_plain(err, EPROTONOSUPPORT,
                                             "unsupported checkpoint version %u (this colo reads 1 to %u)",
                                             version, max_version);
        if (length > CHECKPOINT_PAYLOAD_MAX)
                return colo_error_setf_plain(err, EBADMSG, "payload length %llu exceeds the limit",
                                             (unsigned long long) length);
        size_t have = size - CHECKPOINT_HEADER_SIZE;
        if (have < length)
                return colo_error_setf_plain(err, EBADMSG, "truncated (payload %zu of %llu bytes)", have,
                                             (unsigned long long) length);
        if (have > length)
                return colo_error_setf_plain(err, EBADMSG, "%zu trailing bytes after the payload",
                                             have - (size_t) length);
        if (image_crc(b, b + CHECKPOINT_HEADER_SIZE, length) != crc)
                return colo_error_setf_plain(err, EBADMSG, "checksum mismatch");
        *ret_version = version;
        *ret_payload = b + CHECKPOINT_HEADER_SIZE;
        *ret_payload_size = length;
        return 0;
}

uint64_t checkpoint_save_delay_usec(uint64_t saved_realtime_usec, uint64_t now_realtime_usec, uint64_t interval_usec,
                                    uint64_t min_delay_usec) {
        min_delay_usec = MIN(min_delay_usec, interval_usec);
        if (saved_realtime_usec == 0)
                return min_delay_usec;
        if (saved_realtime_usec > now_realtime_usec)
                return interval_usec;
        uint64_t since = now_realtime_usec - saved_realtime_usec;
        return since >= interval_usec ? min_delay_usec : MAX(interval_usec - since, min_delay_usec);
}
