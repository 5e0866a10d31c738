/* Integration test on real cgroups (v1 here, v2 in the VM of tests/vm): an offline memory hog that grows steadily is squeezed or
 * stopped before the online process loses memory. The node is made small for the test through
 * existing configuration: isolation.reserved_memory = MemTotal - 640 MiB and no safety margin,
 * so offline gets about 640 MiB minus the online estimate. An online process holds 128 MiB; the
 * hog grows by 32 MiB every 100 ms towards 2 GiB. The hog must stay under the offline limit the
 * agent set (memory.max_usage_in_bytes of the offline parent; v2: memory.peak under memory.max)
 * and end up stopped (the memcg OOM killer or colo's eviction), while the online process keeps
 * all its resident memory; on v2 online's memory.low and memory.min protect what it holds. No
 * memory headroom: on v2 memory.max is then memory.high, the budget, so the hard cap stays the
 * 640 MiB node minus online (the throttle with headroom is test-agent-memory-evict's subject).
 * Needs root and v1 or v2: exit 77. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "agent-harness.h"

#define MIB ((uint64_t) 1024 * 1024)
#define NODE_MIB ((uint64_t) 640)
#define ONLINE_MIB ((uint64_t) 128)

int main(int argc, char **argv) {
        char yaml[512];
        uint64_t total = harness_meminfo("MemTotal");
        CHECK(total > 2 * NODE_MIB * MIB);
        snprintf(yaml, sizeof(yaml),
                 "isolation:\n  reserved_memory: %" PRIu64 "\n  memory_safety_margin: 0\n  memory_free_watermark: 0\n"
                 "  memory_headroom: 0\n",
                 total - NODE_MIB * MIB);
        int r = harness_setup(argc, argv, yaml);
        if (r != 0)
                return r;
        harness_start_agent(250);

        char online_mib[16];
        snprintf(online_mib, sizeof(online_mib), "%" PRIu64, ONLINE_MIB);
        pid_t online = harness_run("online", "normal", "svc", (const char *const[]) { "hold", online_mib, NULL });
        uint64_t rss0 = 0;
        for (int i = 0; i < 200 && rss0 < ONLINE_MIB * MIB; i++) {
                harness_sleep_ms(20);
                rss0 = harness_rss(online);
        }
        CHECK(rss0 >= ONLINE_MIB * MIB);
        harness_sleep_ms(600);          /* the estimate sees online's memory */

        const char *limit_file = harness_v2() ? "offline/memory.max" : "offline/memory.limit_in_bytes";
        const char *peak_file = harness_v2() ? "offline/memory.peak" : "offline/memory.max_usage_in_bytes";
        int64_t limit = harness_read_i64(harness_cg_path("memory", limit_file));
        if (harness_v2()) {
                int64_t low = harness_read_i64(harness_cg_path("memory", "online/memory.low"));
                int64_t min = harness_read_i64(harness_cg_path("memory", "online/memory.min"));
                fprintf(stderr, "online memory.low %" PRIi64 " MiB, memory.min %" PRIi64 " MiB\n", low / (int64_t) MIB,
                        min / (int64_t) MIB);
                CHECK(low > 0 && min > 0);
                CHECK(harness_read_i64(harness_cg_path("memory", "offline/memory.low")) == 0);
        }
        fprintf(stderr, "offline memory limit before the hog: %" PRIi64 " MiB\n", limit / (int64_t) MIB);
        CHECK(limit > 0 && (uint64_t) limit <= (NODE_MIB - ONLINE_MIB) * MIB);

        pid_t hog = harness_run("offline", "batch", "hog", (const char *const[]) { "grow", "32", "100", "2048", NULL });
        (void) hog;
        /* 2 GiB at 320 MiB/s would take 6.4 s; the limit stops it after about 1.6 s. */
        int status = harness_wait_run("hog", 12000);
        uint64_t rss1 = harness_rss(online);
        int64_t peak = harness_read_i64(harness_cg_path("memory", peak_file));
        int64_t limit_now = harness_read_i64(harness_cg_path("memory", limit_file));
        fprintf(stderr, "hog: %s; offline peak %" PRIi64 " MiB, limit %" PRIi64 " MiB; online RSS %" PRIu64 " -> %" PRIu64
                        " MiB\n",
                status < 0 ? "still running" : WIFSIGNALED(status) ? "supervisor killed" : WEXITSTATUS(status) == 137 ? "SIGKILLed (colo run exit 137)" : "exited", peak / (int64_t) MIB,
                limit_now / (int64_t) MIB, rss0 / MIB, rss1 / MIB);
        (void) harness_colo((const char *const[]) { "status", NULL });

        CHECK(status >= 0);                     /* the hog was stopped ... */
        CHECK(!WIFEXITED(status) || WEXITSTATUS(status) != 0);
        CHECK(peak <= (limit > limit_now ? limit : limit_now));        /* ... never past the offline limit */
        CHECK(harness_alive(online));           /* online kept running with all its memory */
        CHECK(rss1 >= rss0 * 95 / 100);
        return harness_teardown();
}
