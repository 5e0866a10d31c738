/* A bound on YAML nesting, checked on libyaml's events before anything is built: libyaml's
 * scanner costs O(depth) per token, so a document of 100k '[' takes quadratic time to load, and
 * yaml_parser_load() builds every level. Used by every YAML reader (configuration, kubeconfig). */
#pragma once

#include <stddef.h>

/* Reads text's events until the end, a syntax error (left to the caller's loader, which words
 * it) or the first list or mapping nested deeper than max_depth: then returns 1 with its 0-based
 * line and column. Stops there, so the cost is bounded whatever the input. Returns 0 when within
 * the bound, -ENOMEM. */
int yaml_check_depth(const char *text, size_t size, unsigned max_depth, size_t *ret_line, size_t *ret_column);
