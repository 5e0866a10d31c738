/* Go's encoding/json stores an object member in the struct field whose name equals the key, or
 * failing that, whose name equals it under case folding (bytes.EqualFold): ASCII letters in any
 * case, plus the two non-ASCII runes that fold to ASCII letters, KELVIN SIGN U+212A to 'k' and
 * LATIN SMALL LETTER LONG S U+017F to 's'. Types without json tags (kube-scheduler's ExtenderArgs)
 * are read by their senders' peers this way, so colo reads them the same way. */
#include <string.h>

#include "extender/go-json-key.h"

static bool is_ascii_letter(unsigned char c) {
        c |= 0x20;
        return c >= 'a' && c <= 'z';
}

bool go_json_key_matches(const unsigned char *key, size_t len, const char *field) {
        size_t i = 0;
        for (; *field; field++) {
                unsigned char want = (unsigned char) *field;
                unsigned char lower = is_ascii_letter(want) ? want | 0x20 : want;
                if (i < len && key[i] < 0x80) {
                        unsigned char got = is_ascii_letter(key[i]) ? key[i] | 0x20 : key[i];
                        if (got != lower)
                                return false;
                        i++;
                } else if (lower == 'k' && i + 3 <= len && memcmp(key + i, "\xe2\x84\xaa", 3) == 0)
                        i += 3;
                else if (lower == 's' && i + 2 <= len && memcmp(key + i, "\xc5\xbf", 2) == 0)
                        i += 2;
                else
                        return false;
        }
        return i == len;
}
