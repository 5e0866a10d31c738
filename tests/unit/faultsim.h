/* Allocation failures injected by countdown, for unit tests, the way SQLite's faultsim
 * (src/test_malloc.c) does it: armed with N, the Nth allocation from then on fails (once, or with
 * persistent set, that one and every later one) until disarmed. A test runs the code under test
 * with N = 1, 2, ... until a run completes without reaching its Nth allocation; every run that
 * met a failure must have failed cleanly.
 *
 * The allocations counted are those of the code linked into the test executable (malloc, calloc,
 * realloc, reallocarray, strdup, strndup: the executable is linked with -Wl,--wrap=<each>, see
 * tests/unit/meson.build), not those of shared libraries such as jansson. The counter is test
 * code's own state; src/ knows nothing of it. */
#pragma once

#include <stdbool.h>

/* Arms the countdown: the nth allocation from now fails (n >= 1). */
void faultsim_arm(unsigned n, bool persistent);
/* Disarms it; returns whether an allocation failed since faultsim_arm(). */
bool faultsim_disarm(void);
