/* The slice of memcached's text protocol the load generator speaks: "get <key>...", "set <key>
 * 0 0 <n>", and an incremental parser for their replies. Replies come from a server,
 * so the parser treats them as untrusted input: bounded lengths, no allocation. Pure: no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum McReplyKind {
        MC_REPLY_HIT,           /* VALUE ... END: a get that found at least one of its keys */
        MC_REPLY_MISS,          /* END alone: a get that found none */
        MC_REPLY_STORED,        /* STORED */
        MC_REPLY_NOT_STORED,    /* NOT_STORED, EXISTS, NOT_FOUND */
        MC_REPLY_ERROR,         /* ERROR, CLIENT_ERROR ..., SERVER_ERROR ... */
        _MC_REPLY_KIND_MAX,
} McReplyKind;

#define MC_KEY_MAX 250          /* memcached's own key length limit */
#define MC_VALUE_MAX (1U << 20) /* memcached's default item size limit */
#define MC_KEYS_MAX 100         /* keys in one get (a bound on the reply we accept) */

/* Parses the first complete reply in buf[0..len). Returns the number of bytes it spans (> 0) and
 * sets *ret_kind, 0 if buf holds only part of a reply, -EBADMSG if buf cannot start a valid reply
 * (the connection is then unusable: replies can no longer be matched to requests). */
int mc_parse_reply(const char *buf, size_t len, McReplyKind *ret_kind);

/* Formats requests into buf; return the length written, or -ENOBUFS if size is too small or
 * -EINVAL for a key longer than MC_KEY_MAX or containing spaces or control characters, or for
 * a get of 0 or more than MC_KEYS_MAX keys. */
int mc_format_get(char *buf, size_t size, const char *const *keys, size_t n_keys);
int mc_format_set(char *buf, size_t size, const char *key, const char *value, size_t value_len);
