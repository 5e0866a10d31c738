/* Kubernetes resource.Quantity strings ("500m", "2", "1.5", "128Mi", "1G", "1e3") as exact
 * non-negative integers at a chosen scale: CPU in millicores (scale 3), memory in bytes (scale 0).
 * Shared by the admission webhook, the scheduler extender and the agent's node-status code. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Largest accepted count of significant digits (leading and trailing zeros excluded). More than
 * this cannot be represented exactly in 64 bits and is rejected instead of being rounded silently. */
#define QUANTITY_SIGNIFICANT_DIGITS_MAX 19

/* Parses s (grammar of k8s.io/apimachinery resource.Quantity: optional sign, digits with an
 * optional fraction, then one of n u m "" k M G T P E, Ki Mi Gi Ti Pi Ei, or e/E<signed exponent>)
 * and stores its value times 10^scale, rounded up as Kubernetes rounds ScaledValue(), in *ret.
 * Returns 0, -EINVAL on a syntax error, -ERANGE when negative, above INT64_MAX or longer than
 * QUANTITY_SIGNIFICANT_DIGITS_MAX significant digits. *ret is untouched on failure. O(strlen). */
int quantity_parse_scaled(const char *s, unsigned scale, int64_t *ret);

static inline int quantity_parse_milli(const char *s, int64_t *ret) {
        return quantity_parse_scaled(s, 3, ret);
}
static inline int quantity_parse_units(const char *s, int64_t *ret) {
        return quantity_parse_scaled(s, 0, ret);
}

/* Parses s as a whole number of units, as extended resources must be: like
 * quantity_parse_scaled(s, 0, ret), but -EDOM when the value has a fractional part. */
int quantity_parse_integer(const char *s, int64_t *ret);

/* Formats millis as a canonical CPU quantity: "2" when whole, "1500m" otherwise. Returns the
 * length written, or -ENOBUFS / -ERANGE (negative values). 32 bytes always suffice. */
int quantity_format_milli(int64_t millis, char *buf, size_t size);

/* Formats an integer quantity ("134217728"). Same return contract. */
int quantity_format_units(int64_t units, char *buf, size_t size);
