/* Integration test of src/lib/cgroup on a real cgroup v2 hierarchy (the VM of tests/vm: kernel
 * 6.1, systemd 252, a Delegate=yes service): inside a scratch group below our own cgroup it
 * creates colo's groups (enabling the controllers down the tree), applies the v2 knobs and reads
 * them back from the kernel's files (cpu.weight, cpu.idle, cpu.max, memory.low/min/high/max,
 * io.weight where the kernel has it), attaches a child that uses some CPU and memory, reads its
 * usage and per-group PSI, arms a per-group PSI trigger, watches memory.events and sees it fire
 * when a lowered memory.max OOM-kills the child, and removes every group. Needs root and a
 * delegated cgroup v2 (exit 77 otherwise, as on this machine's v1). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "scratch-cgroup.h"

#define CHECK(cond)                                                                              \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        exit(1); /* atexit() removes the scratch group */                      \
                }                                                                                \
        } while (0)

#define CHECK_OK(call)                                                                                     \
        do {                                                                                               \
                int _r = (call);                                                                           \
                if (_r < 0) {                                                                              \
                        fprintf(stderr, "%s:%d: %s = %d: %s\n", __FILE__, __LINE__, #call, _r, err.msg); \
                        exit(1);                                                                           \
                }                                                                                          \
        } while (0)

static ColoError err;

static const char *read_file(const char *dir, const char *group, const char *name) {
        static char buf[4096];
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s/%s", dir, group, name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "open '%s': %s\n", p, strerror(errno));
                exit(1);
        }
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        CHECK(n >= 0);
        buf[n] = '\0';
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = '\0';
        return buf;
}

typedef struct WriteLog {
        int writes, failures;
} WriteLog;

static void on_write(void *userdata, const char *path, const char *value, int r) {
        WriteLog *l = userdata;
        l->writes++;
        if (r < 0) {
                l->failures++;
                fprintf(stderr, "write '%s' to '%s' failed: %s\n", value, path, strerror(-r));
        }
}

/* A child that waits for "go", then burns ~100 ms of CPU and touches 16 MiB, says "done" and sleeps. */
static pid_t spawn_worker(int *go_fd, int *done_fd) {
        int go[2], done[2];
        CHECK(pipe(go) == 0 && pipe(done) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(go[1]);
                close(done[0]);
                char c;
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                struct timespec start, now;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
                volatile uint64_t x = 0;
                do {
                        for (int i = 0; i < 100000; i++)
                                x += (uint64_t) i;
                        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
                } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 100000000L);
                size_t size = 16 << 20;
                volatile char *mem = malloc(size);     /* volatile: the stores must happen */
                if (!mem)
                        _exit(1);
                mem[0] = (char) x;
                for (size_t i = 0; i < size; i += 4096)
                        mem[i] = 1;
                if (write(done[1], "d", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(go[0]);
        close(done[1]);
        *go_fd = go[1];
        *done_fd = done[0];
        return pid;
}

static bool controller_enabled(const char *dir, const char *name) {
        char padded[512], needle[32];
        snprintf(padded, sizeof(padded), " %s ", read_file(dir, ".", "cgroup.subtree_control"));
        snprintf(needle, sizeof(needle), " %s ", name);
        return strstr(padded, needle) != NULL;
}

int main(void) {
        ScratchCgroup *scratch = NULL;
        int r = scratch_cgroup_create(&scratch);
        if (r == -EPERM || r == -ENOMEDIUM) {
                fprintf(stderr, "SKIP: needs root and mounted cgroups\n");
                return 77;
        }
        CHECK(r == 0);
        const char *dir = scratch_cgroup_path(scratch, NULL);
        if (!dir || scratch_cgroup_has_v1(scratch, "cpu")) {
                fprintf(stderr, "SKIP: no delegated cgroup v2 (the VM of tests/vm has one)\n");
                scratch_cgroup_destroy(scratch);
                return 77;
        }

        WriteLog log = {};
        CgRootOptions o = { .mode = CG_MODE_DETECT, .subtree = scratch_cgroup_subtree(scratch), .report_successes = true };
        CgRoot *root = NULL;
        CHECK_OK(cg_root_open(&o, &root, &err));
        printf("%s\n", cg_root_describe(root));
        CHECK(cg_root_mode(root) == CG_MODE_V2);
        CHECK(cg_root_has_controller(root, CG_CTRL_CPU) && cg_root_has_controller(root, CG_CTRL_MEMORY));

        CgGroup *online = NULL, *offline = NULL;
        CHECK_OK(cg_group_open(root, "online/normal/x", true, &online, &err));
        CHECK_OK(cg_group_open(root, "offline/batch/y", true, &offline, &err));
        /* Creating enabled the controllers from the managed root down to the leaves' parents. */
        char p[PATH_MAX];
        static const char *const parents[] = { "", "online", "online/normal", "offline", "offline/batch" };
        for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, parents[i]);
                CHECK(controller_enabled(p, "cpu") && controller_enabled(p, "memory"));
        }

        CgKnobs on_want, on_last, off_want, off_last;
        cg_knobs_init(&on_want);
        cg_knobs_init(&on_last);
        cg_knobs_init(&off_want);
        cg_knobs_init(&off_last);
        on_want.cpu_weight = 200;
        on_want.mem_max = 256 << 20;
        on_want.mem_low = 32 << 20;
        on_want.mem_min = 16 << 20;
        on_want.io_weight = 200;
        on_want.oom_score_adj = -100;
        off_want.cpu_weight = 10;
        off_want.cpu_idle = 1;
        off_want.cpu_quota_usec = 50000;
        off_want.cpu_period_usec = 100000;
        off_want.mem_high = 48 << 20;
        off_want.mem_max = 64 << 20;
        off_want.io_weight = 10;
        off_want.oom_score_adj = 800;
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(cg_group_apply(offline, &off_want, &off_last, on_write, &log, &err) == 0);
        CHECK(log.failures == 0 && log.writes > 0);

        CHECK(strcmp(read_file(dir, "online/normal/x", "cpu.weight"), "200") == 0);
        CHECK(strcmp(read_file(dir, "online/normal/x", "memory.max"), "268435456") == 0);
        CHECK(strcmp(read_file(dir, "online/normal/x", "memory.low"), "33554432") == 0);
        CHECK(strcmp(read_file(dir, "online/normal/x", "memory.min"), "16777216") == 0);
        CHECK(strcmp(read_file(dir, "offline/batch/y", "cpu.idle"), "1") == 0);
        /* Idle: colo writes no weight (the kernel refuses it); the group has the idle minimum. */
        CHECK(strcmp(read_file(dir, "offline/batch/y", "cpu.weight"), "0") == 0);
        CHECK(strcmp(read_file(dir, "offline/batch/y", "cpu.max"), "50000 100000") == 0);
        CHECK(strcmp(read_file(dir, "offline/batch/y", "memory.high"), "50331648") == 0);
        CHECK(strcmp(read_file(dir, "offline/batch/y", "memory.max"), "67108864") == 0);
        if (cg_group_has_file(online, CG_CTRL_IO, "io.weight")) {
                CHECK(strcmp(read_file(dir, "online/normal/x", "io.weight"), "default 200") == 0);
                CHECK(strcmp(read_file(dir, "offline/batch/y", "io.weight"), "default 10") == 0);
        } else {
                printf("io.weight: not in this kernel (no iocost), skipped as colo skips it\n");
        }

        /* In and out of cpu.idle: the kernel resets the weight both ways (to the idle minimum,
         * then to the default 100); the weight colo wants must be back afterwards. */
        on_want.cpu_idle = 1;
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(strcmp(read_file(dir, "online/normal/x", "cpu.idle"), "1") == 0);
        on_want.cpu_idle = 0;
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(strcmp(read_file(dir, "online/normal/x", "cpu.weight"), "200") == 0);

        /* Steady state: nothing written. */
        log = (WriteLog) {};
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(cg_group_apply(offline, &off_want, &off_last, on_write, &log, &err) == 0);
        CHECK(log.writes == 0);

        /* Per-group PSI: a trigger on the group's own memory.pressure can be armed. */
        char pressure[PATH_MAX];
        CHECK(cg_group_pressure_path(offline, "memory", pressure, sizeof(pressure)) == 0);
        int psi_fd = -1;
        CHECK_OK(cg_psi_trigger_open(pressure, false, 50000, 1000000, &psi_fd, &err));
        close(psi_fd);
        int events_fd = -1;
        CHECK_OK(cg_group_memory_events_fd(offline, &events_fd, &err));

        int go_fd, done_fd;
        pid_t worker = spawn_worker(&go_fd, &done_fd);
        CHECK_OK(cg_group_attach(offline, worker, &err));
        snprintf(p, sizeof(p), "/proc/%d", (int) worker);
        CHECK(strcmp(read_file(p, ".", "oom_score_adj"), "800") == 0);
        CHECK(write(go_fd, "g", 1) == 1);
        char c;
        CHECK(read(done_fd, &c, 1) == 1);

        CgUsage u;
        CHECK_OK(cg_group_read_usage(offline, &u, &err));
        printf("offline/batch/y: cpu %" PRIu64 " us, memory %" PRIu64 " B (working set %" PRIu64 "), %zu tasks\n",
               u.cpu_usage_usec, u.mem_usage, u.mem_working_set, u.nr_tasks);
        CHECK(u.cpu_usage_usec >= 50000);
        CHECK(u.mem_usage >= 16 << 20);
        CHECK(u.mem_working_set > 0 && u.mem_working_set <= u.mem_usage);
        CHECK(u.mem_limit == 64 << 20);
        CHECK(u.nr_tasks == 1);
        CHECK(u.cpu_pressure.valid && u.mem_pressure.valid);
        CgGroup *offline_parent = NULL;
        CHECK_OK(cg_group_open(root, "offline", false, &offline_parent, &err));
        CgUsage up;
        CHECK_OK(cg_group_read_usage(offline_parent, &up, &err));
        CHECK(up.nr_tasks == 1 && up.cpu_usage_usec >= u.cpu_usage_usec);
        cg_group_free(offline_parent);

        /* memory.max under what the worker holds (no swap here): the kernel OOM-kills it, and
         * memory.events changing wakes the inotify fd. The 10 s are loose for the VM's emulation. */
        off_want.mem_high = CG_UNLIMITED;
        off_want.mem_max = 4 << 20;
        CHECK(cg_group_apply(offline, &off_want, &off_last, on_write, &log, &err) == 0);
        struct pollfd pfd = { .fd = events_fd, .events = POLLIN };
        CHECK(poll(&pfd, 1, 10000) == 1);
        close(events_fd);
        int status;
        CHECK(waitpid(worker, &status, 0) == worker && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        close(go_fd);
        close(done_fd);
        for (int i = 0; i < 100; i++) {
                CHECK_OK(cg_group_read_usage(offline, &u, &err));
                if (u.nr_tasks == 0 && u.mem_oom_kills > 0)
                        break;
                usleep(20000);
        }
        CHECK(u.nr_tasks == 0 && u.mem_oom_kills >= 1);

        cg_group_free(online);
        cg_group_free(offline);
        static const char *const order[] = { "offline/batch/y", "offline/batch", "offline", "online/normal/x",
                                             "online/normal", "online" };
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
                CHECK_OK(cg_group_remove(root, order[i], &err));
        char **children = NULL;
        size_t n = 0;
        CHECK_OK(cg_group_list_children(root, "", &children, &n, &err));
        CHECK(n == 0);
        strv_free(children);
        cg_root_free(root);

        char scratch_dir[PATH_MAX];
        snprintf(scratch_dir, sizeof(scratch_dir), "%s", dir);
        CHECK(scratch_cgroup_destroy(scratch) == 0);
        struct stat st;
        CHECK(stat(scratch_dir, &st) < 0 && errno == ENOENT);
        printf("ok\n");
        return 0;
}
