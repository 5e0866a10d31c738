/* Unit tests of the online peak estimate (src/lib/predict/estimate.h): the recent-maximum ring
 * over a passed-in clock and the choice between it and the predictor, table-first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "predict/estimate.h"
#include "util/macro.h"

#define SEC USEC_PER_SEC
#define GiB (1ULL << 30)

static void test_recent_peak_is_the_maximum_of_the_window(void **state) {
        (void) state;
        static const struct {
                const char *what;
                struct { uint64_t t; double cpu; uint64_t mem; } push[4];
                size_t n;
                uint64_t at;
                double cpu;
                uint64_t mem;
        } cases[] = {
                { "empty ring", {}, 0, 100 * SEC, 0.0, 0 },
                { "one sample", { { 100 * SEC, 1.5, 2 * GiB } }, 1, 100 * SEC, 1.5, 2 * GiB },
                { "the larger of two in one second",
                  { { 100 * SEC, 1.5, 1 * GiB }, { 100 * SEC + 500000, 1.0, 3 * GiB } }, 2, 100 * SEC, 1.5, 3 * GiB },
                { "per resource, across seconds",
                  { { 100 * SEC, 3.0, 1 * GiB }, { 110 * SEC, 1.0, 4 * GiB } }, 2, 120 * SEC, 3.0, 4 * GiB },
                { "29 s old still counts", { { 100 * SEC, 2.0, 1 * GiB } }, 1, 129 * SEC, 2.0, 1 * GiB },
                { "30 s old has expired", { { 100 * SEC, 2.0, 1 * GiB } }, 1, 130 * SEC, 0.0, 0 },
                { "an expired peak gives way to a later one",
                  { { 100 * SEC, 5.0, 5 * GiB }, { 125 * SEC, 1.0, 1 * GiB } }, 2, 140 * SEC, 1.0, 1 * GiB },
                { "a slot reused after a lap holds only the new second",
                  { { 100 * SEC, 5.0, 5 * GiB }, { 130 * SEC, 1.0, 1 * GiB } }, 2, 130 * SEC, 1.0, 1 * GiB },
                { "samples from the future (a clock read late) are left out",
                  { { 100 * SEC, 1.0, 1 * GiB }, { 105 * SEC, 9.0, 9 * GiB } }, 2, 101 * SEC, 1.0, 1 * GiB },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RecentPeak p = {};
                for (size_t j = 0; j < cases[i].n; j++)
                        recent_peak_push(&p, cases[i].push[j].t, cases[i].push[j].cpu, cases[i].push[j].mem);
                PeakEstimate e = recent_peak_get(&p, cases[i].at);
                if (e.cpu_cores != cases[i].cpu || e.mem_bytes != cases[i].mem)
                        fail_msg("%s: got %.2f cores %llu bytes", cases[i].what, e.cpu_cores, (unsigned long long) e.mem_bytes);
        }
}

static void test_estimate_takes_the_predictor_per_resource_once_calibrated(void **state) {
        (void) state;
        static const PeakEstimate recent = { .cpu_cores = 2.0, .mem_bytes = 3 * GiB };
        static const struct {
                const char *what;
                bool answered;
                PredictorAnswer a;
                double cpu;
                uint64_t mem;
                bool cpu_predicted, mem_predicted;
                const char *source;
        } cases[] = {
                { "no predictor: the recent peak", false, {}, 2.0, 3 * GiB, false, false, "recent-max-30s" },
                { "cold start: the node predictor answers the limit",
                  true, { 8.0, 8.0, 8.0, 16 * GiB, 16 * GiB, 16 * GiB }, 2.0, 3 * GiB, false, false,
                  "recent-max-30s (predictor warming up)" },
                { "both calibrated", true, { 2.5, 2.0, 8.0, 2 * GiB, 1 * GiB, 16 * GiB }, 2.5, 2 * GiB, true, true,
                  "predictor colo" },
                { "only CPU calibrated", true, { 2.5, 2.0, 8.0, 16 * GiB, 16 * GiB, 16 * GiB }, 2.5, 3 * GiB, true, false,
                  "predictor colo (cpu)" },
                { "only memory calibrated", true, { 8.0, 8.0, 8.0, 1 * GiB, 1 * GiB, 16 * GiB }, 2.0, 1 * GiB, false, true,
                  "predictor colo (memory)" },
                { "a calibrated predictor below the recent peak is still taken",
                  true, { 0.5, 0.5, 8.0, 1 * GiB, 1 * GiB, 16 * GiB }, 0.5, 1 * GiB, true, true, "predictor colo" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                EstimateChoice c;
                estimate_choose(&recent, cases[i].answered ? &cases[i].a : NULL, "colo", &c);
                if (c.estimate.cpu_cores != cases[i].cpu || c.estimate.mem_bytes != cases[i].mem ||
                    c.cpu_predicted != cases[i].cpu_predicted || c.mem_predicted != cases[i].mem_predicted ||
                    strcmp(c.source, cases[i].source) != 0)
                        fail_msg("%s: got %.2f cores %llu bytes (%d, %d) '%s'", cases[i].what, c.estimate.cpu_cores,
                                 (unsigned long long) c.estimate.mem_bytes, c.cpu_predicted, c.mem_predicted, c.source);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_recent_peak_is_the_maximum_of_the_window),
                cmocka_unit_test(test_estimate_takes_the_predictor_per_resource_once_calibrated),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
