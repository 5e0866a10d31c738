/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): eviction in standalone mode. The memory watermark is set
 * above twice what the machine has available, so the agent squeezes offline work and evicts at
 * once (one workload per cooldown, here an hour): the best-effort workload, never the online one
 * nor, with the cooldown, the batch one. The victim ignores SIGTERM, so it is stopped by SIGKILL
 * after the grace period (2 s in the harness); its `colo run` exits 137 and prints why, and
 * `colo status --json` keeps the workload listed as evicted with the reason after its group is
 * gone. Needs root and v1 or v2: exit 77. */
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

int main(int argc, char **argv) {
        char yaml[256];
        snprintf(yaml, sizeof(yaml), "isolation:\n  memory_free_watermark: %" PRIu64 "\n  evict_cooldown: 1h\n",
                 2 * harness_meminfo("MemTotal") + ((uint64_t) 1 << 30));
        int r = harness_setup(argc, argv, yaml);
        if (r != 0)
                return r;

        char log[512], status_path[512];
        snprintf(log, sizeof(log), "%s.victim.log", harness_state_dir());
        snprintf(status_path, sizeof(status_path), "%s/status.json", harness_state_dir());

        /* The workloads first (`colo run` works without an agent), then the agent: it adopts them
         * and evicts in its first periods. */
        pid_t online = harness_run("online", "normal", "svc", (const char *const[]) { "hold", "8", NULL });
        pid_t keeper = harness_run("offline", "batch", "keeper", (const char *const[]) { "hold", "8", NULL });
        (void) harness_run_logged("offline", "best-effort", "victim", log,
                                  (const char *const[]) { "stubborn", "hold", "16", NULL });
        harness_sleep_ms(300);          /* the memory is touched */
        harness_start_agent(250);

        /* SIGTERM is ignored: only SIGKILL after the 2 s grace period ends the victim. */
        int status = harness_wait_run("victim", 10000);
        fprintf(stderr, "victim's colo run: status 0x%x; its output:\n%s", status, harness_read_text(log));
        CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
        CHECK(strstr(harness_read_text(log), "was evicted by colo: "));
        CHECK(strstr(harness_read_text(log), "memory available"));

        CHECK(harness_alive(online));
        CHECK(harness_alive(keeper));
        /* The record outlives the group: still listed, evicted, with its reason. */
        harness_sleep_ms(600);
        CHECK(harness_try_read_i64(harness_cg_path("cpu", "offline/best-effort/victim/cgroup.procs")) < 0);
        const char *doc = harness_read_text(status_path);
        const char *v = strstr(doc, "\"name\": \"victim\"");
        CHECK(v);
        CHECK(strstr(v, "\"state\": \"evicted\""));
        const char *k = strstr(doc, "\"name\": \"keeper\"");
        CHECK(k && strstr(k, "\"state\"") && strncmp(strstr(k, "\"state\""), "\"state\": \"evicted\"", 18) != 0);
        CHECK(strstr(doc, "\"evictions_total\": 1"));
        return harness_teardown();
}
