/* The countdown of faultsim.h and the allocation wrappers the linker puts in front of the C
 * library's (-Wl,--wrap=malloc: every call to malloc in the executable's own objects and static
 * libraries reaches __wrap_malloc, which calls the real one through __real_malloc). Test code: the
 * countdown is file-scope state of the test executable. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "faultsim.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static struct {
        unsigned countdown;     /* 0: disarmed; else allocations left until the failing one */
        bool persistent;
        bool failing;           /* persistent and reached: every allocation fails */
        bool fired;
} F;

void faultsim_arm(unsigned n, bool persistent) {
        F.countdown = n;
        F.persistent = persistent;
        F.failing = false;
        F.fired = false;
}

bool faultsim_disarm(void) {
        bool fired = F.fired;
        F.countdown = 0;
        F.failing = false;
        F.fired = false;
        return fired;
}

/* Whether this allocation is the one (or, persistent, one of those) that fails. */
static bool should_fail(void) {
        if (F.failing)
                return true;
        if (F.countdown == 0 || --F.countdown > 0)
                return false;
        F.fired = true;
        F.failing = F.persistent;
        return true;
}

#define FAIL_OR(call)                          \
        do {                                   \
                if (should_fail()) {           \
                        errno = ENOMEM;        \
                        return NULL;           \
                }                              \
                return call;                   \
        } while (0)

void *__wrap_malloc(size_t size) {
        FAIL_OR(__real_malloc(size));
}

void *__wrap_calloc(size_t n, size_t size) {
        FAIL_OR(__real_calloc(n, size));
}

void *__wrap_realloc(void *p, size_t size) {
        FAIL_OR(__real_realloc(p, size));
}

void *__wrap_reallocarray(void *p, size_t n, size_t size) {
        FAIL_OR(__real_reallocarray(p, n, size));
}

char *__wrap_strdup(const char *s) {
        FAIL_OR(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n) {
        FAIL_OR(__real_strndup(s, n));
}
