/* End-to-end harness for the agent's integration tests (see agent-harness.h). Test code: it keeps
 * its bookkeeping in file-scope variables so the atexit() handler can clean up after a failed
 * CHECK() anywhere. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-harness.h"
#include "scratch-cgroup.h"

#define MAX_RUNS 16
/* The scratch group's weight: that of the test process, which is the parent of the agent and of
 * `colo run` (v1: a nice-0 task in the test's own cgroup; v2: the test's own leaf, weighted
 * 10000 by scratch-cgroup.c). A heavier scratch group starves them whenever anything in it runs,
 * the offline hogs included: cpu.idle makes a group idle only among its siblings, and the scratch
 * group itself is an ordinary one. At 65536 shares on v1 the agent, the harness and `colo run`
 * stalled for up to 50 s next to two offline hogs (agent-cpu-control, agent-cpu). */
#define HARNESS_CPU_SHARES 1024
#define HARNESS_CPU_WEIGHT 10000        /* v2's maximum */

static struct {
        ScratchCgroup *scratch;
        const char *colo, *workload;
        char dir[64];
        char config[PATH_MAX], state_dir[PATH_MAX];
        char extra_yaml[2048];
        char agent_lines[512];          /* harness_set_agent_lines() */
        pid_t agent;
        struct {
                pid_t supervisor;
                char name[64];
                bool reaped;
                int status;
        } runs[MAX_RUNS];
        size_t n_runs;
        bool torn_down;
        bool v2;        /* the scratch group is in the cgroup v2 hierarchy only */
} H;

bool harness_v2(void) {
        return H.v2;
}

void harness_sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

long harness_timeout_scale(void) {
        const char *s = getenv("COLO_TEST_TIMEOUT_SCALE");
        long n = s ? strtol(s, NULL, 10) : 1;
        return n >= 1 && n <= 100 ? n : 1;
}

int harness_metrics_port(void) {
        return 20000 + (int) (getpid() % 20000);
}

pid_t harness_agent_pid(void) {
        return H.agent;
}

const char *harness_config_path(void) {
        return H.config;
}

const char *harness_state_dir(void) {
        return H.state_dir;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(p);
}

/* Stops a child: SIGTERM, then SIGKILL after timeout_ms. */
static void stop_child(pid_t pid, long timeout_ms, int *ret_status) {
        int status = 0;
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        for (long waited = 0; waited < timeout_ms; waited += 20) {
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        if (ret_status)
                                *ret_status = status;
                        return;
                }
                harness_sleep_ms(20);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, &status, 0);
        if (ret_status)
                *ret_status = status;
}

int harness_teardown(void) {
        int ret = 0;
        if (H.torn_down)
                return 0;
        H.torn_down = true;
        for (size_t i = 0; i < H.n_runs; i++)
                if (!H.runs[i].reaped) {
                        (void) kill(H.runs[i].supervisor, SIGKILL);
                        (void) waitpid(H.runs[i].supervisor, NULL, 0);
                }
        if (H.agent > 0) {
                int status = 0;
                stop_child(H.agent, 5000, &status);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "harness: the agent did not exit cleanly on SIGTERM (status 0x%x)\n", status);
                        ret = 1;
                }
                H.agent = 0;
        }
        if (H.scratch) {
                (void) scratch_cgroup_destroy(H.scratch);
                H.scratch = NULL;
        }
        if (H.dir[0])
                (void) nftw(H.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return ret;
}

const char *harness_colo_path(void) {
        return H.colo;
}

const char *harness_workload_path(void) {
        return H.workload;
}

int harness_kill_agent(int sig) {
        int status = 0;
        if (H.agent <= 0)
                return -1;
        if (sig == SIGKILL) {
                (void) kill(H.agent, SIGKILL);
                (void) waitpid(H.agent, &status, 0);
        } else
                stop_child(H.agent, 5000, &status);
        H.agent = 0;
        return status;
}

static void teardown_at_exit(void) {
        (void) harness_teardown();
}

static void write_config(unsigned period_ms);

int harness_setup(int argc, char **argv, const char *extra_yaml) {
        if (argc < 3) {
                fprintf(stderr, "usage: %s COLO WORKLOAD\n", argv[0]);
                exit(2);
        }
        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: needs root\n");
                return HARNESS_SKIP;
        }
        H.colo = argv[1];
        H.workload = argv[2];
        int r = scratch_cgroup_create(&H.scratch);
        if (r == -EPERM || r == -ENOMEDIUM) {
                fprintf(stderr, "SKIP: no writable cgroup hierarchy\n");
                return HARNESS_SKIP;
        }
        CHECK(r >= 0);
        H.v2 = !scratch_cgroup_has_v1(H.scratch, "cpu") && scratch_cgroup_path(H.scratch, NULL);
        if (!H.v2 && (!scratch_cgroup_has_v1(H.scratch, "cpu") || !scratch_cgroup_has_v1(H.scratch, "memory"))) {
                fprintf(stderr, "SKIP: needs the cgroup v1 cpu and memory hierarchies or a delegated cgroup v2\n");
                (void) scratch_cgroup_destroy(H.scratch);
                H.scratch = NULL;
                return HARNESS_SKIP;
        }
        atexit(teardown_at_exit);
        /* The scratch group stands for a whole node, the test process and its children for the
         * node's system services next to it: weight them alike (HARNESS_CPU_SHARES). Ours to
         * write: we created it. */
        FILE *shares = fopen(harness_cg_path("cpu", H.v2 ? "cpu.weight" : "cpu.shares"), "w");
        CHECK(shares && fprintf(shares, "%d", H.v2 ? HARNESS_CPU_WEIGHT : HARNESS_CPU_SHARES) > 0 && fclose(shares) == 0);
        fprintf(stderr, "harness: managed root %s (cgroup %s)\n", harness_cg_path("cpu", ""), H.v2 ? "v2" : "v1");
        snprintf(H.dir, sizeof(H.dir), "/tmp/colo-test-agent-XXXXXX");
        CHECK(mkdtemp(H.dir));
        snprintf(H.config, sizeof(H.config), "%s/colo.yaml", H.dir);
        snprintf(H.state_dir, sizeof(H.state_dir), "%s/state", H.dir);
        snprintf(H.extra_yaml, sizeof(H.extra_yaml), "%s", extra_yaml ? extra_yaml : "");
        /* Processes we start must not outlive us; SIGPIPE from a closed pipe neither. */
        (void) signal(SIGPIPE, SIG_IGN);
        write_config(500);      /* for `colo run` before the agent starts; rewritten by harness_start_agent() */
        return 0;
}

static pid_t spawn_logged(const char *const *argv, const char *log_path) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (log_path) {
                        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                                _exit(127);
                }
                execv(argv[0], (char *const *) argv);
                fprintf(stderr, "exec '%s': %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        return pid;
}

static pid_t spawn(const char *const *argv) {
        return spawn_logged(argv, NULL);
}

static void write_config(unsigned period_ms) {
        FILE *f = fopen(H.config, "w");
        CHECK(f);
        fprintf(f, "agent:\n  subtree: %s\n  state_dir: %s\n  period: %ums\n  evict_grace_period: 2s\n"
                   "  offline_placement: %s\n%s"
                   "metrics:\n  enabled: true\n  port: %d\nprediction:\n  checkpoint_path: %s/profiles.ckpt\n%s",
                scratch_cgroup_subtree(H.scratch), H.state_dir, period_ms, harness_offline_placement(),
                H.agent_lines, harness_metrics_port(), H.dir, H.extra_yaml);
        CHECK(fclose(f) == 0);
}

void harness_set_agent_lines(const char *lines) {
        CHECK(strlen(lines) < sizeof(H.agent_lines));
        snprintf(H.agent_lines, sizeof(H.agent_lines), "%s", lines);
}

void harness_start_agent(unsigned period_ms) {
        harness_start_agent_logged(period_ms, NULL);
}

void harness_start_agent_logged(unsigned period_ms, const char *log_path) {
        write_config(period_ms);
        const char *const argv[] = { H.colo, "agent", "--config", H.config, NULL };
        H.agent = log_path ? spawn_logged(argv, log_path) : spawn(argv);
        char status_path[PATH_MAX], want[64];
        snprintf(status_path, sizeof(status_path), "%s/status.json", H.state_dir);
        snprintf(want, sizeof(want), "\"pid\": %d,", (int) H.agent);
        for (int i = 0; i < 500; i++) {
                int status;
                if (waitpid(H.agent, &status, WNOHANG) == H.agent) {
                        fprintf(stderr, "harness: the agent exited during start-up (status 0x%x)\n", status);
                        H.agent = 0;
                        exit(1);
                }
                char buf[8192] = "";
                int fd = open(status_path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        ssize_t n = read(fd, buf, sizeof(buf) - 1);
                        close(fd);
                        buf[n > 0 ? n : 0] = '\0';
                        if (strstr(buf, want))
                                return;
                }
                harness_sleep_ms(20);
        }
        fprintf(stderr, "harness: no status file from the agent after 10 s\n");
        exit(1);
}

bool harness_has_hierarchy(const char *controller) {
        return scratch_cgroup_path(H.scratch, controller) != NULL;
}

const char *harness_offline_placement(void) {
        const char *p = getenv("COLO_TEST_OFFLINE_PLACEMENT");
        return p && strcmp(p, "subtree") == 0 ? "subtree" : "top";
}

const char *harness_offline_slice(void) {
        static char slice[PATH_MAX];
        char name[256];
        scratch_cgroup_offline_slice(H.scratch, name, sizeof(name));
        snprintf(slice, sizeof(slice), "/sys/fs/cgroup/%s", name);
        return slice;
}

const char *harness_offline_scope(void) {
        static char scope[PATH_MAX];
        const char *slice = harness_offline_slice();
        const char *name = strrchr(slice, '/') + 1;
        char offline[PATH_MAX + 16];
        snprintf(scope, sizeof(scope), "%s/%.*s.scope", slice, (int) (strlen(name) - strlen(".slice")), name);
        snprintf(offline, sizeof(offline), "%s/offline", scope);
        return access(offline, F_OK) == 0 ? scope : NULL;
}

const char *harness_cg_path(const char *controller, const char *rel) {
        static char buf[4][PATH_MAX];
        static int next;
        const char *base = scratch_cgroup_path(H.scratch, H.v2 ? NULL : controller);
        CHECK(base);
        char *b = buf[next++ % 4];
        /* agent.offline_placement top, on v1: "offline/..." is the sibling "<scratch>.offline/...";
         * on v2, where the agent made its systemd scope, "<slice>/<scope>/offline/...". */
        bool top = strcmp(harness_offline_placement(), "top") == 0 && strncmp(rel, "offline", 7) == 0 &&
                   (rel[7] == '\0' || rel[7] == '/');
        if (top && H.v2 && harness_offline_scope())
                snprintf(b, PATH_MAX, "%s/%s", harness_offline_scope(), rel);
        else if (top && !H.v2)
                snprintf(b, PATH_MAX, "%s.%s", base, rel);
        else
                snprintf(b, PATH_MAX, "%s%s%s", base, rel[0] ? "/" : "", rel);
        return b;
}

static int read_text(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        buf[n] = '\0';
        return (int) n;
}

int64_t harness_try_read_i64(const char *path) {
        char buf[64];
        if (read_text(path, buf, sizeof(buf)) < 0)
                return -1;
        return strtoll(buf, NULL, 10);
}

int64_t harness_read_i64(const char *path) {
        char buf[64];
        if (read_text(path, buf, sizeof(buf)) < 0) {
                fprintf(stderr, "harness: cannot read '%s': %s\n", path, strerror(errno));
                exit(1);
        }
        return strtoll(buf, NULL, 10);
}

void harness_read_cpu_quota(const char *group, int64_t *ret_quota, int64_t *ret_period) {
        char rel[256];
        if (!H.v2) {
                snprintf(rel, sizeof(rel), "%s%scpu.cfs_quota_us", group, group[0] ? "/" : "");
                *ret_quota = harness_read_i64(harness_cg_path("cpu", rel));
                snprintf(rel, sizeof(rel), "%s%scpu.cfs_period_us", group, group[0] ? "/" : "");
                *ret_period = harness_read_i64(harness_cg_path("cpu", rel));
                return;
        }
        char buf[64], quota[32] = "";
        long long period = 0;
        snprintf(rel, sizeof(rel), "%s%scpu.max", group, group[0] ? "/" : "");
        const char *path = harness_cg_path("cpu", rel);
        if (read_text(path, buf, sizeof(buf)) < 0 || sscanf(buf, "%31s %lld", quota, &period) != 2) {
                fprintf(stderr, "harness: cannot read '%s'\n", path);
                exit(1);
        }
        *ret_quota = strcmp(quota, "max") == 0 ? -1 : strtoll(quota, NULL, 10);
        *ret_period = period;
}

/* The first pid listed in a group's cgroup.procs (cpu hierarchy), or 0. */
static pid_t first_pid(const char *leaf) {
        char rel[256], buf[256];
        snprintf(rel, sizeof(rel), "%s/cgroup.procs", leaf);
        if (read_text(harness_cg_path("cpu", rel), buf, sizeof(buf)) <= 0)
                return 0;
        return (pid_t) strtol(buf, NULL, 10);
}

pid_t harness_run(const char *cls, const char *tier, const char *name, const char *const *args) {
        return harness_run_logged(cls, tier, name, NULL, args);
}

pid_t harness_run_logged(const char *cls, const char *tier, const char *name, const char *log_path,
                         const char *const *args) {
        const char *argv[32] = { H.colo, "run", "--config", H.config, "--class", cls, "--tier", tier, "--name", name,
                                 "--", H.workload };
        size_t n = 12;
        for (size_t i = 0; args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        CHECK(H.n_runs < MAX_RUNS);
        H.runs[H.n_runs].supervisor = spawn_logged(argv, log_path);
        snprintf(H.runs[H.n_runs].name, sizeof(H.runs[H.n_runs].name), "%s", name);
        H.n_runs++;

        char leaf[256];
        snprintf(leaf, sizeof(leaf), "%s/%s/%s", cls, tier, name);
        for (int i = 0; i < 500; i++) {
                pid_t pid = first_pid(leaf);
                if (pid > 0)
                        return pid;
                harness_sleep_ms(10);
        }
        fprintf(stderr, "harness: workload '%s' never appeared in '%s'\n", name, leaf);
        exit(1);
}

int harness_wait_run(const char *name, long timeout_ms) {
        for (size_t i = 0; i < H.n_runs; i++) {
                if (strcmp(H.runs[i].name, name) != 0)
                        continue;
                if (H.runs[i].reaped)
                        return H.runs[i].status;
                for (long waited = 0; waited <= timeout_ms; waited += 20) {
                        int status;
                        if (waitpid(H.runs[i].supervisor, &status, WNOHANG) == H.runs[i].supervisor) {
                                H.runs[i].reaped = true;
                                H.runs[i].status = status;
                                return status;
                        }
                        harness_sleep_ms(20);
                }
                return -1;
        }
        return -1;
}

int harness_colo(const char *const *args) {
        const char *argv[32] = { H.colo };
        size_t n = 1;
        for (size_t i = 0; args[i] && n < 29; i++)
                argv[n++] = args[i];
        argv[n++] = "--config";
        argv[n++] = H.config;
        argv[n] = NULL;
        pid_t pid = spawn(argv);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        return status;
}

double harness_cpu_seconds(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_text(path, buf, sizeof(buf)) <= 0)
                return 0;
        /* Fields after the command (which may contain spaces): state is field 3, utime 14, stime 15. */
        const char *p = strrchr(buf, ')');
        CHECK(p);
        unsigned long long utime = 0, stime = 0;
        CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2);
        return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

uint64_t harness_rss(pid_t pid) {
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (read_text(path, buf, sizeof(buf)) <= 0)
                return 0;
        const char *p = strstr(buf, "VmRSS:");
        if (!p)
                return 0;
        unsigned long long kb = 0;
        CHECK(sscanf(p, "VmRSS: %llu kB", &kb) == 1);
        return kb * 1024;
}

#define SHARE_WINDOW_MS 2000

static double cpu_over_window(pid_t pid) {
        double before = harness_cpu_seconds(pid);
        harness_sleep_ms(SHARE_WINDOW_MS);
        return harness_cpu_seconds(pid) - before;
}

double harness_best_cpu_share(pid_t pid, const char *who, pid_t hog1, pid_t hog2, int pairs, double stop_at) {
        double best = 0;
        for (int i = 0; i < pairs && best < stop_at; i++) {
                (void) kill(hog1, SIGSTOP);
                (void) kill(hog2, SIGSTOP);
                harness_sleep_ms(200);
                double alone = cpu_over_window(pid);
                (void) kill(hog1, SIGCONT);
                (void) kill(hog2, SIGCONT);
                harness_sleep_ms(200);
                double h0 = harness_cpu_seconds(hog1) + harness_cpu_seconds(hog2);
                double with = cpu_over_window(pid);
                double hogs_cpu = harness_cpu_seconds(hog1) + harness_cpu_seconds(hog2) - h0;
                double ratio = alone > 0 ? with / alone : 0;
                fprintf(stderr, "pair %d: %s alone %.3f s, with hogs %.3f s (%.1f%%); hogs %.3f s in %d ms\n", i, who,
                        alone, with, 100 * ratio, hogs_cpu, SHARE_WINDOW_MS);
                if (ratio > best)
                        best = ratio;
        }
        return best;
}

bool harness_alive(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_text(path, buf, sizeof(buf)) <= 0)
                return false;
        const char *p = strrchr(buf, ')');
        return p && p[2] != 'Z';
}

const char *harness_dir(void) {
        return H.dir;
}

int harness_stop_agent(void) {
        int status = 0;
        stop_child(H.agent, 5000, &status);
        H.agent = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int harness_agent_attempt(const char *const *extra_args, const char *log_path, long timeout_ms) {
        const char *argv[16] = { H.colo, "agent", "--config", H.config };
        size_t n = 4;
        for (; extra_args && *extra_args && n < sizeof(argv) / sizeof(argv[0]) - 1; extra_args++)
                argv[n++] = *extra_args;
        argv[n] = NULL;
        pid_t pid = spawn_logged(argv, log_path);
        for (long waited = 0; waited < timeout_ms; waited += 20) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                harness_sleep_ms(20);
        }
        stop_child(pid, 5000, NULL);
        return -1;
}

const char *harness_http_get(int port, const char *path) {
        static char buf[1 << 16];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                close(fd);
                return NULL;
        }
        char req[256];
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
        CHECK(write(fd, req, (size_t) n) == n);
        size_t len = 0;
        ssize_t k;
        while (len < sizeof(buf) - 1 && (k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t) k;
        close(fd);
        buf[len] = '\0';
        const char *body = strstr(buf, "\r\n\r\n");
        return strncmp(buf, "HTTP/1.", 7) == 0 && strstr(buf, " 200 ") ? (body ? body + 4 : NULL) : NULL;
}

const char *harness_read_text(const char *path) {
        static char buf[1 << 16];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

uint64_t harness_meminfo(const char *key) {
        FILE *f = fopen("/proc/meminfo", "r");
        CHECK(f);
        unsigned long long kb = 0;
        char line[256], fmt[64];
        snprintf(fmt, sizeof(fmt), "%s: %%llu kB", key);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, fmt, &kb) == 1)
                        break;
        fclose(f);
        CHECK(kb > 0);
        return kb * 1024;
}
