/* UTF-8 validation of outside input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True when text[0..n) is strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points
 * above U+10FFFF. O(n). */
bool utf8_is_valid(const char *text, size_t n);
