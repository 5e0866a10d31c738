/* Scalar syntax of the configuration file: durations, byte sizes, booleans and plain numbers.
 * Durations and sizes are parsed in exact integer arithmetic (a 128-bit mantissa over a power of
 * ten), so "1.5h" or "0.5Gi" never suffer floating-point rounding, and overflow is an error. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-internal.h"
#include "util/macro.h"

typedef struct Unit {
        const char *suffix;
        uint64_t factor;
} Unit;

/* Largest first, so formatting picks the largest unit that divides the value. */
static const Unit duration_units[] = {
        { "d", 24 * 3600 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "ms", USEC_PER_MSEC },
        { "us", 1 },
};

static const Unit binary_units[] = {
        { "Ei", 1ULL << 60 }, { "Pi", 1ULL << 50 }, { "Ti", 1ULL << 40 },
        { "Gi", 1ULL << 30 }, { "Mi", 1ULL << 20 }, { "Ki", 1ULL << 10 },
};

static const Unit decimal_units[] = {
        { "E", 1000000000000000000ULL }, { "P", 1000000000000000ULL }, { "T", 1000000000000ULL },
        { "G", 1000000000ULL }, { "M", 1000000ULL }, { "k", 1000ULL }, { "K", 1000ULL },
};

/* Keeps the mantissa small enough that mantissa x factor (factor < 2^61) fits in 128 bits. */
#define MANTISSA_MAX ((unsigned __int128) 1 << 66)
#define FRACTION_DIGITS_MAX 30

/* Parses "<digits>[.<digits>]" at the start of s into mantissa / 10^frac_digits; trailing zeros
 * of the fraction are dropped, so "1.50000" is as exact as "1.5". */
static int parse_unsigned_decimal(const char *s, unsigned __int128 *ret_mantissa, unsigned *ret_frac_digits,
                                  const char **ret_end) {
        unsigned __int128 m = 0;
        unsigned frac_digits = 0, pending_zeros = 0;
        const char *p = s;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;         /* also "-1s", "+1s", ".5s", " 1s" */
        for (; isdigit((unsigned char) *p); p++) {
                m = m * 10 + (unsigned) (*p - '0');
                if (m > MANTISSA_MAX)
                        return -ERANGE;
        }
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                for (; isdigit((unsigned char) *p); p++) {
                        if (*p == '0') {
                                pending_zeros++;
                                continue;
                        }
                        for (; pending_zeros > 0; pending_zeros--) {
                                m *= 10;
                                frac_digits++;
                        }
                        m = m * 10 + (unsigned) (*p - '0');
                        frac_digits++;
                        if (m > MANTISSA_MAX || frac_digits > FRACTION_DIGITS_MAX)
                                return -ERANGE;
                }
        }
        *ret_mantissa = m;
        *ret_frac_digits = frac_digits;
        *ret_end = p;
        return 0;
}

static const Unit *find_unit(const Unit *units, size_t n, const char *suffix) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(units[i].suffix, suffix) == 0)
                        return &units[i];
        return NULL;
}

/* value = mantissa x factor / 10^frac_digits, which must be a whole number that fits 64 bits. */
static int scale_exact(unsigned __int128 mantissa, unsigned frac_digits, uint64_t factor, uint64_t *ret) {
        unsigned __int128 divisor = 1;
        for (unsigned i = 0; i < frac_digits; i++)
                divisor *= 10;
        unsigned __int128 product = mantissa * factor;
        if (product % divisor != 0)
                return -EINVAL;         /* finer than the unit allows: "1.5us", "0.5" bytes */
        unsigned __int128 v = product / divisor;
        if (v > UINT64_MAX)
                return -ERANGE;
        *ret = (uint64_t) v;
        return 0;
}

int config_parse_duration(const char *s, uint64_t *ret_usec) {
        if (!s || !ret_usec)
                return -EINVAL;
        unsigned __int128 m;
        unsigned frac_digits;
        const char *suffix;
        int r = parse_unsigned_decimal(s, &m, &frac_digits, &suffix);
        if (r < 0)
                return r;
        if (*suffix == '\0') {
                /* A unit is required: "5" could mean seconds or milliseconds. Zero is zero in any. */
                if (m != 0)
                        return -EINVAL;
                *ret_usec = 0;
                return 0;
        }
        const Unit *u = find_unit(duration_units, ELEMENTSOF(duration_units), suffix);
        if (!u)
                return -EINVAL;
        uint64_t v;
        r = scale_exact(m, frac_digits, u->factor, &v);
        if (r < 0)
                return r;
        *ret_usec = v;
        return 0;
}

int config_parse_bytes(const char *s, uint64_t *ret) {
        if (!s || !ret)
                return -EINVAL;
        unsigned __int128 m;
        unsigned frac_digits;
        const char *suffix;
        int r = parse_unsigned_decimal(s, &m, &frac_digits, &suffix);
        if (r < 0)
                return r;
        uint64_t factor = 1;
        if (*suffix != '\0') {
                const Unit *u = find_unit(binary_units, ELEMENTSOF(binary_units), suffix);
                if (!u)
                        u = find_unit(decimal_units, ELEMENTSOF(decimal_units), suffix);
                if (!u)
                        return -EINVAL;
                factor = u->factor;
        }
        uint64_t v;
        r = scale_exact(m, frac_digits, factor, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

const char *config_format_duration(uint64_t usec, char *buf, size_t size) {
        if (usec == 0) {
                snprintf(buf, size, "0s");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                if (usec % duration_units[i].factor == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", usec / duration_units[i].factor,
                                 duration_units[i].suffix);
                        break;
                }
        return buf;
}

const char *config_format_bytes(uint64_t bytes, char *buf, size_t size) {
        const Unit *u = NULL;
        for (size_t i = 0; bytes > 0 && !u && i < ELEMENTSOF(binary_units); i++)
                if (bytes % binary_units[i].factor == 0)
                        u = &binary_units[i];
        for (size_t i = 0; bytes > 0 && !u && i < ELEMENTSOF(decimal_units); i++)
                if (bytes % decimal_units[i].factor == 0)
                        u = &decimal_units[i];
        if (u)
                snprintf(buf, size, "%" PRIu64 "%s", bytes / u->factor, u->suffix);
        else
                snprintf(buf, size, "%" PRIu64, bytes);
        return buf;
}

int config_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int config_parse_decimal(const char *s, double *ret) {
        if (!s)
                return -EINVAL;
        /* Checked by hand first: strtod() would also take " 1", "0x1p3", "1e3", "inf" and "nan". */
        const char *p = s;
        if (*p == '-')
                p++;
        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        while (isdigit((unsigned char) *p))
                p++;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        if (*p != '\0')
                return -EINVAL;
        errno = 0;
        double v = strtod(s, NULL);
        if (errno == ERANGE && fabs(v) > 1.0)
                return -ERANGE;
        if (!isfinite(v))
                return -ERANGE;
        *ret = v == 0.0 ? 0.0 : v;      /* no "-0" */
        return 0;
}

static int check_integer_syntax(const char *s, bool allow_minus) {
        if (!s)
                return -EINVAL;
        const char *p = s;
        if (allow_minus && *p == '-')
                p++;
        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        while (isdigit((unsigned char) *p))
                p++;
        return *p == '\0' ? 0 : -EINVAL;
}

int config_parse_int64(const char *s, int64_t *ret) {
        int r = check_integer_syntax(s, true);
        if (r < 0)
                return r;
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}

int config_parse_uint64(const char *s, uint64_t *ret) {
        int r = check_integer_syntax(s, false);
        if (r < 0)
                return r;
        errno = 0;
        unsigned long long v = strtoull(s, NULL, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}
