/* Unit tests of colo top's screen (src/lib/top): the frame fits the terminal, rows are sorted
 * by the chosen key, what does not fit is summarised, and squeezes and evictions become events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top/top-view.h"
#include "util/macro.h"

/* A document with n workloads; workload i uses i/10 cores and (n - i) MiB, so CPU order and
 * memory order are opposite. Even ones are online, odd ones offline. */
static StatusDoc make_doc(size_t n) {
        StatusDoc d = { .agent_pid = 42, .period_usec = 1000000, .updated_realtime_usec = 1000000,
                        .cpu_capacity_cores = 2, .mem_capacity = 24ULL << 30, .offline_cpu_budget_cores = 1.5 };
        snprintf(d.cgroup_mode, sizeof(d.cgroup_mode), "v1");
        assert_int_equal(status_doc_reserve(&d, n), 0);
        for (size_t i = 0; i < n; i++) {
                StatusWorkload *w = &d.workloads[d.n_workloads++];
                *w = (StatusWorkload) { .cls = i % 2 ? CLASS_OFFLINE : CLASS_ONLINE,
                                        .tier = i % 2 ? TIER_BATCH : TIER_NORMAL,
                                        .cpu_usage_cores = (double) i / 10,
                                        .mem_working_set = (uint64_t) (n - i) << 20,
                                        .nr_tasks = 1 };
                snprintf(w->name, sizeof(w->name), "w%02zu", i);
        }
        return d;
}

static size_t render(const StatusDoc *d, const TopEvents *ev, TopSort sort, size_t w, size_t h, TopLine *lines) {
        TopFrameInput in = { .doc = d, .live = true, .events = ev, .sort = sort, .show_keys = true, .width = w, .height = h };
        return top_render(&in, lines, 512);
}

static size_t find_line(const TopLine *lines, size_t n, const char *prefix) {
        for (size_t i = 0; i < n; i++)
                if (strncmp(lines[i].text, prefix, strlen(prefix)) == 0)
                        return i;
        return SIZE_MAX;
}

static void test_frame_fits_80x24_and_summarises_the_rest(void **state) {
        (void) state;
        StatusDoc d = make_doc(30);
        TopLine lines[512];
        size_t n = render(&d, NULL, TOP_SORT_CPU, 80, 24, lines);
        assert_int_equal(n, 24);
        for (size_t i = 0; i < n; i++)
                assert_true(strlen(lines[i].text) <= 80);
        size_t header = find_line(lines, n, "NAME");
        assert_true(header != SIZE_MAX);
        assert_int_equal(lines[header].style, TOP_STYLE_HEADER);
        assert_true(strncmp(lines[header + 1].text, "w29", 3) == 0);    /* the busiest first */
        assert_true(strncmp(lines[header + 2].text, "w28", 3) == 0);
        size_t shown = n - header - 2;                                  /* rows between header and "..." */
        char more[32];
        snprintf(more, sizeof(more), "... %zu more", 30 - shown);
        assert_string_equal(lines[n - 1].text, more);
        status_doc_done(&d);
}

static void test_sort_keys(void **state) {
        (void) state;
        StatusDoc d = make_doc(5);
        TopLine lines[512];
        static const struct {
                TopSort sort;
                const char *first, *last;
        } cases[] = {
                { TOP_SORT_CPU, "w04", "w00" },
                { TOP_SORT_MEMORY, "w00", "w04" },
                { TOP_SORT_NAME, "w00", "w04" },
        };
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                size_t n = render(&d, NULL, cases[c].sort, 80, 0, lines);
                size_t header = find_line(lines, n, "NAME");
                assert_true(header != SIZE_MAX && header + 5 < n + 1);
                assert_true(strncmp(lines[header + 1].text, cases[c].first, 3) == 0);
                assert_true(strncmp(lines[header + 5].text, cases[c].last, 3) == 0);
                assert_int_equal(lines[header + 1].style, TOP_STYLE_ONLINE);  /* w04 and w00 are online */
        }
        status_doc_done(&d);
}

static void test_events_from_squeeze_and_eviction(void **state) {
        (void) state;
        StatusDoc a = make_doc(3), b = make_doc(3), c = make_doc(3);
        b.squeezed = true;
        snprintf(b.squeeze_reason, sizeof(b.squeeze_reason), "memory pressure 12%%");
        c.squeezed = true;
        c.workloads[1].state = WORKLOAD_EVICTED;
        snprintf(c.workloads[1].reason, sizeof(c.workloads[1].reason), "lowest tier first");
        TopEvents ev = {};
        top_events_update(&ev, NULL, &a, "12:00:00");                  /* the first document: nothing */
        assert_int_equal(ev.n, 0);
        top_events_update(&ev, &a, &b, "12:00:01");
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.lines[0].text, "12:00:01 squeezed: memory pressure 12%");
        assert_int_equal(ev.lines[0].style, TOP_STYLE_WARNING);
        top_events_update(&ev, &b, &c, "12:00:02");                    /* still squeezed: only the eviction */
        assert_int_equal(ev.n, 2);
        assert_string_equal(ev.lines[1].text, "12:00:02 evicted w01 (offline/batch): lowest tier first");
        assert_int_equal(ev.lines[1].style, TOP_STYLE_BAD);
        top_events_update(&ev, &c, &c, "12:00:03");                    /* nothing new */
        assert_int_equal(ev.n, 2);
        top_events_update(&ev, &c, &a, "12:00:04");
        assert_string_equal(ev.lines[2].text, "12:00:04 no longer squeezed");

        /* On screen: newest first, below the table, even when workloads fill the terminal. */
        StatusDoc big = make_doc(40);
        TopLine lines[512];
        size_t n = render(&big, &ev, TOP_SORT_CPU, 80, 24, lines);
        assert_int_equal(n, 24);
        size_t events = find_line(lines, n, "EVENTS");
        assert_true(events != SIZE_MAX && events + 2 < n);
        assert_string_equal(lines[events + 1].text, "12:00:04 no longer squeezed");
        assert_true(strncmp(lines[events + 2].text, "12:00:02 evicted w01", 20) == 0);

        for (int i = 0; i < TOP_EVENTS_MAX + 5; i++)                    /* bounded: the oldest go */
                top_events_update(&ev, i % 2 ? &a : &b, i % 2 ? &b : &a, "t");
        assert_int_equal(ev.n, TOP_EVENTS_MAX);
        status_doc_done(&a), status_doc_done(&b), status_doc_done(&c), status_doc_done(&big);
}

static void test_no_document_and_a_dead_agent(void **state) {
        (void) state;
        TopLine lines[512];
        TopFrameInput in = { .message = "no status file: is the agent running?", .width = 80, .height = 24 };
        size_t n = top_render(&in, lines, 512);
        assert_int_equal(n, 1);
        assert_string_equal(lines[0].text, "colo top - no status: no status file: is the agent running?");
        assert_int_equal(lines[0].style, TOP_STYLE_BAD);

        StatusDoc d = make_doc(1);
        in = (TopFrameInput) { .doc = &d, .live = false, .age_seconds = 30, .width = 40, .height = 24 };
        n = top_render(&in, lines, 512);
        assert_true(strstr(lines[0].text, "NOT RUNNING") != NULL);
        assert_int_equal(lines[0].style, TOP_STYLE_BAD);
        for (size_t i = 0; i < n; i++)
                assert_true(strlen(lines[i].text) <= 40);               /* a narrow terminal cuts lines */
        status_doc_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frame_fits_80x24_and_summarises_the_rest),
                cmocka_unit_test(test_sort_keys),
                cmocka_unit_test(test_events_from_squeeze_and_eviction),
                cmocka_unit_test(test_no_document_and_a_dead_agent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
