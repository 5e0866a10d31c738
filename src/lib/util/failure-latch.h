/* A latch for errors that repeat every period (a full disk fails every status write): report
 * the first failure of a run and the first success after it, not every tick in between. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct FailureLatch {
        bool failing;
        uint64_t failures;              /* in the current run of failures */
} FailureLatch;

typedef enum FailureLatchEvent {
        FAILURE_LATCH_QUIET,            /* same as last time: say nothing */
        FAILURE_LATCH_FAILED,           /* the first failure after successes (or at start) */
        FAILURE_LATCH_RECOVERED,        /* the first success after failures; failures says how many */
} FailureLatchEvent;

static inline FailureLatchEvent failure_latch_update(FailureLatch *l, bool failed) {
        if (failed) {
                l->failures++;
                if (l->failing)
                        return FAILURE_LATCH_QUIET;
                l->failing = true;
                return FAILURE_LATCH_FAILED;
        }
        if (!l->failing)
                return FAILURE_LATCH_QUIET;
        l->failing = false;
        return FAILURE_LATCH_RECOVERED;
}

/* After FAILURE_LATCH_RECOVERED has been reported: start counting the next run afresh. */
static inline void failure_latch_reset_count(FailureLatch *l) {
        l->failures = 0;
}
