/* memcached text protocol: request formatting and an incremental reply parser (memcache-text.h).
 * The parser never reads past len and never trusts a length from the server beyond
 * MC_VALUE_MAX, so a hostile or corrupt stream yields -EBADMSG, never an overread. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "memcache-text.h"

/* Longest reply line we accept, "VALUE <250-byte key> <flags> <bytes> <cas>" fits easily. */
#define MC_LINE_MAX 512

/* Finds "\r\n" in buf[0..len). Returns the line length without it, -EAGAIN if absent so far,
 * -EBADMSG if the line is already too long to be valid. */
static int find_line(const char *buf, size_t len, size_t *ret_line_len) {
        size_t limit = len < MC_LINE_MAX ? len : MC_LINE_MAX;
        for (size_t i = 0; i + 1 < limit; i++)
                if (buf[i] == '\r' && buf[i + 1] == '\n') {
                        *ret_line_len = i;
                        return 0;
                }
        return len < MC_LINE_MAX ? -EAGAIN : -EBADMSG;
}

static bool line_is(const char *line, size_t n, const char *word) {
        size_t w = strlen(word);
        return n == w && memcmp(line, word, w) == 0;
}

static bool line_starts(const char *line, size_t n, const char *prefix) {
        size_t p = strlen(prefix);
        return n >= p && memcmp(line, prefix, p) == 0;
}

/* Parses an unsigned decimal field of at most 20 digits at *pos, ending at a space or at n. */
static int parse_field_u64(const char *line, size_t n, size_t *pos, uint64_t *ret) {
        size_t i = *pos;
        uint64_t v = 0;
        size_t digits = 0;
        while (i < n && line[i] >= '0' && line[i] <= '9') {
                if (++digits > 19)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (line[i] - '0');
                i++;
        }
        if (digits == 0 || (i < n && line[i] != ' '))
                return -EBADMSG;
        *pos = i;
        *ret = v;
        return 0;
}

/* "VALUE <key> <flags> <bytes> [<cas>]": returns the data length. */
static int parse_value_header(const char *line, size_t n, uint64_t *ret_bytes) {
        size_t i = strlen("VALUE ");
        size_t key_start = i;
        while (i < n && line[i] != ' ') {
                if ((unsigned char) line[i] <= ' ' || line[i] == 0x7f)
                        return -EBADMSG;
                i++;
        }
        if (i == key_start || i - key_start > MC_KEY_MAX || i >= n)
                return -EBADMSG;
        uint64_t flags, bytes, cas;
        i++;
        if (parse_field_u64(line, n, &i, &flags) < 0 || i >= n)
                return -EBADMSG;
        i++;
        if (parse_field_u64(line, n, &i, &bytes) < 0)
                return -EBADMSG;
        if (i < n) {
                i++;
                if (parse_field_u64(line, n, &i, &cas) < 0 || i != n)
                        return -EBADMSG;
        }
        if (flags > UINT32_MAX || bytes > MC_VALUE_MAX)
                return -EBADMSG;
        *ret_bytes = bytes;
        return 0;
}

int mc_parse_reply(const char *buf, size_t len, McReplyKind *ret_kind) {
        size_t n;
        int r = find_line(buf, len, &n);
        if (r == -EAGAIN)
                return 0;
        if (r < 0)
                return r;
        size_t consumed = n + 2;

        if (line_is(buf, n, "END")) {
                *ret_kind = MC_REPLY_MISS;
                return (int) consumed;
        }
        if (line_is(buf, n, "STORED")) {
                *ret_kind = MC_REPLY_STORED;
                return (int) consumed;
        }
        if (line_is(buf, n, "NOT_STORED") || line_is(buf, n, "EXISTS") || line_is(buf, n, "NOT_FOUND")) {
                *ret_kind = MC_REPLY_NOT_STORED;
                return (int) consumed;
        }
        if (line_is(buf, n, "ERROR") || line_starts(buf, n, "CLIENT_ERROR ") ||
            line_starts(buf, n, "SERVER_ERROR ")) {
                *ret_kind = MC_REPLY_ERROR;
                return (int) consumed;
        }
        if (!line_starts(buf, n, "VALUE "))
                return -EBADMSG;

        /* A hit: one or more "VALUE" blocks (header, data, "\r\n"), one per key found, then "END". */
        size_t off = 0;
        for (unsigned values = 0;; values++) {
                if (values >= MC_KEYS_MAX)
                        return -EBADMSG;
                uint64_t bytes;
                if (parse_value_header(buf + off, n, &bytes) < 0)
                        return -EBADMSG;
                off += n + 2;
                if (len - off < (size_t) bytes + 2)
                        return 0;
                if (memcmp(buf + off + bytes, "\r\n", 2) != 0)
                        return -EBADMSG;
                off += (size_t) bytes + 2;
                r = find_line(buf + off, len - off, &n);
                if (r == -EAGAIN)
                        return 0;
                if (r < 0)
                        return r;
                if (line_is(buf + off, n, "END")) {
                        *ret_kind = MC_REPLY_HIT;
                        return (int) (off + n + 2);
                }
                if (!line_starts(buf + off, n, "VALUE "))
                        return -EBADMSG;
        }
}

static bool key_is_valid(const char *key) {
        size_t n = strlen(key);
        if (n == 0 || n > MC_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) key[i] <= ' ' || key[i] == 0x7f)
                        return false;
        return true;
}

int mc_format_get(char *buf, size_t size, const char *const *keys, size_t n_keys) {
        if (n_keys == 0 || n_keys > MC_KEYS_MAX)
                return -EINVAL;
        size_t need = 3 + 2;
        for (size_t i = 0; i < n_keys; i++) {
                if (!key_is_valid(keys[i]))
                        return -EINVAL;
                need += 1 + strlen(keys[i]);
        }
        if (need > size)
                return -ENOBUFS;
        size_t off = 3;
        memcpy(buf, "get", 3);
        for (size_t i = 0; i < n_keys; i++) {
                size_t k = strlen(keys[i]);
                buf[off++] = ' ';
                memcpy(buf + off, keys[i], k);
                off += k;
        }
        memcpy(buf + off, "\r\n", 2);
        return (int) need;
}

int mc_format_set(char *buf, size_t size, const char *key, const char *value, size_t value_len) {
        if (!key_is_valid(key) || value_len > MC_VALUE_MAX)
                return -EINVAL;
        int h = snprintf(buf, size, "set %s 0 0 %zu\r\n", key, value_len);
        if (h < 0 || (size_t) h >= size || size - (size_t) h < value_len + 2)
                return -ENOBUFS;
        memcpy(buf + h, value, value_len);
        memcpy(buf + h + value_len, "\r\n", 2);
        return h + (int) value_len + 2;
}
