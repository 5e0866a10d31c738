/* How Go's encoding/json matches JSON object keys to the fields of a struct without json tags. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True when a Go decoder would store the member key[0..len) (UTF-8, not NUL-terminated) in the
 * struct field named field (ASCII). */
bool go_json_key_matches(const unsigned char *key, size_t len, const char *field);
