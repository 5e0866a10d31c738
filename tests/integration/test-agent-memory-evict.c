/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): an offline workload that keeps growing while squeezed is
 * evicted by colo (SIGTERM, so `colo run` exits 128 + 15 and prints the eviction), not killed by
 * the kernel's memcg OOM killer (oom_kill of its group stays 0 while it runs). The memory watermark is
 * set to 1.5 x MemAvailable, so the node is under it (squeezed at once) but above half of it (no
 * immediate eviction): the hog, growing by 8 MiB every 100 ms, is evicted only after the 3 s
 * squeeze hold. The squeezed memory.limit_in_bytes (v2: memory.max, with memory.high at the
 * squeezed level, where the kernel throttles the hog) keeps isolation.memory_headroom (128 MiB)
 * above the working set; before issue 12 it was the working set itself, and the hog's next
 * allocation was an OOM kill (argv[3] = "off", features.memory_throttle: false, shows that).
 * Needs root and v1 or a delegated v2: exit 77. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-harness.h"

#define MIB ((int64_t) 1024 * 1024)

/* The memcg OOM kills in group rel (v1 memory.oom_control, v2 memory.events.local: "oom_kill",
 * counted in the victim's own group, not its parents), or -1 when the group is gone. */
static long group_oom_kills(const char *rel) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", harness_cg_path("memory", rel),
                 harness_v2() ? "memory.events.local" : "memory.oom_control");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        char buf[512];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        const char *text = strstr(buf, "oom_kill ");
        long kills = -1;
        return text && sscanf(text, "oom_kill %ld", &kills) == 1 ? kills : -1;
}

/* OOM kills on the whole machine (/proc/vmstat oom_kill): other tests may add to it. */
static long host_oom_kills(void) {
        const char *text = strstr(harness_read_text("/proc/vmstat"), "oom_kill ");
        long n = -1;
        CHECK(text && sscanf(text, "oom_kill %ld", &n) == 1);
        return n;
}

int main(int argc, char **argv) {
        bool off = argc > 3 && strcmp(argv[3], "off") == 0;
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "%sisolation:\n  memory_free_watermark: %" PRIu64 "\n  squeeze_hold: 3s\n  evict_cooldown: 1h\n",
                 off ? "features:\n  memory_throttle: false\n" : "", harness_meminfo("MemAvailable") / 2 * 3);
        int r = harness_setup(argc, argv, yaml);
        if (r != 0)
                return r;
        long host_kills0 = host_oom_kills();

        /* The hog first (`colo run` works without an agent), then the agent, which squeezes from
         * its first period on: without the headroom a squeeze that starts while offline is empty
         * would leave a zero limit that no workload could start under. */
        char log[512];
        snprintf(log, sizeof(log), "%s/hog.log", harness_dir());
        (void) harness_run_logged("offline", "batch", "hog", log, (const char *const[]) { "grow", "8", "100", "1024", NULL });
        harness_sleep_ms(300);
        harness_start_agent(250);
        /* Wait for it, watching the OOM kills of its own group while the group exists. */
        int status = -1;
        long leaf_kills = 0;
        for (int i = 0; i < 1000 && status < 0; i++) {
                leaf_kills = group_oom_kills("offline/batch/hog") > leaf_kills ? group_oom_kills("offline/batch/hog") :
                                                                                  leaf_kills;
                status = harness_wait_run("hog", 0);
        }
        long kills = host_oom_kills() - host_kills0;
        int64_t peak = harness_read_i64(
                harness_cg_path("memory", harness_v2() ? "offline/memory.peak" : "offline/memory.max_usage_in_bytes"));
        int64_t limit = harness_read_i64(
                harness_cg_path("memory", harness_v2() ? "offline/memory.max" : "offline/memory.limit_in_bytes"));
        fprintf(stderr, "hog's colo run: status 0x%x (exit %d); OOM kills in its group %ld, on the host %ld, peak %" PRIi64 " MiB, limit %" PRIi64
                        " MiB; its output:\n%s",
                status, status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, leaf_kills, kills, peak / MIB, limit / MIB,
                harness_read_text(log));
        (void) harness_colo((const char *const[]) { "status", NULL });

        if (off) {
                /* Without the headroom the kernel kills it, with no SIGTERM and no grace period. */
                CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
                CHECK(kills > 0);       /* the host count: the group is gone too fast to read */
                CHECK(!strstr(harness_read_text(log), "was evicted by colo: "));
                return harness_teardown();
        }
        CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM);
        CHECK(strstr(harness_read_text(log), "was evicted by colo: "));
        CHECK(strstr(harness_read_text(log), "while squeezed for"));
        CHECK(leaf_kills == 0);
        /* It grew while squeezed, and was neither killed nor stopped early. On v2 the kernel
         * throttles it at memory.high meanwhile, so how far it gets in the 3 s hold depends on the
         * CPU (49 MiB seen in the emulated VM of tests/vm): the bound there is looser. */
        CHECK(peak > (harness_v2() ? 16 : 64) * MIB);
        if (harness_v2()) {
                /* v2 throttles at memory.high, the squeezed level, below the hard memory.max. */
                const char *high = harness_read_text(harness_cg_path("memory", "offline/memory.high"));
                fprintf(stderr, "offline memory.high %s", high);
                CHECK(strcmp(high, "max\n") != 0 && strtoll(high, NULL, 10) > 0 && strtoll(high, NULL, 10) < limit);
        }
        CHECK(harness_alive(harness_agent_pid()));
        return harness_teardown();
}
