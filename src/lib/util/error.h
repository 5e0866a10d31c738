/* Errors of the library: a negative errno return plus, where the caller passes one, a ColoError
 * whose message names the file, key or field at fault. The library never logs; callers wrap the
 * message with their own context and decide (crun's libcrun_error_t, without the allocation). */
#pragma once

#include <stdarg.h>

#include "util/macro.h"

#define COLO_ERROR_MSG_MAX 1024

typedef struct ColoError {
        int code;                       /* positive errno, 0 when no error was set */
        char msg[COLO_ERROR_MSG_MAX];
} ColoError;

/* Sets *err (if non-NULL) to code and the formatted message, appending strerror(code) when code
 * is a real errno. Returns -code (or -EINVAL when code is 0), for `return colo_error_set(...)`. */
int colo_error_set(ColoError *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Like colo_error_set() but the message is used as is, with no strerror suffix. */
int colo_error_setf_plain(ColoError *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefixes the existing message with "context: ". Returns -err->code (or -EIO when unset). */
int colo_error_wrap(ColoError *err, const char *fmt, ...) _printf_(2, 3);

static inline void colo_error_clear(ColoError *err) {
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}

/* The message, or "unknown error" when err is NULL or empty. */
const char *colo_error_msg(const ColoError *err);
