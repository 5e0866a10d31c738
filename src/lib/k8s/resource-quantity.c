/* Kubernetes quantity parsing. The mantissa is kept exact (at most 19 significant digits fit in
 * 64 bits, and times a binary suffix of at most 2^60 it fits in 128 bits), so scaling and the
 * round-up division are exact integer arithmetic with an overflow check at every step. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "k8s/resource-quantity.h"
#include "util/macro.h"

/* Exponents beyond this only decide between "0 or 1" and "overflow"; clamping keeps loops short. */
#define EXPONENT_CLAMP 10000

typedef struct Suffix {
        const char *text;
        int exp10;
        int exp2;
} Suffix;

static const Suffix suffixes[] = {
        { "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
        { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },  { "", 0, 0 },    { "k", 3, 0 },   { "M", 6, 0 },
        { "G", 9, 0 },   { "T", 12, 0 },  { "P", 15, 0 },  { "E", 18, 0 },
};

/* Parses "e<signed digits>" / "E<signed digits>" at s, the whole rest of the string. */
static bool parse_exponent(const char *s, int *ret) {
        if (*s != 'e' && *s != 'E')
                return false;
        s++;
        bool negative = false;
        if (*s == '+' || *s == '-')
                negative = *s++ == '-';
        if (!isdigit((unsigned char) *s))
                return false;
        int v = 0;
        for (; isdigit((unsigned char) *s); s++)
                if (v < EXPONENT_CLAMP)
                        v = v * 10 + (*s - '0');
        if (*s != '\0')
                return false;
        *ret = negative ? -MIN(v, EXPONENT_CLAMP) : MIN(v, EXPONENT_CLAMP);
        return true;
}

/* mantissa x 2^exp2 x 10^exp10 as an int64_t, rounded up when not whole; *ret_exact tells
 * whether no rounding happened. */
static int scale_mantissa(uint64_t mantissa, int exp2, int exp10, int64_t *ret, bool *ret_exact) {
        unsigned __int128 v = (unsigned __int128) mantissa << exp2;   /* < 2^64 * 2^60 */
        bool exact = true;
        if (exp10 >= 0) {
                if (v > INT64_MAX)
                        return -ERANGE;
                for (int i = 0; i < exp10; i++) {
                        v *= 10;
                        if (v > INT64_MAX)
                                return -ERANGE;
                }
        } else {
                /* 10^38 < 2^127; beyond that the value is in (0, 1) and rounds up to 1. */
                if (-exp10 > 38) {
                        v = 1;
                        exact = false;
                } else {
                        unsigned __int128 d = 1;
                        for (int i = 0; i < -exp10; i++)
                                d *= 10;
                        exact = v % d == 0;
                        v = v / d + !exact;
                }
                if (v > INT64_MAX)
                        return -ERANGE;
        }
        *ret = (int64_t) v;
        *ret_exact = exact;
        return 0;
}

/* *ret_exact tells whether no rounding happened. */
static int parse(const char *s, unsigned scale, int64_t *ret, bool *ret_exact) {
        if (!s || scale > 18)
                return -EINVAL;
        const char *p = s;
        bool negative = false;
        if (*p == '+' || *p == '-')
                negative = *p++ == '-';

        /* Collect the digits of "int.frac" as one digit string with a decimal exponent. */
        uint64_t mantissa = 0;
        int exp10 = 0, significant = 0, pending_zeros = 0, digits = 0;
        bool seen_point = false, seen_nonzero = false;
        for (;; p++) {
                if (*p == '.' && !seen_point) {
                        seen_point = true;
                        continue;
                }
                if (!isdigit((unsigned char) *p))
                        break;
                digits++;
                int d = *p - '0';
                if (seen_point)
                        exp10--;
                if (d == 0) {
                        /* Zeros are held back: trailing ones become exponent, inner ones digits. */
                        if (seen_nonzero)
                                pending_zeros++;
                        continue;
                }
                if (seen_nonzero && significant + pending_zeros + 1 > QUANTITY_SIGNIFICANT_DIGITS_MAX)
                        return -ERANGE;
                for (; pending_zeros > 0; pending_zeros--, significant++)
                        mantissa *= 10;
                mantissa = mantissa * 10 + (uint64_t) d;
                significant++;
                seen_nonzero = true;
        }
        if (digits == 0)
                return -EINVAL;
        exp10 += pending_zeros;

        int suffix_exp10 = 0, exp2 = 0;
        if (parse_exponent(p, &suffix_exp10))
                ;
        else {
                size_t i;
                for (i = 0; i < ELEMENTSOF(suffixes); i++)
                        if (strcmp(p, suffixes[i].text) == 0)
                                break;
                if (i == ELEMENTSOF(suffixes))
                        return -EINVAL;
                suffix_exp10 = suffixes[i].exp10;
                exp2 = suffixes[i].exp2;
        }

        if (mantissa == 0) {
                *ret = 0;
                *ret_exact = true;
                return 0;
        }
        if (negative)
                return -ERANGE;

        return scale_mantissa(mantissa, exp2, exp10 + suffix_exp10 + (int) scale, ret, ret_exact);
}

int quantity_parse_scaled(const char *s, unsigned scale, int64_t *ret) {
        bool exact;
        return parse(s, scale, ret, &exact);
}

int quantity_parse_integer(const char *s, int64_t *ret) {
        int64_t v;
        bool exact;
        int r = parse(s, 0, &v, &exact);
        if (r < 0)
                return r;
        if (!exact)
                return -EDOM;
        *ret = v;
        return 0;
}

int quantity_format_milli(int64_t millis, char *buf, size_t size) {
        if (millis < 0)
                return -ERANGE;
        int n = millis % 1000 == 0 ? snprintf(buf, size, "%" PRId64, millis / 1000)
                                   : snprintf(buf, size, "%" PRId64 "m", millis);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : n;
}

int quantity_format_units(int64_t units, char *buf, size_t size) {
        if (units < 0)
                return -ERANGE;
        int n = snprintf(buf, size, "%" PRId64, units);
        return n < 0 || (size_t) n >= size ? -ENOBUFS : n;
}
