/* Structured logging on stderr, logfmt lines: ts=... level=... msg="...". Only src/agent and
 * src/cli log; the library returns errors instead. The level threshold is set once at start-up
 * by main() (like systemd's log_set_max_level()); it is the only process-wide setting. */
#pragma once

#include <syslog.h>

#include "util/macro.h"

void log_set_max_level(int level);        /* LOG_ERR .. LOG_DEBUG */
int log_get_max_level(void);
int log_level_from_string(const char *s);  /* "debug", "info", "warning", "error"; -EINVAL otherwise */

/* Emits one line. fmt is the message; it is quoted and escaped. Extra key=value context, if any,
 * belongs in the message or in log_kv(). Returns 0. */
int log_emit(int level, const char *fmt, ...) _printf_(2, 3);

/* Emits one line with a fixed event name and preformatted key=value pairs, for machine-readable records such as evictions. */
int log_kv(int level, const char *event, const char *kv_fmt, ...) _printf_(3, 4);

#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_emit(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_emit(LOG_ERR, __VA_ARGS__)
