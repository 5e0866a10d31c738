/* Integration test of the IO knobs on real cgroups (issue 12, must-have 4): the agent, configured
 * with throttles on the offline parent and the best-effort tier and with IO weights, writes them
 * into the kernel's files, on v1 (blkio.throttle.*, blkio.weight or blkio.bfq.weight) and on v2
 * in the VM (io.max, io.weight, io.bfq.weight where present). The device is this node's first
 * disk, named by its /dev path (so the agent resolves it with stat()) and by MAJ:MIN; on v1,
 * whose throttles are not hierarchical, an offline workload's leaf carries them too. The agent
 * must also report the disk when its scheduler ignores the weights. With argv[3] = "off"
 * (features.io_throttle and io_weight false) the device has no throttle and the weights are 100.
 * Needs root and the v1 blkio hierarchy or a delegated v2 with the io controller: exit 77. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-harness.h"

typedef struct Disk {
        char name[64], devnum[32], path[96], scheduler[256];
} Disk;

/* The first disk of /sys/block that holds data (loop, ram and zram skipped). */
static bool find_disk(Disk *d) {
        DIR *dir = opendir("/sys/block");
        if (!dir)
                return false;
        bool found = false;
        for (struct dirent *e; !found && (e = readdir(dir));) {
                if (e->d_name[0] == '.' || !strncmp(e->d_name, "loop", 4) || !strncmp(e->d_name, "ram", 3) ||
                    !strncmp(e->d_name, "zram", 4))
                        continue;
                char p[512];
                snprintf(p, sizeof(p), "/sys/block/%s/queue/scheduler", e->d_name);
                if (access(p, R_OK) < 0)
                        continue;
                snprintf(d->scheduler, sizeof(d->scheduler), "%s", harness_read_text(p));
                snprintf(p, sizeof(p), "/sys/block/%s/dev", e->d_name);
                snprintf(d->devnum, sizeof(d->devnum), "%s", harness_read_text(p));
                d->devnum[strcspn(d->devnum, "\n")] = '\0';
                snprintf(d->name, sizeof(d->name), "%s", e->d_name);
                struct stat st;
                snprintf(d->path, sizeof(d->path), "/dev/%s", e->d_name);
                if (stat(d->path, &st) < 0 || !S_ISBLK(st.st_mode))
                        snprintf(d->path, sizeof(d->path), "%s", d->devnum);   /* no device node: MAJ:MIN */
                found = d->devnum[0] != '\0';
        }
        closedir(dir);
        return found;
}

/* The line of file (in the io/blkio hierarchy) that starts with the device, "" when none. */
static const char *device_line(const char *rel, const char *file, const Disk *d) {
        static char line[256];
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", rel, file);
        const char *text = harness_read_text(harness_cg_path("blkio", p));
        size_t n = strlen(d->devnum);
        line[0] = '\0';
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, d->devnum, n) == 0 && l[n] == ' ') {
                        snprintf(line, sizeof(line), "%.*s", (int) strcspn(l, "\n"), l);
                        break;
                }
        return line;
}

/* Waits (loosely: emulated VMs are slow) until the line of file for the disk reads want. */
static void wait_line(const char *rel, const char *file, const Disk *d, const char *want) {
        const char *got = "";
        for (int i = 0; i < 500; i++) {
                got = device_line(rel, file, d);
                if (strcmp(got, want) == 0)
                        break;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "%s/%s: \"%s\" (want \"%s\")\n", rel, file, got, want);
        CHECK(strcmp(got, want) == 0);
}

/* The weight colo wrote to rel, from whichever weight file the kernel has; -1 without any. */
static long read_weight(const char *rel) {
        static const char *const files[] = { "io.weight", "io.bfq.weight", "blkio.weight", "blkio.bfq.weight" };
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                char p[512];
                snprintf(p, sizeof(p), "%s/%s", rel, files[i]);
                const char *path = harness_cg_path("blkio", p);
                if (access(path, R_OK) < 0)
                        continue;
                const char *t = harness_read_text(path);
                if (strncmp(t, "default ", 8) == 0)
                        t += 8;
                return atol(t);
        }
        return -1;
}

static void wait_weight(const char *rel, long want) {
        long got = -1;
        for (int i = 0; i < 500 && got != want; i++) {
                got = read_weight(rel);
                if (got == -1)
                        break;
                if (got != want)
                        harness_sleep_ms(20);
        }
        fprintf(stderr, "%s weight: %ld (want %ld; -1: no weight file in this kernel)\n", rel, got, want);
        CHECK(got == want || got == -1);
}

/* Whether the agent should call the weights ineffective on this disk, as io_support_check() does. */
static bool weights_ignored(const Disk *d) {
        if (strstr(d->scheduler, "[bfq]") || (!harness_v2() && strstr(d->scheduler, "[cfq]")))
                return false;
        if (harness_v2() && access("/sys/fs/cgroup/io.cost.qos", R_OK) == 0) {
                char want[64];
                snprintf(want, sizeof(want), "%s enable=1", d->devnum);
                return !strstr(harness_read_text("/sys/fs/cgroup/io.cost.qos"), want);
        }
        return true;
}

/* A leaf `colo run` makes carries the throttles before its first process runs, not from the
 * agent's next period on (v1): with the agent stopped, nobody else can have written them. */
static void check_leaf_throttled_from_the_start(const Disk *d) {
        char want[128];
        CHECK(harness_stop_agent() == 0);
        (void) harness_run("offline", "batch", "late-writer", (const char *const[]) { "hold", "1", NULL });
        snprintf(want, sizeof(want), "%s 10485760", d->devnum);
        CHECK(strcmp(device_line("offline/batch/late-writer", "blkio.throttle.write_bps_device", d), want) == 0);
        snprintf(want, sizeof(want), "%s 500", d->devnum);
        CHECK(strcmp(device_line("offline/batch/late-writer", "blkio.throttle.read_iops_device", d), want) == 0);
        CHECK(strcmp(device_line("offline/batch/late-writer", "blkio.throttle.write_iops_device", d), "") == 0);
        harness_start_agent(250);
}

int main(int argc, char **argv) {
        Disk d = {};
        if (!find_disk(&d)) {
                fprintf(stderr, "no disk in /sys/block: skipped\n");
                return HARNESS_SKIP;
        }
        bool off = argc > 3 && strcmp(argv[3], "off") == 0;
        char yaml[1024];
        snprintf(yaml, sizeof(yaml),
                 "features:\n  io_throttle: %s\n  io_weight: %s\n"
                 "isolation:\n  online_io_weight: 800\n  offline_io_weight: 20\n"
                 "  offline_io_max: \"%s wbps=10Mi riops=500\"\n  best_effort_io_max: \"%s wiops=100\"\n",
                 off ? "false" : "true", off ? "false" : "true", d.path, d.devnum);
        int r = harness_setup(argc, argv, yaml);
        if (r != 0)
                return r;
        if (!harness_v2() && !harness_has_hierarchy("blkio")) {
                fprintf(stderr, "no v1 blkio hierarchy: skipped\n");
                return HARNESS_SKIP;
        }
        fprintf(stderr, "disk %s (%s) as \"%s\", scheduler: %s", d.name, d.devnum, d.path, d.scheduler);
        char log[512];
        snprintf(log, sizeof(log), "%s/agent.log", harness_dir());
        harness_start_agent_logged(250, log);

        bool v2 = harness_v2();
        if (off) {
                harness_sleep_ms(600);  /* a few periods */
                CHECK(strcmp(device_line("offline", v2 ? "io.max" : "blkio.throttle.write_bps_device", &d), "") == 0);
                CHECK(strcmp(device_line("offline/best-effort", v2 ? "io.max" : "blkio.throttle.write_iops_device", &d),
                             "") == 0);
                wait_weight("offline", 100);
                wait_weight("online", 100);
                CHECK(harness_alive(harness_agent_pid()));
                return harness_teardown();
        }
        char want[128];
        if (v2) {
                snprintf(want, sizeof(want), "%s rbps=max wbps=10485760 riops=500 wiops=max", d.devnum);
                wait_line("offline", "io.max", &d, want);
                snprintf(want, sizeof(want), "%s rbps=max wbps=max riops=max wiops=100", d.devnum);
                wait_line("offline/best-effort", "io.max", &d, want);
        } else {
                snprintf(want, sizeof(want), "%s 10485760", d.devnum);
                wait_line("offline", "blkio.throttle.write_bps_device", &d, want);
                snprintf(want, sizeof(want), "%s 500", d.devnum);
                wait_line("offline", "blkio.throttle.read_iops_device", &d, want);
                CHECK(strcmp(device_line("offline", "blkio.throttle.read_bps_device", &d), "") == 0);
                snprintf(want, sizeof(want), "%s 100", d.devnum);
                wait_line("offline/best-effort", "blkio.throttle.write_iops_device", &d, want);
        }
        /* v1's blk-throttle binds only a group's own tasks: each offline leaf carries the
         * parent's and its tier's throttles. v2's is hierarchical: the leaf has none. */
        (void) harness_run("offline", "best-effort", "writer", (const char *const[]) { "hold", "1", NULL });
        if (v2) {
                harness_sleep_ms(600);
                CHECK(strcmp(device_line("offline/best-effort/writer", "io.max", &d), "") == 0);
        } else {
                snprintf(want, sizeof(want), "%s 10485760", d.devnum);
                wait_line("offline/best-effort/writer", "blkio.throttle.write_bps_device", &d, want);
                snprintf(want, sizeof(want), "%s 100", d.devnum);
                wait_line("offline/best-effort/writer", "blkio.throttle.write_iops_device", &d, want);
        }
        if (!v2)
                check_leaf_throttled_from_the_start(&d);
        wait_weight("offline", 20);
        wait_weight("online", 800);
        wait_weight("offline/batch", 100);
        wait_weight("offline/best-effort", v2 ? 10 : 10);

        /* No silent half-isolation: a disk whose scheduler ignores the weights is named. */
        char report[256];
        snprintf(report, sizeof(report), "Protection not in force: IO weights on '%s' (%s)", d.name, d.devnum);
        bool reported = strstr(harness_read_text(log), report) != NULL;
        fprintf(stderr, "weights ignored on %s: %s; reported: %s\n", d.name, weights_ignored(&d) ? "yes" : "no",
                reported ? "yes" : "no");
        CHECK(reported == weights_ignored(&d));
        CHECK(harness_alive(harness_agent_pid()));
        return harness_teardown();
}
