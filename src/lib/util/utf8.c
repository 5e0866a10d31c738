/* UTF-8 validation of outside input, stricter than the JSON parsers colo uses. */
#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

/* Strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF). yajl's
 * own check lets overlong forms through. ASCII goes eight bytes at a time. */
bool utf8_is_valid(const char *text, size_t n) {
        const unsigned char *s = (const unsigned char *) text;
        size_t i = 0;
        while (i < n) {
                if (i + 8 <= n) {
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        if (!(w & UINT64_C(0x8080808080808080))) {
                                i += 8;
                                continue;
                        }
                }
                unsigned char c = s[i];
                if (c < 0x80) {
                        i++;
                        continue;
                }
                size_t len;
                unsigned char lo = 0x80, hi = 0xBF;     /* bounds of the second byte */
                if (c >= 0xC2 && c <= 0xDF)
                        len = 2;
                else if (c >= 0xE0 && c <= 0xEF) {
                        len = 3;
                        if (c == 0xE0)
                                lo = 0xA0;              /* overlong */
                        else if (c == 0xED)
                                hi = 0x9F;              /* surrogates */
                } else if (c >= 0xF0 && c <= 0xF4) {
                        len = 4;
                        if (c == 0xF0)
                                lo = 0x90;              /* overlong */
                        else if (c == 0xF4)
                                hi = 0x8F;              /* above U+10FFFF */
                } else
                        return false;
                if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k < len; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                                return false;
                i += len;
        }
        return true;
}
