/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): an offline fork bomb inside colo stops at pids.max, while
 * online work can still fork and the agent stays up. The limits are made small through the
 * configuration (offline parent 40, batch and best-effort tiers 30 each); a bounded fork bomb
 * (colo-test-workload forkbomb 100) in the batch tier gets no more than its tier allows, a second
 * one in best-effort no more than what the parent has left, and an online one all 100 it asks
 * for. With argv[3] = "off" (features.pids_limit: false) the agent writes "max" instead and the
 * batch bomb gets all 100: what happens without the limit. Every process is in the scratch group;
 * the harness kills what is left there at the end. Needs root and the v1 cpu, memory and pids
 * hierarchies, or a delegated cgroup v2 with the pids controller: exit 77. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-harness.h"

#define BOMB "100"

static bool have_pids_hierarchy(void) {
        FILE *f = fopen("/proc/self/cgroup", "r");
        if (!f)
                return false;
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f)) {
                const char *ctrls = strchr(line, ':');
                found = ctrls && strncmp(ctrls + 1, "pids:", 5) == 0;
        }
        fclose(f);
        return found;
}

/* Runs a fork bomb of BOMB children as cls/tier/name and returns how many it forked. */
static long run_forkbomb(const char *cls, const char *tier, const char *name) {
        char log[512];
        snprintf(log, sizeof(log), "%s/%s.log", harness_dir(), name);
        (void) harness_run_logged(cls, tier, name, log, (const char *const[]) { "forkbomb", BOMB, NULL });
        long forked = -1, refused = -1;
        for (int i = 0; i < 500; i++) {
                const char *out = strstr(harness_read_text(log), "forkbomb: ");
                if (out && sscanf(out, "forkbomb: %ld forked, %ld refused", &forked, &refused) == 2)
                        break;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "%s/%s/%s: %s", cls, tier, name, strstr(harness_read_text(log), "forkbomb: ") ?: "no report\n");
        CHECK(forked >= 0 && forked + refused == atol(BOMB));
        return forked;
}

/* Waits until the agent has put pids.max on rel (the v1 pids hierarchy, or v2's one). */
static void wait_pids_max(const char *rel, int64_t want) {
        int64_t got = -1;
        for (int i = 0; i < 500 && got != want; i++) {
                got = harness_try_read_i64(harness_cg_path("pids", rel));
                if (got != want)
                        harness_sleep_ms(20);
        }
        fprintf(stderr, "%s = %" PRIi64 "\n", rel, got);
        CHECK(got == want);
}

int main(int argc, char **argv) {
        bool off = argc > 3 && strcmp(argv[3], "off") == 0;
        int r = harness_setup(argc, argv,
                              off ? "features:\n  pids_limit: false\n"
                                    "isolation:\n  offline_pids_max: 40\n  batch_pids_max: 30\n  best_effort_pids_max: 30\n" :
                                    "isolation:\n  offline_pids_max: 40\n  batch_pids_max: 30\n  best_effort_pids_max: 30\n");
        if (r != 0)
                return r;
        /* v2: the scratch group gets every controller its parent has, pids included (the VM's
         * cgroup2 root offers it); the pids.max files below then exist or the test fails. */
        if (!harness_v2() && !have_pids_hierarchy()) {
                fprintf(stderr, "no v1 pids hierarchy: skipped\n");
                (void) harness_teardown();
                return HARNESS_SKIP;
        }
        harness_start_agent(250);
        if (off) {
                harness_sleep_ms(600);  /* a few periods */
                CHECK(strcmp(harness_read_text(harness_cg_path("pids", "offline/pids.max")), "max\n") == 0);
                CHECK(strcmp(harness_read_text(harness_cg_path("pids", "offline/batch/pids.max")), "max\n") == 0);
                CHECK(run_forkbomb("offline", "batch", "bomb") == atol(BOMB));
                CHECK(harness_alive(harness_agent_pid()));
                return harness_teardown();
        }
        wait_pids_max("offline/pids.max", 40);
        wait_pids_max("offline/batch/pids.max", 30);
        wait_pids_max("offline/best-effort/pids.max", 30);

        /* The tier's limit counts the bomb itself: at most 29 children. */
        long batch = run_forkbomb("offline", "batch", "bomb");
        CHECK(batch == 29);
        CHECK(harness_read_i64(harness_cg_path("pids", "offline/batch/pids.current")) <= 30);

        /* The parent has 40 - (batch + 1) left for best-effort, the bomb included. */
        long best_effort = run_forkbomb("offline", "best-effort", "bomb2");
        CHECK(best_effort == 40 - (batch + 1) - 1);
        CHECK(harness_read_i64(harness_cg_path("pids", "offline/pids.current")) <= 40);

        /* Online work is not limited by offline's pids.max, and the agent keeps running. */
        long online = run_forkbomb("online", "normal", "forker");
        CHECK(online == atol(BOMB));
        CHECK(harness_alive(harness_agent_pid()));
        CHECK(harness_colo((const char *const[]) { "status", NULL }) == 0);
        return harness_teardown();
}
