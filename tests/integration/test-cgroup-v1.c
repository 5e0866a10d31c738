/* Integration test of src/lib/cgroup on this machine's real cgroup v1 hierarchies: inside a
 * scratch group below our own cgroup it creates colo's groups, applies knobs and reads them back
 * from the kernel's files, attaches a child that uses some CPU and memory, reads its usage, gets a
 * memory threshold event, kills it and removes every group. Needs root and v1: exit 77 otherwise. */
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

static bool dir_exists(const char *dir, const char *group) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, group);
        struct stat st;
        return stat(p, &st) == 0;
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

int main(void) {
        ScratchCgroup *scratch = NULL;
        int r = scratch_cgroup_create(&scratch);
        if (r == -EPERM || r == -ENOMEDIUM) {
                fprintf(stderr, "SKIP: needs root and mounted cgroups\n");
                return 77;
        }
        CHECK(r == 0);
        if (!scratch_cgroup_has_v1(scratch, "cpu") || !scratch_cgroup_has_v1(scratch, "memory")) {
                fprintf(stderr, "SKIP: no cgroup v1 cpu and memory hierarchies\n");
                scratch_cgroup_destroy(scratch);
                return 77;
        }
        const char *cpu_dir = scratch_cgroup_path(scratch, "cpu");
        const char *mem_dir = scratch_cgroup_path(scratch, "memory");
        const char *cpuset_dir = scratch_cgroup_path(scratch, "cpuset");

        WriteLog log = {};
        CgRootOptions o = { .mode = CG_MODE_DETECT, .subtree = scratch_cgroup_subtree(scratch), .report_successes = true };
        CgRoot *root = NULL;
        CHECK_OK(cg_root_open(&o, &root, &err));
        printf("%s\n", cg_root_describe(root));
        CHECK(cg_root_mode(root) == CG_MODE_V1);

        CgGroup *online = NULL, *offline = NULL;
        CHECK_OK(cg_group_open(root, "online/normal/x", true, &online, &err));
        CHECK_OK(cg_group_open(root, "offline/batch/y", true, &offline, &err));
        CHECK(dir_exists(cpu_dir, "online/normal/x") && dir_exists(mem_dir, "offline/batch/y"));

        CgKnobs on_want, on_last, off_want, off_last;
        cg_knobs_init(&on_want);
        cg_knobs_init(&on_last);
        cg_knobs_init(&off_want);
        cg_knobs_init(&off_last);
        on_want.cpu_weight = 200;
        on_want.mem_max = 256 << 20;
        on_want.mem_soft_limit = 128 << 20;
        on_want.oom_score_adj = -100;
        off_want.cpu_weight = 10;
        off_want.cpu_idle = 1;
        off_want.cpu_quota_usec = 50000;
        off_want.cpu_period_usec = 100000;
        off_want.mem_max = 64 << 20;
        off_want.mem_soft_limit = CG_UNLIMITED;
        off_want.oom_score_adj = 800;
        if (cpuset_dir)
                snprintf(off_want.cpuset_cpus, sizeof(off_want.cpuset_cpus), "0");
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(cg_group_apply(offline, &off_want, &off_last, on_write, &log, &err) == 0);
        CHECK(log.failures == 0 && log.writes > 0);

        CHECK(strcmp(read_file(cpu_dir, "online/normal/x", "cpu.shares"), "2048") == 0);
        CHECK(strcmp(read_file(mem_dir, "online/normal/x", "memory.limit_in_bytes"), "268435456") == 0);
        CHECK(strcmp(read_file(mem_dir, "online/normal/x", "memory.soft_limit_in_bytes"), "134217728") == 0);
        CHECK(strcmp(read_file(cpu_dir, "offline/batch/y", "cpu.cfs_quota_us"), "50000") == 0);
        CHECK(strcmp(read_file(cpu_dir, "offline/batch/y", "cpu.cfs_period_us"), "100000") == 0);
        CHECK(strcmp(read_file(mem_dir, "offline/batch/y", "memory.limit_in_bytes"), "67108864") == 0);
        if (cg_group_has_file(offline, CG_CTRL_CPU, "cpu.idle"))
                CHECK(strcmp(read_file(cpu_dir, "offline/batch/y", "cpu.idle"), "1") == 0);
        else
                CHECK(strcmp(read_file(cpu_dir, "offline/batch/y", "cpu.shares"), "102") == 0);
        if (cpuset_dir)
                CHECK(strcmp(read_file(cpuset_dir, "offline/batch/y", "cpuset.cpus"), "0") == 0);

        /* Steady state: nothing written. */
        log = (WriteLog) {};
        CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
        CHECK(cg_group_apply(offline, &off_want, &off_last, on_write, &log, &err) == 0);
        CHECK(log.writes == 0);

        /* In and out of cpu.idle: the kernel sets the group's weight to the idle minimum when it
         * becomes idle and to the default (1024 shares) when it stops; the weight colo wants must
         * be back after that. */
        if (cg_group_has_file(online, CG_CTRL_CPU, "cpu.idle")) {
                on_want.cpu_idle = 1;
                CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
                CHECK(strcmp(read_file(cpu_dir, "online/normal/x", "cpu.idle"), "1") == 0);
                on_want.cpu_idle = 0;
                CHECK(cg_group_apply(online, &on_want, &on_last, on_write, &log, &err) == 0);
                CHECK(strcmp(read_file(cpu_dir, "online/normal/x", "cpu.idle"), "0") == 0);
                CHECK(strcmp(read_file(cpu_dir, "online/normal/x", "cpu.shares"), "2048") == 0);
        }

        /* A v1 memory threshold eventfd fires when the worker's usage crosses 8 MiB. */
        int threshold_fd = -1;
        CHECK_OK(cg_group_memory_threshold_fd(offline, 8 << 20, &threshold_fd, &err));
        /* And a host PSI trigger can be armed. */
        int psi_fd = -1;
        if (access("/proc/pressure/memory", F_OK) == 0) {
                CHECK_OK(cg_psi_trigger_open("/proc/pressure/memory", false, 100000, 1000000, &psi_fd, &err));
                close(psi_fd);
        }

        int go_fd, done_fd;
        pid_t worker = spawn_worker(&go_fd, &done_fd);
        CHECK_OK(cg_group_attach(offline, worker, &err));
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d", (int) worker);
        CHECK(strcmp(read_file(p, ".", "oom_score_adj"), "800") == 0);
        CHECK(write(go_fd, "g", 1) == 1);
        char c;
        CHECK(read(done_fd, &c, 1) == 1);

        struct pollfd pfd = { .fd = threshold_fd, .events = POLLIN };
        CHECK(poll(&pfd, 1, 5000) == 1);
        uint64_t events = 0;
        CHECK(read(threshold_fd, &events, sizeof(events)) == sizeof(events) && events >= 1);
        close(threshold_fd);

        CgUsage u;
        CHECK_OK(cg_group_read_usage(offline, &u, &err));
        printf("offline/batch/y: cpu %" PRIu64 " us, memory %" PRIu64 " B (working set %" PRIu64 "), %zu tasks\n",
               u.cpu_usage_usec, u.mem_usage, u.mem_working_set, u.nr_tasks);
        CHECK(u.cpu_usage_usec >= 50000);
        CHECK(u.mem_usage >= 16 << 20);
        CHECK(u.mem_working_set > 0 && u.mem_working_set <= u.mem_usage);
        CHECK(u.mem_limit == 64 << 20);
        CHECK(u.nr_tasks == 1);
        if (cg_root_is_hybrid(root)) {
                /* Hybrid: per-group PSI from the group's mirror in the cgroup2 mount. */
                CHECK(u.cpu_pressure.valid && u.mem_pressure.valid);
                char pressure[PATH_MAX];
                CHECK(cg_group_pressure_path(offline, "memory", pressure, sizeof(pressure)) == 0);
                CHECK(strstr(pressure, "/unified/") != NULL);
                CHECK_OK(cg_psi_trigger_open(pressure, true, 50000, 1000000, &psi_fd, &err));
                close(psi_fd);
        }
        /* The parent groups see the task too (nr_tasks counts descendants). */
        CgGroup *offline_parent = NULL;
        CHECK_OK(cg_group_open(root, "offline", false, &offline_parent, &err));
        CgUsage up;
        CHECK_OK(cg_group_read_usage(offline_parent, &up, &err));
        CHECK(up.nr_tasks == 1 && up.cpu_usage_usec >= u.cpu_usage_usec);
        cg_group_free(offline_parent);

        CHECK(cg_group_kill(offline, SIGKILL, &err) == 1);
        int status;
        CHECK(waitpid(worker, &status, 0) == worker && WIFSIGNALED(status));
        close(go_fd);
        close(done_fd);
        for (int i = 0; i < 100; i++) {
                CHECK_OK(cg_group_read_usage(offline, &u, &err));
                if (u.nr_tasks == 0)
                        break;
                usleep(20000);
        }
        CHECK(u.nr_tasks == 0);

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
        CHECK(!dir_exists(cpu_dir, "online") && !dir_exists(mem_dir, "offline"));
        cg_root_free(root);

        char scratch_cpu[PATH_MAX];
        snprintf(scratch_cpu, sizeof(scratch_cpu), "%s", cpu_dir);
        CHECK(scratch_cgroup_destroy(scratch) == 0);
        struct stat st;
        CHECK(stat(scratch_cpu, &st) < 0 && errno == ENOENT);
        printf("ok\n");
        return 0;
}
