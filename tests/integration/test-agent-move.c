/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): `colo move` changes a
 * running workload's class and tier in both directions, and the agent converges its settings
 * within one period plus a margin, read back from the kernel's files: the task's cgroup and
 * oom_score_adj, the class parents' cpu.idle and cpu.shares (v2: cpu.weight). Also checks /metrics
 * and `colo status --json` name the workload's new place, that `promtool check metrics`
 * (Prometheus's own linter) accepts the live page, and that a workload's series go when the
 * workload does. The margin is a whole second, enough for the VM's emulated CPUs too. Needs root
 * and v1 or v2: exit 77. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define PERIOD_MS 500
#define MARGIN_MS 1000

static int64_t oom_score_adj(pid_t pid) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int) pid);
        return harness_read_i64(p);
}

/* Whether pid is listed in the leaf's cgroup.procs in both the cpu and the memory hierarchy. */
static bool in_leaf(pid_t pid, const char *leaf) {
        static const char *const controllers[] = { "cpu", "memory" };
        char rel[256];
        snprintf(rel, sizeof(rel), "%s/cgroup.procs", leaf);
        for (size_t i = 0; i < 2; i++) {
                FILE *f = fopen(harness_cg_path(controllers[i], rel), "r");
                if (!f)
                        return false;
                bool found = false;
                int p;
                while (!found && fscanf(f, "%d", &p) == 1)
                        found = p == (int) pid;
                fclose(f);
                if (!found)
                        return false;
        }
        return true;
}

/* Polls until the workload is in leaf with the given oom_score_adj, at most one period plus the
 * margin after the move returned. */
static bool converges(pid_t pid, const char *leaf, int64_t oom) {
        for (int waited = 0; waited <= PERIOD_MS + MARGIN_MS; waited += 20) {
                if (in_leaf(pid, leaf) && oom_score_adj(pid) == oom)
                        return true;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "not converged: in '%s': %s, oom_score_adj %lld (want %lld)\n", leaf,
                in_leaf(pid, leaf) ? "yes" : "no", (long long) oom_score_adj(pid), (long long) oom);
        return false;
}

static void move(const char *cls, const char *tier) {
        int status = harness_colo((const char *const[]) { "move", "mv", "--class", cls, "--tier", tier, NULL });
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Runs Prometheus's `promtool check metrics` on the page: it fails on a page Prometheus cannot
 * parse and on the lint rules (HELP, counters' _total, base units, ...), printing each problem. */
static void check_with_promtool(const char *metrics) {
        FILE *p = popen("promtool check metrics", "w");
        CHECK(p);
        CHECK(fputs(metrics, p) >= 0);
        int status = pclose(p);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                fprintf(stderr, "promtool check metrics failed on:\n%s\n", metrics);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
        int r = harness_setup(argc, argv, NULL);
        if (r != 0)
                return r;
        harness_start_agent(PERIOD_MS);

        pid_t pid = harness_run("online", "normal", "mv", (const char *const[]) { "hold", "4", NULL });
        CHECK(converges(pid, "online/normal/mv", 0));
        const char *weight = harness_v2() ? "cpu.weight" : "cpu.shares";
        char rel[128];
        snprintf(rel, sizeof(rel), "online/%s", weight);
        CHECK(harness_read_i64(harness_cg_path("cpu", rel)) == (harness_v2() ? 10000 : 102400));
        CHECK(harness_read_i64(harness_cg_path("cpu", "online/cpu.idle")) == 0);

        move("offline", "batch");
        CHECK(converges(pid, "offline/batch/mv", 500));
        CHECK(harness_read_i64(harness_cg_path("cpu", "offline/cpu.idle")) == 1);
        snprintf(rel, sizeof(rel), "offline/%s", weight);
        CHECK(harness_read_i64(harness_cg_path("cpu", rel)) <= (harness_v2() ? 1 : 10));
        CHECK(harness_try_read_i64(harness_cg_path("cpu", "online/normal/mv/cgroup.procs")) < 0);    /* old leaf gone */

        move("offline", "best-effort");
        CHECK(converges(pid, "offline/best-effort/mv", 1000));

        move("online", "critical");
        CHECK(converges(pid, "online/critical/mv", 0));
        CHECK(harness_try_read_i64(harness_cg_path("cpu", "offline/best-effort/mv/cgroup.procs")) < 0);

        /* Repeating a move is harmless; moving what does not exist fails cleanly. */
        move("online", "critical");
        CHECK(converges(pid, "online/critical/mv", 0));
        int status = harness_colo((const char *const[]) { "move", "nothing", "--class", "online", NULL });
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);

        /* The agent reports the workload at its new place (after its next period). */
        harness_sleep_ms(PERIOD_MS + 200);
        const char *metrics = harness_http_get(harness_metrics_port(), "/metrics");
        CHECK(metrics);
        CHECK(strstr(metrics, "colo_workload_state{name=\"mv\",class=\"online\",tier=\"critical\",state=\"running\"} 1"));
        CHECK(strstr(metrics, "colo_offline_cpu_budget_cores "));
        CHECK(strstr(metrics, "colo_build_info{version=\"" COLO_VERSION "\",commit=\""));
        CHECK(strstr(metrics, "# TYPE colo_tick_duration_seconds histogram\n"));
        CHECK(strstr(metrics, "colo_tick_duration_seconds_bucket{le=\"+Inf\"} "));
        CHECK(strstr(metrics, "colo_isolation_in_force 1\n"));        /* a good delegation (v2) or v1 */
        check_with_promtool(metrics);
        const char *health = harness_http_get(harness_metrics_port(), "/healthz");
        CHECK(health && strcmp(health, "ok\n") == 0);
        const char *st = harness_http_get(harness_metrics_port(), "/status");
        CHECK(st && strstr(st, "\"name\": \"mv\"") && strstr(st, "\"tier\": \"critical\""));

        /* A workload that ends takes its series with it (no stale per-workload series). */
        CHECK(kill(pid, SIGKILL) == 0);
        CHECK(harness_wait_run("mv", 5000) >= 0);
        bool gone = false;
        for (int waited = 0; !gone && waited <= 2 * PERIOD_MS + MARGIN_MS; waited += 50) {
                harness_sleep_ms(50);
                metrics = harness_http_get(harness_metrics_port(), "/metrics");
                gone = metrics && !strstr(metrics, "name=\"mv\"");
        }
        CHECK(gone);
        check_with_promtool(metrics);
        return harness_teardown();
}
