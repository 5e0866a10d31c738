/* Line source for the trace readers: zlib's gzgets() reads gzip and plain files alike (gzip's
 * "transparent" mode), through a large buffer so a 5 MB trace costs a few hundred reads; a
 * memory variant serves tests and fuzzing. Lines go into one fixed buffer: no allocation per row. */
#include <inttypes.h>
#include <string.h>

#include "trace/trace-internal.h"

#define GZ_BUFFER_SIZE (256u * 1024u)

int line_source_open_file(LineSource *s, const char *path, ColoError *err) {
        *s = (LineSource) {};
        errno = 0;
        s->gz = gzopen(path, "rb");
        if (!s->gz)
                return colo_error_set(err, errno ? errno : ENOMEM, "open '%s'", path);
        (void) gzbuffer(s->gz, GZ_BUFFER_SIZE);
        return 0;
}

void line_source_open_buffer(LineSource *s, const void *data, size_t size) {
        *s = (LineSource) { .mem = data, .mem_size = size };
}

void line_source_close(LineSource *s) {
        if (s->gz)
                (void) gzclose(s->gz);
        s->gz = NULL;
}

/* Reads up to sizeof(buf)-1 bytes of the next line into buf, stopping after '\n'.
 * Returns false at the end with nothing read, or with *failed set on a zlib error. */
static bool read_chunk(LineSource *s, bool *failed) {
        *failed = false;
        if (s->gz) {
                if (gzgets(s->gz, s->buf, sizeof(s->buf))) {
                        s->chunk_len = strlen(s->buf);
                        return true;
                }
                int errnum = Z_OK;
                (void) gzerror(s->gz, &errnum);
                *failed = errnum != Z_OK && errnum != Z_STREAM_END;
                return false;
        }
        if (s->mem_pos >= s->mem_size)
                return false;
        size_t avail = s->mem_size - s->mem_pos, n = MIN(avail, sizeof(s->buf) - 1);
        const char *nl = memchr(s->mem + s->mem_pos, '\n', n);
        if (nl)
                n = (size_t) (nl - (s->mem + s->mem_pos)) + 1;
        memcpy(s->buf, s->mem + s->mem_pos, n);
        s->buf[n] = '\0';
        s->chunk_len = n;
        s->mem_pos += n;
        return true;
}

static int read_failed(LineSource *s, const char *name, ColoError *err) {
        int errnum = Z_OK;
        const char *msg = gzerror(s->gz, &errnum);
        if (errnum == Z_ERRNO)
                return colo_error_set(err, errno ? errno : EIO, "'%s': line %" PRIu64 ": read", name, s->line_no + 1);
        return colo_error_setf_plain(err, EIO, "'%s': line %" PRIu64 ": %s", name, s->line_no + 1,
                                     msg && *msg ? msg : "decompression failed");
}

int line_source_next(LineSource *s, const char *name, char **ret_line, size_t *ret_len, bool *ret_too_long,
                     ColoError *err) {
        bool failed;
        if (!read_chunk(s, &failed))
                return failed ? read_failed(s, name, err) : 0;
        s->line_no++;

        size_t len = s->chunk_len;
        bool too_long = false;
        if (len > 0 && s->buf[len - 1] == '\n')
                len--;
        else if (len >= sizeof(s->buf) - 1) {
                /* No newline in a full buffer: skip the rest of the line. */
                too_long = true;
                for (;;) {
                        if (!read_chunk(s, &failed)) {
                                if (failed)
                                        return read_failed(s, name, err);
                                break;
                        }
                        size_t n = s->chunk_len;
                        if (n > 0 && s->buf[n - 1] == '\n')
                                break;
                }
                len = 0;
        }
        if (len > 0 && s->buf[len - 1] == '\r')
                len--;
        s->buf[len] = '\0';
        *ret_line = s->buf;
        *ret_len = len;
        *ret_too_long = too_long;
        return 1;
}

int line_source_peek(LineSource *s) {
        if (s->gz) {
                int c = gzgetc(s->gz);
                if (c < 0)
                        return -1;
                return gzungetc(c, s->gz) < 0 ? -1 : c;
        }
        return s->mem_pos < s->mem_size ? (unsigned char) s->mem[s->mem_pos] : -1;
}

int line_source_read_rest(LineSource *s, const char *name, size_t max, const char **ret, size_t *ret_size,
                          char **ret_owned, ColoError *err) {
        *ret_owned = NULL;
        if (!s->gz) {
                size_t n = s->mem_size - s->mem_pos;
                if (n > max)
                        return colo_error_setf_plain(err, EFBIG, "'%s': larger than %zu bytes", name, max);
                *ret = s->mem + s->mem_pos;
                *ret_size = n;
                s->mem_pos = s->mem_size;
                return 0;
        }
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (cap - len < GZ_BUFFER_SIZE + 1) {
                        cap = MAX(cap * 2, (size_t) GZ_BUFFER_SIZE * 4);
                        char *b = realloc(buf, cap);
                        if (!b) {
                                free(buf);
                                return colo_error_set(err, ENOMEM, "'%s'", name);
                        }
                        buf = b;
                }
                int n = gzread(s->gz, buf + len, GZ_BUFFER_SIZE);
                if (n < 0) {
                        free(buf);
                        return read_failed(s, name, err);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max) {
                        free(buf);
                        return colo_error_setf_plain(err, EFBIG, "'%s': larger than %zu bytes", name, max);
                }
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_size = len;
        *ret_owned = buf;
        return 0;
}
