/* Parsing one scalar of the key table: the text of a YAML value into the key's field, checked
 * for syntax, range, length and choices, with a reason that names what was expected. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-internal.h"
#include "util/macro.h"

typedef struct TypeInfo {
        const char *noun;       /* "a duration" */
        const char *examples;   /* "250ms, 1s, 5m" */
} TypeInfo;

static const TypeInfo type_info[_CONFIG_TYPE_MAX] = {
        [CONFIG_TYPE_BOOL] = { "a boolean", "true/false, yes/no, on/off" },
        [CONFIG_TYPE_BOOL_OR_AUTO] = { "a boolean or auto", "true/false, yes/no, on/off, auto" },
        [CONFIG_TYPE_STRING] = { "a string", NULL },
        [CONFIG_TYPE_DURATION] = { "a duration", "e.g. 250ms, 1s, 5m, 12h, 2d" },
        [CONFIG_TYPE_BYTES] = { "a size", "e.g. 512Mi, 2Gi, 1G or a number of bytes" },
        [CONFIG_TYPE_CORES] = { "a number of cores", "e.g. 0.5 or 500m" },
        [CONFIG_TYPE_FRACTION] = { "a fraction", "e.g. 0.05 or 5%" },
        [CONFIG_TYPE_PERCENT] = { "a percentage", "e.g. 10 or 10%" },
        [CONFIG_TYPE_INT32] = { "an integer", NULL },
        [CONFIG_TYPE_UINT64] = { "an integer", NULL },
        [CONFIG_TYPE_PORT] = { "a port number", NULL },
        [CONFIG_TYPE_IO_MAX] = { "per-device IO limits", NULL },
        [CONFIG_TYPE_IO_LATENCY] = { "per-device IO latency targets", NULL },
};

const char *config_type_noun(ConfigType t) {
        return t >= 0 && t < _CONFIG_TYPE_MAX ? type_info[t].noun : "a value";
}

static const char *format_number(const ConfigKey *k, double v, char *buf, size_t size) {
        switch (k->type) {
        case CONFIG_TYPE_DURATION:
                return config_format_duration((uint64_t) v, buf, size);
        case CONFIG_TYPE_BYTES:
                return config_format_bytes((uint64_t) v, buf, size);
        default:
                return config_format_double(v, buf, size);
        }
}

/* "expected a duration (e.g. 250ms, 1s), got "x"" or, with a range, "expected a duration
 * between 10ms and 60s, got "5ms"". */
static int reason_expected(const ConfigKey *k, const char *s, bool range, char *buf, size_t size,
                           const char **ret_reason) {
        char got[96], lo[64], hi[64];
        const TypeInfo *t = &type_info[k->type];
        config_quote(s, strlen(s), got, sizeof(got));
        if (range)
                snprintf(buf, size, "expected %s between %s and %s, got %s", t->noun,
                         format_number(k, k->min, lo, sizeof(lo)), format_number(k, k->max, hi, sizeof(hi)), got);
        else if (t->examples)
                snprintf(buf, size, "expected %s (%s), got %s", t->noun, t->examples, got);
        else
                snprintf(buf, size, "expected %s, got %s", t->noun, got);
        *ret_reason = buf;
        return range ? -ERANGE : -EINVAL;
}

/* A number with an optional suffix that scales it: "500m" cores, "5%" fraction, "10%" percent. */
static int parse_scaled_double(const char *s, const char *suffix, double scale, double *ret) {
        size_t len = strlen(s), n = strlen(suffix);
        if (len > n && strcmp(s + len - n, suffix) == 0) {
                char num[128];
                if (len - n >= sizeof(num))
                        return -EINVAL;
                memcpy(num, s, len - n);
                num[len - n] = '\0';
                double v;
                int r = config_parse_decimal(num, &v);
                if (r < 0)
                        return r;
                *ret = v * scale;
                return 0;
        }
        return config_parse_decimal(s, ret);
}

/* C0 and DEL, C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F) and the Unicode line and paragraph
 * separators (U+2028, U+2029): none belongs in a path or a name, and YAML folds some of them. */
static bool is_control_at(const char *s, size_t len, size_t i) {
        const unsigned char *u = (const unsigned char *) s;
        if (u[i] < 0x20 || u[i] == 0x7f)
                return true;
        if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
                return true;
        return u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9);
}

static int parse_string(const ConfigKey *k, const char *s, Config *c, char *buf, size_t size,
                        const char **ret_reason) {
        size_t len = strlen(s);
        char got[96];

        if (len >= k->size) {
                snprintf(buf, size, "longer than %zu characters (%zu given)", k->size - 1, len);
                *ret_reason = buf;
                return -ENAMETOOLONG;
        }
        for (size_t i = 0; i < len; i++)
                if (is_control_at(s, len, i)) {
                        snprintf(buf, size, "control characters are not allowed, got %s",
                                 config_quote(s, len, got, sizeof(got)));
                        *ret_reason = buf;
                        return -EINVAL;
                }
        if (!(len == 0 && k->allow_empty)) {
                if (k->choices) {
                        bool found = false;
                        size_t o = (size_t) snprintf(buf, size, "expected one of ");
                        for (size_t i = 0; k->choices[i]; i++) {
                                found = found || strcmp(s, k->choices[i]) == 0;
                                if (o < size)
                                        o += (size_t) snprintf(buf + o, size - o, "%s%s", i ? ", " : "", k->choices[i]);
                        }
                        if (!found) {
                                if (o < size)
                                        snprintf(buf + o, size - o, ", got %s", config_quote(s, len, got, sizeof(got)));
                                *ret_reason = buf;
                                return -EINVAL;
                        }
                }
                if ((k->check && !k->check(s)) || (len == 0 && !k->choices)) {
                        snprintf(buf, size, "expected %s, got %s", k->expected ? k->expected : "a non-empty string",
                                 config_quote(s, len, got, sizeof(got)));
                        *ret_reason = buf;
                        return -EINVAL;
                }
        }
        memcpy(config_key_field(k, c), s, len + 1);
        return 0;
}

int config_key_parse(const ConfigKey *k, const char *s, Config *c, char *buf, size_t size, const char **ret_reason) {
        void *field = config_key_field(k, c);
        uint64_t u;
        int64_t i;
        double d;
        bool b;
        int r;

        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                if (config_parse_bool(s, &b) < 0)
                        return reason_expected(k, s, false, buf, size, ret_reason);
                *(bool *) field = b;
                return 0;

        case CONFIG_TYPE_BOOL_OR_AUTO:
                if (strcasecmp(s, "auto") == 0)
                        *(FeatureMode *) field = FEATURE_AUTO;
                else if (config_parse_bool(s, &b) >= 0)
                        *(FeatureMode *) field = b ? FEATURE_ON : FEATURE_OFF;
                else
                        return reason_expected(k, s, false, buf, size, ret_reason);
                return 0;

        case CONFIG_TYPE_STRING:
                return parse_string(k, s, c, buf, size, ret_reason);
        case CONFIG_TYPE_IO_MAX:
        case CONFIG_TYPE_IO_LATENCY:
                *ret_reason = buf;      /* read only on failure */
                return config_io_rules_parse(s, k->type == CONFIG_TYPE_IO_LATENCY, field, buf, size);

        case CONFIG_TYPE_DURATION:
        case CONFIG_TYPE_BYTES:
                r = k->type == CONFIG_TYPE_DURATION ? config_parse_duration(s, &u) : config_parse_bytes(s, &u);
                if (r < 0 || (double) u < k->min || (double) u > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(uint64_t *) field = u;
                return 0;

        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                if (k->type == CONFIG_TYPE_CORES)
                        r = parse_scaled_double(s, "m", 0.001, &d);
                else if (k->type == CONFIG_TYPE_FRACTION)
                        r = parse_scaled_double(s, "%", 0.01, &d);
                else
                        r = parse_scaled_double(s, "%", 1.0, &d);
                if (r < 0 || d < k->min || d > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(double *) field = d;
                return 0;

        case CONFIG_TYPE_INT32:
                r = config_parse_int64(s, &i);
                if (r < 0 || (double) i < k->min || (double) i > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                *(int32_t *) field = (int32_t) i;
                return 0;

        case CONFIG_TYPE_UINT64:
        case CONFIG_TYPE_PORT:
                r = config_parse_uint64(s, &u);
                if (r < 0 && s[0] == '-' && config_parse_int64(s, &i) >= 0)
                        r = -ERANGE;    /* "-1": a number, out of range */
                if (r < 0 || (double) u < k->min || (double) u > k->max)
                        return reason_expected(k, s, r == -ERANGE || r >= 0, buf, size, ret_reason);
                if (k->type == CONFIG_TYPE_PORT)
                        *(uint16_t *) field = (uint16_t) u;
                else
                        *(uint64_t *) field = u;
                return 0;

        default:
                *ret_reason = "internal error: unknown key type";
                return -EINVAL;
        }
}

double config_key_number(const ConfigKey *k, const Config *c) {
        const void *field = config_key_field_const(k, c);
        switch (k->type) {
        case CONFIG_TYPE_BOOL:
                return *(const bool *) field;
        case CONFIG_TYPE_BOOL_OR_AUTO:
                return *(const FeatureMode *) field;
        case CONFIG_TYPE_DURATION:
        case CONFIG_TYPE_BYTES:
        case CONFIG_TYPE_UINT64:
                return (double) *(const uint64_t *) field;
        case CONFIG_TYPE_CORES:
        case CONFIG_TYPE_FRACTION:
        case CONFIG_TYPE_PERCENT:
                return *(const double *) field;
        case CONFIG_TYPE_INT32:
                return *(const int32_t *) field;
        case CONFIG_TYPE_PORT:
                return *(const uint16_t *) field;
        default:
                return NAN;
        }
}
