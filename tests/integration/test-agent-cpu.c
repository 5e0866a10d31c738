/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): an online CPU-bound process next to two offline CPU hogs,
 * all started with `colo run` under a running `colo agent`, keeps at least 90% of the CPU time it
 * gets alone. Two runs: the default configuration (features.cpu_quota auto: on this kernel,
 * which has cpu.idle, the offline parent is a SCHED_IDLE group without a CFS quota), and with a
 * third argument "quota", features.cpu_quota true (cpu.idle and the dynamic quota). The online process spins on
 * as many threads as there are CPUs, so it wants the whole node: with the classes merely in
 * separate groups of equal weight (no idle, weight or quota) it would keep only about half, and
 * with no groups at all about 2/3 of it on 2 CPUs.
 *
 * The hogs are paused (SIGSTOP) for the "alone" windows and resumed for the "with hogs" ones, and
 * the windows alternate, so both see the same background load of a shared machine; the best of
 * three pairs counts, a failure of isolation loses every pair. On v2 also cpu.weight of both
 * classes. The 90% is loose enough for the VM too: TCG emulates both vCPUs on two host threads,
 * and a pair's windows see the same emulation slowdown. Needs root and v1 or v2: exit 77. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-harness.h"

#define WINDOW_MS 2000
#define PAIRS 3

static double cpu_over_window(pid_t pid) {
        double before = harness_cpu_seconds(pid);
        harness_sleep_ms(WINDOW_MS);
        return harness_cpu_seconds(pid) - before;
}

int main(int argc, char **argv) {
        bool quota_on = argc > 3 && strcmp(argv[3], "quota") == 0;
        int r = harness_setup(argc, argv, quota_on ? "features:\n  cpu_quota: true\n" : NULL);
        if (r != 0)
                return r;
        harness_start_agent(500);

        char threads[16];
        snprintf(threads, sizeof(threads), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
        pid_t online = harness_run("online", "normal", "web", (const char *const[]) { "spin", threads, NULL });
        pid_t hog1 = harness_run("offline", "batch", "hog1", (const char *const[]) { "spin", NULL });
        pid_t hog2 = harness_run("offline", "best-effort", "hog2", (const char *const[]) { "spin", NULL });
        /* Let the agent see all three and settle the offline quota on the online usage. */
        harness_sleep_ms(1500);
        CHECK(harness_read_i64(harness_cg_path("cpu", "offline/cpu.idle")) == 1);
        int64_t quota, period;
        harness_read_cpu_quota("offline", &quota, &period);
        if (harness_v2()) {
                CHECK(harness_read_i64(harness_cg_path("cpu", "online/cpu.weight")) == 10000);
                /* An idle group has the kernel's minimum weight (WEIGHT_IDLEPRIO, 3 of 1024), which
                 * cpu.weight shows as 0; colo writes no weight while the group is idle. */
                CHECK(harness_read_i64(harness_cg_path("cpu", "offline/cpu.weight")) <= 1);
        }
        fprintf(stderr, "offline quota %lld/%lld us\n", (long long) quota, (long long) period);
        if (quota_on)
                CHECK(quota > 0 && quota < 2 * period);
        else
                CHECK(quota == -1);     /* auto: cpu.idle protects online, no quota needed */
        (void) harness_colo((const char *const[]) { "status", NULL });

        double best = 0;
        for (int i = 0; i < PAIRS && best < 0.9; i++) {
                (void) kill(hog1, SIGSTOP);
                (void) kill(hog2, SIGSTOP);
                harness_sleep_ms(200);
                double alone = cpu_over_window(online);
                (void) kill(hog1, SIGCONT);
                (void) kill(hog2, SIGCONT);
                harness_sleep_ms(200);
                double h0 = harness_cpu_seconds(hog1) + harness_cpu_seconds(hog2);
                double with = cpu_over_window(online);
                double hogs_cpu = harness_cpu_seconds(hog1) + harness_cpu_seconds(hog2) - h0;
                double ratio = alone > 0 ? with / alone : 0;
                fprintf(stderr, "pair %d: online alone %.3f s, with hogs %.3f s (%.1f%%); hogs %.3f s in %d ms\n", i, alone,
                        with, 100 * ratio, hogs_cpu, WINDOW_MS);
                if (ratio > best)
                        best = ratio;
        }
        CHECK(best >= 0.9);
        /* The hogs get what is idle: on a busy shared machine (other tenants outside the scratch
         * group, at normal priority) that can be nothing at all, which is cpu.idle doing its job;
         * so their share is reported, not asserted. Both still run, in their offline groups. */
        CHECK(harness_alive(hog1) && harness_alive(hog2));
        return harness_teardown();
}
