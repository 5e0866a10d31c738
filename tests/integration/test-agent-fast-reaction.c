/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): the agent's fast-reaction
 * sources wake it long before its period (60 s here, the longest allowed) when online memory
 * grows, and each is the kernel's own notification (src/agent/psi-watch.c):
 *   - v2: the online parent's memory.events (inotify) and its per-group PSI trigger
 *     (memory.pressure, "some 100ms 1s"): an online workload that keeps growing meets a
 *     memory.high the test puts on its own leaf (a knob colo does not own on online leaves), so
 *     the kernel counts "high" events and throttles it, which is memory stall;
 *   - v1: the memory usage threshold (cgroup.event_control eventfd) armed one step above online's
 *     usage: the workload grows past it.
 * The agent runs with COLO_LOG_LEVEL=debug, which logs "Fast-reaction event from <source>." for
 * every wake-up; the test also sees the tick itself (status.json rewritten) and the counter on
 * /metrics. Timing: the wake-up must come before the next periodic tick, i.e. within the 60 s
 * period of the last one (generous on purpose: under the VM's emulated CPUs an ASan agent takes
 * seconds per tick), and the test first waits for a quiet spell of 2 s without any tick, so that
 * what it sees afterwards is not the tick a new workload or the start-up asked for.
 * Needs root and v1 or a delegated v2: exit 77. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent-harness.h"

#define MIB ((uint64_t) 1024 * 1024)
#define PERIOD_MS 60000
#define QUIET_MS 2000
#define WAKE_WITHIN_MS 55000    /* below the period: a tick before it is a wake-up, not the timer */

static char agent_log[512];

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* status.json's modification time in ns (the agent rewrites it every tick), 0 when absent. */
static uint64_t status_stamp(void) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof(p), "%s/status.json", harness_state_dir());
        return stat(p, &st) == 0 ? (uint64_t) st.st_mtim.tv_sec * 1000000000 + (uint64_t) st.st_mtim.tv_nsec : 0;
}

/* Waits until no tick has happened for QUIET_MS; returns when the last one was (now_ms()). */
static uint64_t wait_quiet(void) {
        uint64_t stamp = status_stamp(), since = now_ms();
        for (uint64_t start = since; now_ms() - since < QUIET_MS; harness_sleep_ms(50)) {
                CHECK(now_ms() - start < 30000 * (uint64_t) harness_timeout_scale());
                if (status_stamp() != stamp) {
                        stamp = status_stamp();
                        since = now_ms();
                }
        }
        return since;
}

static bool log_has(const char *needle) {
        return strstr(harness_read_text(agent_log), needle) != NULL;
}

/* Waits until the agent logged needle and (quiet_stamp not 0) ticked after quiet_stamp, before
 * WAKE_WITHIN_MS after the last tick (at last_tick_ms). */
static void expect_wake(const char *needle, uint64_t quiet_stamp, uint64_t last_tick_ms) {
        while (!(log_has(needle) && (quiet_stamp == 0 || status_stamp() != quiet_stamp))) {
                if (now_ms() - last_tick_ms > WAKE_WITHIN_MS) {
                        fprintf(stderr, "no '%s' and tick within %d s of the last tick; agent log:\n%s", needle,
                                WAKE_WITHIN_MS / 1000, harness_read_text(agent_log));
                        CHECK(false);
                }
                harness_sleep_ms(50);
        }
        fprintf(stderr, "woken: '%s' %.1f s after the last tick\n", needle,
                (double) (now_ms() - last_tick_ms) / 1000.0);
}

static void write_knob(const char *rel, const char *value) {
        FILE *f = fopen(harness_cg_path("memory", rel), "w");
        CHECK(f && fputs(value, f) >= 0 && fclose(f) == 0);
}

int main(int argc, char **argv) {
        setenv("COLO_LOG_LEVEL", "debug", 1);
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        snprintf(agent_log, sizeof(agent_log), "%s/agent.log", harness_dir());
        harness_start_agent_logged(PERIOD_MS, agent_log);

        /* v1's threshold is a step above online's usage: max(64 MiB, MemTotal / 50) (psi-watch.c);
         * the workload grows to two steps, 40 MiB/s. v2 stops it far earlier, at memory.high. */
        uint64_t step = harness_meminfo("MemTotal") / 50;
        step = step > 64 * MIB ? step : 64 * MIB;
        char max_mib[32];
        snprintf(max_mib, sizeof(max_mib), "%" PRIu64, (2 * step + 64 * MIB) / MIB);
        (void) harness_run("online", "normal", "grower", (const char *const[]) { "grow", "4", "100", max_mib, NULL });
        const char *watched = harness_v2() ? "Watching online memory PSI" : "Online memory threshold armed at";
        for (int i = 0; !log_has(watched); i++) {
                CHECK(i < 600 * harness_timeout_scale());
                harness_sleep_ms(50);
        }
        uint64_t last_tick = wait_quiet();
        uint64_t stamp = status_stamp();

        if (harness_v2()) {
                /* Below what the workload already holds (it has grown for the quiet spell): its
                 * next allocations are over memory.high at once. */
                write_knob("online/normal/grower/memory.high", "33554432");
                expect_wake("Fast-reaction event from online memory.events.", stamp, last_tick);
                uint64_t high = 0;
                const char *ev = strstr(harness_read_text(harness_cg_path("memory", "online/memory.events")), "high ");
                CHECK(ev && sscanf(ev, "high %" SCNu64, &high) == 1 && high > 0);
                fprintf(stderr, "online memory.events: high %" PRIu64 "\n", high);
                /* The PSI trigger fires on the group's own stall, at the same time or a little later:
                 * its tick may be the one just seen, so only its own wake-up is waited for. */
                expect_wake("Fast-reaction event from online memory PSI.", 0, last_tick);
        } else
                expect_wake("Fast-reaction event from online memory threshold.", stamp, last_tick);

        const char *metrics = harness_http_get(harness_metrics_port(), "/metrics");
        CHECK(metrics);
        const char *line = strstr(metrics, "\ncolo_fast_reaction_events_total ");
        double events = 0;
        CHECK(line && sscanf(line, "\ncolo_fast_reaction_events_total %lf", &events) == 1);
        fprintf(stderr, "colo_fast_reaction_events_total %.0f\n", events);
        CHECK(events >= 1);
        CHECK(harness_alive(harness_agent_pid()));
        return harness_teardown();
}
