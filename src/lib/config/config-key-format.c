/* Printing and comparing the keys of the table: a key's value as the YAML text that reads back
 * as the same value, equality per key for the reload diff, and the whole file. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-internal.h"
#include "util/macro.h"

/* YAML double-quoted text of s: \" \\ and \xNN escapes. With max_chars, cut with "..." past it;
 * always cut (never overflowing) when buf is too small. */
static const char *quote(const char *s, size_t len, size_t max_chars, char *buf, size_t size) {
        size_t o = 0;
        if (size < 8) {
                if (size)
                        buf[0] = '\0';
                return buf;
        }
        buf[o++] = '"';
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) s[i];
                char piece[8];
                if (ch == '"' || ch == '\\')
                        snprintf(piece, sizeof(piece), "\\%c", ch);
                else if (ch < 0x20 || ch == 0x7f)
                        snprintf(piece, sizeof(piece), "\\x%02x", ch);
                else
                        snprintf(piece, sizeof(piece), "%c", ch);
                size_t n = strlen(piece);
                if ((max_chars && i >= max_chars) || o + n + 5 > size) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                memcpy(buf + o, piece, n);
                o += n;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}

const char *config_quote(const char *s, size_t len, char *buf, size_t size) {
        return quote(s, len, 60, buf, size);
}
/* Shortest fixed-point text that reads back as exactly v (no exponent: the parser takes none).
 * 17 significant digits always read back, so the loop ends by then; tiny values need their
 * leading zeros on top (at most ~340 characters for the smallest subnormal). */
const char *config_format_double(double v, char *buf, size_t size) {
        int leading_zeros = v != 0 && fabs(v) < 1 ? (int) -floor(log10(fabs(v))) : 0;
        for (int prec = 0; prec <= 17 + leading_zeros; prec++) {
                snprintf(buf, size, "%.*f", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return buf;
}

const char *config_format_key(const Config *c, size_t i, char *buf, size_t size) {
        if (!buf || size == 0)
                return buf;
        buf[0] = '\0';
        if (i >= config_keys_count)
                return buf;
        const ConfigKey *k = &config_keys[i];
        const void *field = config_key_field_const(k, c);
        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                snprintf(buf, size, "%s", *(const bool *) field ? "true" : "false");
                break;
        case CONFIG_TYPE_BOOL_OR_AUTO: {
                FeatureMode m = *(const FeatureMode *) field;
                snprintf(buf, size, "%s", m == FEATURE_AUTO ? "auto" : m == FEATURE_ON ? "true" : "false");
                break;
        }
        case CONFIG_TYPE_STRING:
                quote(field, strnlen(field, k->size), 0, buf, size);
                break;
        case CONFIG_TYPE_IO_MAX:
        case CONFIG_TYPE_IO_LATENCY:
                config_io_rules_format(field, buf, size);
                break;
        case CONFIG_TYPE_DURATION:
                config_format_duration(*(const uint64_t *) field, buf, size);
                break;
        case CONFIG_TYPE_BYTES:
                config_format_bytes(*(const uint64_t *) field, buf, size);
                break;
        case CONFIG_TYPE_INT32:
                snprintf(buf, size, "%" PRId32, *(const int32_t *) field);
                break;
        case CONFIG_TYPE_UINT64:
                snprintf(buf, size, "%" PRIu64, *(const uint64_t *) field);
                break;
        case CONFIG_TYPE_PORT:
                snprintf(buf, size, "%u", (unsigned) *(const uint16_t *) field);
                break;
        default:
                config_format_double(*(const double *) field, buf, size);
                break;
        }
        return buf;
}

bool config_key_equal(const Config *a, const Config *b, size_t i) {
        if (i >= config_keys_count)
                return false;
        const ConfigKey *k = &config_keys[i];
        const void *fa = config_key_field_const(k, a), *fb = config_key_field_const(k, b);
        switch (k->type) {
        case CONFIG_TYPE_STRING:
                return strncmp(fa, fb, k->size) == 0;
        case CONFIG_TYPE_IO_MAX:
        case CONFIG_TYPE_IO_LATENCY:
                return config_io_rules_equal(fa, fb);
        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                return *(const double *) fa == *(const double *) fb;
        default:
                return memcmp(fa, fb, k->size) == 0;
        }
}

bool config_equal(const Config *a, const Config *b) {
        for (size_t i = 0; i < config_keys_count; i++)
                if (!config_key_equal(a, b, i))
                        return false;
        return true;
}

int config_write_yaml(const Config *c, FILE *f) {
        const char *section = NULL;
        for (size_t i = 0; i < config_keys_count; i++) {
                char value[CONFIG_VALUE_MAX];
                if (!section || strcmp(section, config_keys[i].section) != 0) {
                        section = config_keys[i].section;
                        if (fprintf(f, "%s%s:\n", i ? "\n" : "", section) < 0)
                                return -EIO;
                }
                if (fprintf(f, "  %s: %s\n", config_keys[i].name, config_format_key(c, i, value, sizeof(value))) < 0)
                        return -EIO;
        }
        return fflush(f) == 0 ? 0 : -EIO;
}
