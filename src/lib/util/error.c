/* ColoError helpers: fixed-size messages, so setting an error never allocates or fails. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static int error_vset(ColoError *err, int code, bool with_strerror, const char *fmt, va_list ap) {
        if (code < 0)
                code = -code;
        if (err) {
                err->code = code ? code : EINVAL;
                int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                if (with_strerror && code && n >= 0 && (size_t) n < sizeof(err->msg))
                        snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(code));
        }
        return code ? -code : -EINVAL;
}

int colo_error_set(ColoError *err, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int colo_error_setf_plain(ColoError *err, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int colo_error_wrap(ColoError *err, const char *fmt, ...) {
        if (!err)
                return -EIO;
        char prefix[COLO_ERROR_MSG_MAX], old[COLO_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old[0] ? old : "unknown error");
        if (err->code == 0)
                err->code = EIO;
        return -err->code;
}

const char *colo_error_msg(const ColoError *err) {
        return err && err->msg[0] ? err->msg : "unknown error";
}
