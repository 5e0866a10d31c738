/* Shared by the config module's own files (and its unit test): the key table that ties every
 * YAML key to its field, its type and its range, and the scalar parsers behind it. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef enum ConfigType {
        CONFIG_TYPE_BOOL,       /* bool */
        CONFIG_TYPE_BOOL_OR_AUTO, /* FeatureMode: a boolean, or "auto" */
        CONFIG_TYPE_STRING,     /* char[size]: too long is an error, never truncated */
        CONFIG_TYPE_DURATION,   /* uint64_t microseconds */
        CONFIG_TYPE_BYTES,      /* uint64_t bytes */
        CONFIG_TYPE_CORES,      /* double: "0.5" or millicores "500m" */
        CONFIG_TYPE_FRACTION,   /* double: "0.05" or "5%" */
        CONFIG_TYPE_PERCENT,    /* double: "10" or "10%" */
        CONFIG_TYPE_INT32,      /* int32_t */
        CONFIG_TYPE_UINT64,     /* uint64_t */
        CONFIG_TYPE_PORT,       /* uint16_t */
        CONFIG_TYPE_IO_MAX,     /* PolicyIoRules: "DEVICE rbps= wbps= riops= wiops=; ..." (config-io.c) */
        CONFIG_TYPE_IO_LATENCY, /* PolicyIoRules: "DEVICE target=<duration>; ..." */
        _CONFIG_TYPE_MAX,
        _CONFIG_TYPE_INVALID = -EINVAL,
} ConfigType;

/* A string check beyond length and choices: returns true when s is acceptable. */
typedef bool (*ConfigStringCheck)(const char *s);

typedef struct ConfigKey {
        const char *section;
        const char *name;
        const char *dotted;             /* "section.name" */
        ConfigType type;
        size_t offset;                  /* into Config */
        size_t size;                    /* of the field; for strings the capacity with the NUL */
        double min, max;                /* numeric types, inclusive, in the field's unit */
        const char *const *choices;     /* strings: NULL-terminated allowed values, or NULL */
        ConfigStringCheck check;        /* strings: extra syntax check, or NULL */
        bool allow_empty;               /* strings: "" accepted (before choices and check) */
        const char *expected;           /* for messages: "expected <expected>, got ..." */
} ConfigKey;

/* Room reserved for per-key parse state; config-keys.c asserts the table fits. */
#define CONFIG_KEYS_MAX 128

extern const ConfigKey config_keys[];
extern const size_t config_keys_count;

/* The sections in file order, NULL-terminated. */
extern const char *const config_sections[];

/* Parses a boolean: true/false, yes/no, on/off (any case). */
int config_parse_bool(const char *s, bool *ret);
/* Parses a plain decimal "-1.25" (no exponent, no hex, no spaces) into a finite double. */
int config_parse_decimal(const char *s, double *ret);
/* Parses a decimal integer "-12" with no sign for unsigned, nothing else around it. */
int config_parse_int64(const char *s, int64_t *ret);
int config_parse_uint64(const char *s, uint64_t *ret);

/* Parses scalar text s into key k's field of c, checking syntax, range, length and choices.
 * On failure c is untouched and *ret_reason says why ("expected a duration ...", "longer than
 * 255 characters"); it points to reason_buf or to static text. */
int config_key_parse(const ConfigKey *k, const char *s, Config *c, char *reason_buf, size_t reason_size,
                     const char **ret_reason);

/* Quotes len bytes of s for a message: "..." with \" \\ and \xNN escapes, cut with "..." past
 * about 60 characters. Returns buf. */
const char *config_quote(const char *s, size_t len, char *buf, size_t size);

/* Shortest fixed-point text of v that reads back as exactly v. Returns buf. */
const char *config_format_double(double v, char *buf, size_t size);

/* "a duration", "a size", "a string", ...: what a key of type t holds, for messages. */
const char *config_type_noun(ConfigType t);

/* The key's value in c as a double, for cross-field comparisons of numeric keys. */
double config_key_number(const ConfigKey *k, const Config *c);

/* config-io.c: the per-device IO rule lists. Parse fills *ret only on success and leaves a
 * reason in buf otherwise; format writes the YAML double-quoted text that parses back. */
int config_io_rules_parse(const char *s, bool latency, PolicyIoRules *ret, char *buf, size_t size);
const char *config_io_rules_format(const PolicyIoRules *rules, char *buf, size_t size);
bool config_io_rules_equal(const PolicyIoRules *a, const PolicyIoRules *b);

/* The field's address inside c. */
static inline void *config_key_field(const ConfigKey *k, Config *c) {
        return (uint8_t *) c + k->offset;
}
static inline const void *config_key_field_const(const ConfigKey *k, const Config *c) {
        return (const uint8_t *) c + k->offset;
}
