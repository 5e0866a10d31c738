/* Scratch cgroups for integration tests (see scratch-cgroup.h). Independent of src/lib/cgroup's
 * CgRoot, so a bug there cannot keep the cleanup from working: hierarchies come from
 * /proc/self/mountinfo matched against /proc/self/cgroup, and removal is kill + rmdir, through
 * the library's one rmdir walk (cg_remove_empty_tree_at(), unit-tested on its own). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "scratch-cgroup.h"

#define MAX_HIERARCHIES 16
/* The scratch group and what colo makes next to its subtree, in the subtree's parent: the offline
 * parent "<subtree name>.offline" (agent.offline_placement top, src/lib/cgroup/cgroup-top.c) and,
 * on v1, the agent's own cpu group "<subtree name>.agent" (src/lib/cgroup/cgroup-self.c). Spelled
 * here again on purpose: this file does not use src/lib/cgroup's CgRoot. */
static const char *const scratch_suffixes[] = { "", ".offline", ".agent" };
#define N_SUFFIXES (sizeof(scratch_suffixes) / sizeof(scratch_suffixes[0]))
/* On cgroup v2 under systemd the agent puts offline work into the transient units
 * "<escaped name>.offline.slice" and ".scope" (src/lib/systemd/offline-units.h): the name's '-'
 * escaped as systemd does, "\x2d". Spelled here again on purpose too. */
#define SCRATCH_V2_ROOT "/sys/fs/cgroup"

typedef struct ScratchHierarchy {
        char controllers[128];  /* as /proc/self/cgroup lists them ("cpu,cpuacct"); "" for v2 */
        char path[PATH_MAX];    /* the scratch directory */
} ScratchHierarchy;

struct ScratchCgroup {
        char name[64];
        char subtree[PATH_MAX]; /* what scratch_cgroup_subtree() returns */
        ScratchHierarchy h[MAX_HIERARCHIES];
        size_t n;
        pid_t reaper;
        ScratchCgroup *next;    /* live scratch groups, for the atexit() handler */
};

static ScratchCgroup *live;     /* test-process bookkeeping for atexit() */
static unsigned counter;

static void remove_live(ScratchCgroup *s) {
        for (ScratchCgroup **p = &live; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        return;
                }
}

static void sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int read_text(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        ssize_t k;
        while (len + 1 < size && (k = read(fd, buf + len, size - 1 - len)) > 0)
                len += (size_t) k;
        close(fd);
        buf[len] = '\0';
        return (int) len;
}

static int write_text(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t k = write(fd, value, strlen(value));
        int r = k < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* Is every comma-separated entry of ctrls among the comma-separated super options? */
static bool options_cover(const char *opts, const char *ctrls) {
        char c[128];
        snprintf(c, sizeof(c), "%s", ctrls);
        char *save = NULL;
        for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t tl = strlen(t);
                bool found = false;
                for (const char *p = opts; *p;) {
                        size_t len = strcspn(p, ",");
                        if (len == tl && memcmp(p, t, tl) == 0)
                                found = true;
                        p += len;
                        p += *p == ',';
                }
                if (!found)
                        return false;
        }
        return true;
}

/* Mount point of the hierarchy holding ctrls ("" = cgroup2) from /proc/self/mountinfo. */
static int find_mount(const char *mountinfo, const char *ctrls, char *ret, size_t size) {
        const char *line = mountinfo;
        while (*line) {
                const char *eol = strchrnul(line, '\n');
                char l[1024];
                snprintf(l, sizeof(l), "%.*s", (int) (eol - line), line);
                line = *eol ? eol + 1 : eol;
                char *sep = strstr(l, " - ");
                if (!sep)
                        continue;
                char fstype[32], source[64], opts[512], mnt[PATH_MAX];
                if (sscanf(sep + 3, "%31s %63s %511s", fstype, source, opts) != 3)
                        continue;
                if (sscanf(l, "%*s %*s %*s %*s %4095s", mnt) != 1)
                        continue;
                bool v2 = strcmp(fstype, "cgroup2") == 0;
                if (ctrls[0] ? (strcmp(fstype, "cgroup") == 0 && options_cover(opts, ctrls)) : v2) {
                        snprintf(ret, size, "%s", mnt);
                        return 0;
                }
        }
        return -ENOENT;
}

/* cgroup v2 under systemd (a Delegate=yes unit): our own cgroup is the delegated one and holds
 * this process, and the "no internal processes" rule keeps a cgroup with processes from enabling
 * controllers for its children (EBUSY). So this process moves into a leaf below it,
 * "colo-test-<pid>-self", and then enables there every controller colo uses that the delegated
 * cgroup offers. The leaf outlives the test (no process can remove the cgroup it is in): systemd
 * removes it with the unit's delegated subtree. Returns 0 or -errno, with a message. */
static int v2_enable_controllers(const char *own_dir) {
        char path[PATH_MAX], offered[512] = "", want[128] = "";
        snprintf(path, sizeof(path), "%s/cgroup.controllers", own_dir);
        if (read_text(path, offered, sizeof(offered)) < 0)
                return 0;
        offered[strcspn(offered, "\n")] = '\0';
        char padded[520];
        snprintf(padded, sizeof(padded), " %s ", offered);
        static const char *const controllers[] = { "cpu", "cpuset", "memory", "io", "pids" };
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
                char needle[16];
                snprintf(needle, sizeof(needle), " %s ", controllers[i]);
                if (strstr(padded, needle))
                        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s", want[0] ? " " : "",
                                 controllers[i]);
        }
        if (!want[0])
                return 0;       /* nothing delegated (a v1 node's empty unified mount) */
        snprintf(path, sizeof(path), "%s/cgroup.subtree_control", own_dir);
        int r = write_text(path, want);
        if (r == -EBUSY) {
                char leaf[PATH_MAX], procs[PATH_MAX + 16];
                snprintf(leaf, sizeof(leaf), "%s/colo-test-%d-self", own_dir, (int) getpid());
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", leaf);
                r = mkdir(leaf, 0755) < 0 && errno != EEXIST ? -errno : write_text(procs, "0");
                if (r < 0) {
                        fprintf(stderr, "scratch-cgroup: cannot move into the leaf '%s': %s\n", leaf, strerror(-r));
                        return r;
                }
                r = write_text(path, want);
                /* The test process must not starve next to a scratch group that a test weights at
                 * the maximum (agent-harness.c does): weight its leaf the same. */
                snprintf(procs, sizeof(procs), "%s/cpu.weight", leaf);
                int k = r == 0 && strstr(padded, " cpu ") ? write_text(procs, "10000") : 0;
                if (k < 0)
                        fprintf(stderr, "scratch-cgroup: cannot write '%s': %s\n", procs, strerror(-k));
        }
        if (r < 0)
                fprintf(stderr, "scratch-cgroup: cannot write '%s' to '%s': %s (is another process in the delegated "
                                "cgroup?)\n", want, path, strerror(-r));
        return r;
}

static void cpuset_copy_from_parent(const char *dir) {
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
        for (size_t i = 0; i < 2; i++) {
                char parent[PATH_MAX], child[PATH_MAX], buf[512];
                snprintf(parent, sizeof(parent), "%s/../%s", dir, files[i]);
                snprintf(child, sizeof(child), "%s/%s", dir, files[i]);
                if (read_text(parent, buf, sizeof(buf)) > 1)
                        (void) write_text(child, buf);
        }
}

/* Hidden groups (colo's names lock) are groups too: only "." and ".." are not. */
static bool is_dot_or_dotdot(const char *name) {
        return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Sends SIGKILL to every task below dir; returns how many were signalled. */
static int kill_tasks(const char *dir) {
        int n = 0;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
        FILE *f = fopen(p, "re");
        if (f) {
                int pid;
                while (fscanf(f, "%d", &pid) == 1)
                        if (pid > 0 && pid != getpid() && kill(pid, SIGKILL) == 0)
                                n++;
                fclose(f);
        }
        DIR *d = opendir(dir);
        if (!d)
                return n;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !is_dot_or_dotdot(de->d_name)) {
                        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                        n += kill_tasks(p);
                }
        closedir(d);
        return n;
}

/* rmdir depth-first, retrying while tasks are still exiting. */
static int remove_tree(const char *dir) {
        int r = 0;
        for (int i = 0; i < 250; i++) {
                r = cg_remove_empty_tree_at(AT_FDCWD, dir, CG_REMOVE_DEPTH_MAX);
                if (r != -EBUSY)
                        return r;
                (void) kill_tasks(dir);
                sleep_ms(20);
        }
        return r;
}

/* The scratch group's directory (k 0) or its sibling of scratch_suffixes[k] in h. */
static void scratch_dir(const ScratchHierarchy *h, size_t k, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", h->path, scratch_suffixes[k]);
}

void scratch_cgroup_offline_slice(const ScratchCgroup *s, char *buf, size_t size) {
        size_t n = 0;
        for (const char *c = s->name; *c && n + 5 < size; c++)
                n += (size_t) (*c == '-' ? snprintf(buf + n, size - n, "\\x2d") : snprintf(buf + n, size - n, "%c", *c));
        snprintf(buf + n, size - n, ".offline.slice");
}

/* The agent's offline slice, when it made one: its processes killed (the holder, offline work a
 * failed test left) and the unit stopped, so systemd removes its cgroups. */
static void stop_offline_slice(const ScratchCgroup *s) {
        char slice[256], dir[PATH_MAX];
        scratch_cgroup_offline_slice(s, slice, sizeof(slice));
        snprintf(dir, sizeof(dir), "%s/%s", SCRATCH_V2_ROOT, slice);
        if (access(dir, F_OK) < 0)
                return;
        for (int round = 0; round < 5 && kill_tasks(dir) > 0; round++)
                sleep_ms(20);
        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO);
                execlp("systemctl", "systemctl", "stop", "--", slice, (char *) NULL);
                _exit(127);
        }
        if (pid > 0)
                (void) waitpid(pid, NULL, 0);
}

static int cleanup(ScratchCgroup *s, bool quiet) {
        char dir[PATH_MAX + 16];
        stop_offline_slice(s);
        for (int round = 0; round < 5; round++) {
                int n = 0;
                for (size_t i = 0; i < N_SUFFIXES * s->n; i++) {
                        scratch_dir(&s->h[i / N_SUFFIXES], i % N_SUFFIXES, dir, sizeof(dir));
                        n += kill_tasks(dir);
                }
                if (n == 0)
                        break;
                sleep_ms(20);
        }
        int r = 0;
        for (size_t i = 0; i < N_SUFFIXES * s->n; i++) {
                scratch_dir(&s->h[i / N_SUFFIXES], i % N_SUFFIXES, dir, sizeof(dir));
                int k = remove_tree(dir);
                if (k < 0) {
                        if (!quiet)
                                fprintf(stderr, "scratch-cgroup: cannot remove '%s': %s\n", dir, strerror(-k));
                        r = k;
                }
        }
        return r;
}

/* The reaper waits for its parent's death and removes what is left. */
static void run_reaper(ScratchCgroup *s, pid_t parent) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, NULL);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Leave the test's process group: runners kill the whole group on a timeout. */
        (void) setsid();
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0), dup2(null, 1), dup2(null, 2);
                close(null);
        }
        /* Keep no pipe of the test runner open, or it would wait for us. */
        for (int fd = 3; fd < 1024; fd++)
                (void) close(fd);
        if (getppid() == parent)
                (void) sigwaitinfo(&set, NULL);
        (void) cleanup(s, true);
        _exit(0);
}

static void cleanup_at_exit(void) {
        while (live) {
                ScratchCgroup *s = live;
                (void) scratch_cgroup_destroy(s);
        }
}

int scratch_cgroup_create(ScratchCgroup **ret) {
        if (geteuid() != 0)
                return -EPERM;
        static char self[8192], mountinfo[65536];
        int r = read_text("/proc/self/cgroup", self, sizeof(self));
        if (r < 0)
                return r;
        r = read_text("/proc/self/mountinfo", mountinfo, sizeof(mountinfo));
        if (r < 0)
                return r;

        ScratchCgroup *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        snprintf(s->name, sizeof(s->name), "colo-test-%d-%u", (int) getpid(), counter++);

        char *save = NULL;
        for (char *line = strtok_r(self, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || s->n == MAX_HIERARCHIES)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1, *own = c2 + 1;
                char mnt[PATH_MAX];
                if (find_mount(mountinfo, ctrls, mnt, sizeof(mnt)) < 0)
                        continue;
                char own_dir[PATH_MAX];
                snprintf(own_dir, sizeof(own_dir), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
                /* v2 only when delegated to us (writable); v1 hierarchies always (we are root). */
                if (!ctrls[0] && access(own_dir, W_OK) < 0)
                        continue;
                if (!ctrls[0] && (r = v2_enable_controllers(own_dir)) < 0) {
                        (void) cleanup(s, false);
                        free(s);
                        return r;
                }
                ScratchHierarchy *h = &s->h[s->n];
                snprintf(h->controllers, sizeof(h->controllers), "%s", ctrls);
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", own_dir, s->name);
                memcpy(h->path, path, sizeof(h->path));
                if (mkdir(h->path, 0755) < 0) {
                        r = -errno;
                        fprintf(stderr, "scratch-cgroup: mkdir '%s': %s\n", h->path, strerror(errno));
                        (void) cleanup(s, false);
                        free(s);
                        return r;
                }
                s->n++;
                if (options_cover(ctrls, "cpuset"))
                        cpuset_copy_from_parent(h->path);
        }
        if (s->n == 0) {
                free(s);
                return -ENOMEDIUM;
        }
        /* A relative subtree names the group below the cgroup of whoever reads it; on v2 this
         * process may have moved into a leaf (above), so there the subtree is absolute: from the
         * hierarchy's root, as CgRootOptions.subtree accepts it. */
        snprintf(s->subtree, sizeof(s->subtree), "%s", s->name);
        if (s->n == 1 && !s->h[0].controllers[0]) {
                char mnt[PATH_MAX];
                if (find_mount(mountinfo, "", mnt, sizeof(mnt)) == 0 && strncmp(s->h[0].path, mnt, strlen(mnt)) == 0)
                        snprintf(s->subtree, sizeof(s->subtree), "%s", s->h[0].path + strlen(mnt));
        }

        pid_t parent = getpid();
        s->reaper = fork();
        if (s->reaper < 0) {
                r = -errno;
                (void) cleanup(s, false);
                free(s);
                return r;
        }
        if (s->reaper == 0)
                run_reaper(s, parent);

        static bool registered;
        if (!registered && atexit(cleanup_at_exit) == 0)
                registered = true;
        s->next = live;
        live = s;
        *ret = s;
        return 0;
}

const char *scratch_cgroup_subtree(const ScratchCgroup *s) {
        return s->subtree;
}

static const ScratchHierarchy *find(const ScratchCgroup *s, const char *controller) {
        for (size_t i = 0; i < s->n; i++)
                if (controller ? options_cover(s->h[i].controllers, controller) : !s->h[i].controllers[0])
                        return &s->h[i];
        return NULL;
}

const char *scratch_cgroup_path(const ScratchCgroup *s, const char *controller) {
        const ScratchHierarchy *h = find(s, controller);
        return h ? h->path : NULL;
}

bool scratch_cgroup_has_v1(const ScratchCgroup *s, const char *controller) {
        return controller && find(s, controller);
}

pid_t scratch_cgroup_reaper_pid(const ScratchCgroup *s) {
        return s->reaper;
}

int scratch_cgroup_destroy(ScratchCgroup *s) {
        if (!s)
                return 0;
        remove_live(s);
        int r = cleanup(s, false);
        if (s->reaper > 0) {
                (void) kill(s->reaper, SIGKILL);
                (void) waitpid(s->reaper, NULL, 0);
        }
        free(s);
        return r;
}
