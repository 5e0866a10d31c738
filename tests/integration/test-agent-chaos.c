/* Chaos test on real cgroups (v1 here, v2 in the VM of tests/vm), bounded in time (rounds start for CHAOS_BUDGET_SEC, about a minute
 * in all). Four long-lived "keeper" workloads, one per tier, live through rounds of:
 *   - `colo run --name X` started three times at once, each in a random class and tier: exactly
 *     one must win, the others fail ("name in use");
 *   - two `colo move` of the same keeper at once, to different places: the keeper ends up in
 *     exactly one of them (or where it was), whole, in every hierarchy; a `colo run --name` of
 *     the keeper meanwhile must fail ("name in use");
 *   - churn: short workloads started and stopped, their leaves removed when they end;
 *   - kill -9 of the agent: at a random point of its tick, as soon as it creates its status
 *     file, or inside its checkpoint write (SIGTERM makes it save; the kill follows as soon as the
 *     temporary file appears), sometimes while the runs and moves above are in flight;
 *   - while the agent is down, its knobs are reset behind its back (cpu.shares or v2's
 *     cpu.weight, cpu.idle, the memory limits and v2's memory.high and online memory.low,
 *     oom_score_adj).
 * After every restart each knob must be back in force within one period (plus a margin for a
 * sanitizer build on a shared machine, COLO_TEST_TIMEOUT_SCALE times longer in the emulated VM), every named workload must exist exactly once, and the
 * checkpoint must be valid or absent, never corrupt. The first rounds only kill -9, so the agent
 * lives in a crash loop shorter than its checkpoint interval: it must still save (issue 14 #6).
 * At the end no leaf, no temporary file of a crashed write, no process and no tree outside the
 * test's cgroup is left behind.
 * Randomness is seeded; the seed is printed and COLO_CHAOS_SEED=N replays it.
 * Needs root and v1 or a delegated v2: exit 77. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-harness.h"
#include "config/config.h"
#include "predict/profile-set.h"

#define PERIOD_MS 300
#define MARGIN_MS 1000
#define CHAOS_BUDGET_SEC 40
#define CRASH_LOOP_ROUNDS 6
#define MAX_ROUNDS 40
#define MAX_PROCS 512
#define RACERS 3
#define CHURN_PER_ROUND 2
#define SETTLE_MS 30000
#define UNLIMITED_FLOOR (INT64_C(1) << 62)

static const char *const places[][2] = {
        { "online", "critical" }, { "online", "normal" }, { "offline", "batch" }, { "offline", "best-effort" },
};
#define N_PLACES 4
static const char *const place_paths[N_PLACES] = { "online/critical", "online/normal", "offline/batch",
                                                   "offline/best-effort" };
static const char *const hierarchies[] = { "cpu", "cpuacct", "cpuset", "memory", "blkio" };
#define N_HIERARCHIES 5

/* v2 has one hierarchy: the first entry stands for it (harness_cg_path() ignores the controller). */
static bool hierarchy_used(size_t h) {
        return harness_v2() ? h == 0 : harness_has_hierarchy(hierarchies[h]);
}

typedef enum Role { ROLE_KEEPER, ROLE_RACER, ROLE_CHURN, ROLE_MOVE, ROLE_INTRUDER } Role;

typedef struct Proc {
        pid_t pid;
        Role role;
        char name[64];
        int place;              /* keepers: where the workload is now; moves: where to */
        bool exited, stopped;   /* stopped: we sent SIGTERM */
        bool unsure;            /* a keeper found in no or several places: its place is unknown */
        int status;
        char log[PATH_MAX];     /* its stdout and stderr */
} Proc;

/* Test code: the file-scope state lets the final summary and the atexit() cleanup see it all. */
static struct {
        uint64_t rng;
        Proc procs[MAX_PROCS];
        size_t n_procs;
        char log_dir[PATH_MAX];
        /* figures */
        unsigned rounds, kills_tick, kills_status, kills_ckpt, landed_ckpt, kills_in_flight;
        unsigned runs, races, moves, churned, tampered;
        unsigned lost, duplicated, split, race_extra_winners, wrong_refusals, knob_failures, corrupt_ckpt;
        unsigned leftover_leaves, leftover_tmp, stray_trees;
        char strays[N_HIERARCHIES][PATH_MAX];   /* where a misled colo would put the tree */
} C;

static uint64_t next_random(void) {
        /* splitmix64: small, seedable, good enough to pick delays and places */
        uint64_t z = (C.rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static unsigned pick(unsigned n) {
        return (unsigned) (next_random() % n);
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* --- processes --- */

static Proc *spawn_colo(Role role, const char *name, int place, const char *const *args) {
        const char *argv[32] = { harness_colo_path() };
        size_t n = 1;
        for (size_t i = 0; args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        CHECK(C.n_procs < MAX_PROCS);
        Proc *p = &C.procs[C.n_procs++];
        *p = (Proc) { .role = role, .place = place };
        snprintf(p->name, sizeof(p->name), "%s", name);
        snprintf(p->log, sizeof(p->log), "%s/%zu-%s.log", C.log_dir, C.n_procs, name);
        p->pid = fork();
        CHECK(p->pid >= 0);
        if (p->pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        return p;
}

static Proc *start_run(Role role, const char *name, int place) {
        C.runs++;
        return spawn_colo(role, name, place,
                          (const char *const[]) { "run", "--config", harness_config_path(), "--class", places[place][0],
                                                  "--tier", places[place][1], "--name", name, "--",
                                                  harness_workload_path(), "hold", "1", NULL });
}

static Proc *start_move(const char *name, int place) {
        C.moves++;
        return spawn_colo(ROLE_MOVE, name, place,
                          (const char *const[]) { "move", name, "--config", harness_config_path(), "--class",
                                                  places[place][0], "--tier", places[place][1], NULL });
}

static void reap(void) {
        for (size_t i = 0; i < C.n_procs; i++) {
                Proc *p = &C.procs[i];
                if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
                        p->exited = true;
        }
}

static void stop_proc(Proc *p) {
        if (!p->exited && !p->stopped) {
                (void) kill(p->pid, SIGTERM);
                p->stopped = true;
        }
}

static void kill_all_at_exit(void) {
        for (size_t i = 0; i < C.n_procs; i++)
                if (!C.procs[i].exited) {
                        (void) kill(C.procs[i].pid, SIGKILL);
                        (void) waitpid(C.procs[i].pid, NULL, 0);
                }
}

/* The workload a `colo run` supervisor started (its only child), or 0. */
static pid_t workload_of(const Proc *p) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) p->pid, (int) p->pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return 0;
        int pid = 0;
        if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
        fclose(f);
        return (pid_t) pid;
}

/* --- the tree, read from the kernel --- */

static bool is_dir(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool pid_listed(const char *procs_path, pid_t pid) {
        FILE *f = fopen(procs_path, "r");
        if (!f)
                return false;
        int p;
        bool found = false;
        while (!found && fscanf(f, "%d", &p) == 1)
                found = p == (int) pid;
        fclose(f);
        return found;
}

/* Where name's leaf is: the place index when it is in exactly one place, the same in every
 * hierarchy; -1 when it is nowhere; -2 when it is in several places; -3 when the hierarchies
 * disagree (an interrupted move). */
static int place_of(const char *name) {
        int where = -1;
        for (size_t h = 0; h < N_HIERARCHIES; h++) {
                if (!hierarchy_used(h))
                        continue;
                int here = -1, count = 0;
                for (int i = 0; i < N_PLACES; i++) {
                        char rel[256];
                        snprintf(rel, sizeof(rel), "%s/%s", place_paths[i], name);
                        if (is_dir(harness_cg_path(hierarchies[h], rel))) {
                                here = i;
                                count++;
                        }
                }
                if (count > 1)
                        return -2;
                if (h > 0 && here != where)
                        return -3;
                where = here;
        }
        return where;
}

/* Lists name's leaves in every hierarchy, for a failure report. */
static void print_leaves(const char *name) {
        for (size_t h = 0; h < N_HIERARCHIES; h++) {
                if (!hierarchy_used(h))
                        continue;
                fprintf(stderr, "chaos:   %s:", hierarchies[h]);
                for (int i = 0; i < N_PLACES; i++) {
                        char rel[256];
                        snprintf(rel, sizeof(rel), "%s/%s", place_paths[i], name);
                        if (is_dir(harness_cg_path(hierarchies[h], rel)))
                                fprintf(stderr, " %s", rel);
                }
                fprintf(stderr, "\n");
        }
}

/* Copies what a command printed to stderr, for a failure report. */
static void print_log(const Proc *p) {
        FILE *f = fopen(p->log, "r");
        char line[512];
        while (f && fgets(line, sizeof(line), f))
                fprintf(stderr, "chaos:   | %s", line);
        if (f)
                fclose(f);
}

/* Whether pid is in name's leaf at place in every hierarchy. */
static bool workload_in_leaf(pid_t pid, const char *name, int place) {
        for (size_t h = 0; h < N_HIERARCHIES; h++) {
                if (!hierarchy_used(h))
                        continue;
                char rel[256];
                snprintf(rel, sizeof(rel), "%s/%s/cgroup.procs", place_paths[place], name);
                if (!pid_listed(harness_cg_path(hierarchies[h], rel), pid))
                        return false;
        }
        return true;
}

/* Leaves under the four tier parents, in every hierarchy, whose name is not in keep. */
static unsigned count_leaves_except(const char *const *keep, size_t n_keep, bool report) {
        unsigned n = 0;
        for (size_t h = 0; h < N_HIERARCHIES; h++) {
                if (!hierarchy_used(h))
                        continue;
                for (int i = 0; i < N_PLACES; i++) {
                        DIR *d = opendir(harness_cg_path(hierarchies[h], place_paths[i]));
                        if (!d)
                                continue;
                        struct dirent *de;
                        while ((de = readdir(d))) {
                                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                                        continue;
                                bool kept = false;
                                for (size_t k = 0; k < n_keep; k++)
                                        kept = kept || strcmp(keep[k], de->d_name) == 0;
                                if (kept)
                                        continue;
                                n++;
                                if (report)
                                        fprintf(stderr, "chaos: left behind: %s:%s/%s\n", hierarchies[h], place_paths[i],
                                                de->d_name);
                        }
                        closedir(d);
                }
        }
        return n;
}

/* --- knobs: what the agent puts in force, reset behind its back while it is down --- */

/* The margin over one period for a sanitizer build on a loaded machine; in the emulated VM the
 * agent's restart and first tick take several times longer, so the margin scales with it. */
static uint64_t margin_ms(void) {
        return (uint64_t) MARGIN_MS * (uint64_t) harness_timeout_scale();
}

static const char *const class_groups[] = { "online", "offline" };
static const char *const shares_groups[] = { "online", "offline", "online/critical", "online/normal", "offline/batch",
                                             "offline/best-effort" };
#define N_SHARES_GROUPS 6

typedef struct Knobs {
        int64_t shares[N_SHARES_GROUPS];        /* cpu.shares, v2: cpu.weight */
        int64_t idle[2];                /* -1 when the kernel has no cpu.idle */
        int64_t mem_protect;            /* v1: offline's soft limit; v2: online's memory.low */
        int64_t offline_limit;          /* memory.limit_in_bytes, v2: memory.max ("max" reads as INT64_MAX) */
        int64_t offline_high;           /* v2: memory.high; v1: -1 */
        int64_t leaf_shares;            /* a keeper's leaf */
        int64_t oom[N_PLACES];          /* oom_score_adj of a workload per place */
} Knobs;

static Knobs reference;

/* The files of the knobs on this hierarchy, and the kernel's defaults that tampering writes. */
static const char *shares_file(void) {
        return harness_v2() ? "cpu.weight" : "cpu.shares";
}
static const char *protect_file(void) {
        return harness_v2() ? "online/memory.low" : "offline/memory.soft_limit_in_bytes";
}
static const char *limit_file(void) {
        return harness_v2() ? "offline/memory.max" : "offline/memory.limit_in_bytes";
}

static int64_t read_oom(pid_t pid) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int) pid);
        return harness_try_read_i64(p);
}

/* A memory limit: v2 writes "max" for none, read as INT64_MAX; -1 when the file is missing. */
static int64_t read_limit(const char *rel) {
        const char *path = harness_cg_path("memory", rel);
        if (access(path, R_OK) != 0)
                return -1;
        return strcmp(harness_read_text(path), "max\n") == 0 ? INT64_MAX : harness_try_read_i64(path);
}

static void write_text(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;         /* a group or process that is gone has nothing to reset */
        ssize_t n = write(fd, value, strlen(value));
        (void) n;
        close(fd);
}

/* The file of a keeper's leaf, where the leaf is now; false when it is not in exactly one place
 * (counted by the round's checks). */
static bool keeper_leaf(const Proc *k, const char *file, char *rel, size_t size, int *ret_place) {
        int where = place_of(k->name);
        if (where < 0)
                return false;
        snprintf(rel, size, "%s/%s/%s", place_paths[where], k->name, file);
        if (ret_place)
                *ret_place = where;
        return true;
}

/* Resets every knob to the kernel's default (the state a fresh or foreign cgroup has). */
static void tamper(Proc *const *keepers, size_t n) {
        char rel[256];
        bool v2 = harness_v2();
        for (size_t i = 0; i < N_SHARES_GROUPS; i++) {
                snprintf(rel, sizeof(rel), "%s/%s", shares_groups[i], shares_file());
                write_text(harness_cg_path("cpu", rel), v2 ? "100" : "1024");
        }
        write_text(harness_cg_path("cpu", "offline/cpu.idle"), "0");
        write_text(harness_cg_path("memory", protect_file()), v2 ? "0" : "-1");
        write_text(harness_cg_path("memory", limit_file()), v2 ? "max" : "-1");
        if (v2)
                write_text(harness_cg_path("memory", "offline/memory.high"), "max");
        for (size_t i = 0; i < n; i++) {
                if (keeper_leaf(keepers[i], shares_file(), rel, sizeof(rel), NULL))
                        write_text(harness_cg_path("cpu", rel), v2 ? "1" : "2");
                char p[64];
                snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int) workload_of(keepers[i]));
                write_text(p, "0");
        }
        C.tampered++;
}

static void read_knobs(Proc *const *keepers, size_t n, Knobs *ret) {
        char rel[256];
        for (size_t i = 0; i < N_SHARES_GROUPS; i++) {
                snprintf(rel, sizeof(rel), "%s/%s", shares_groups[i], shares_file());
                ret->shares[i] = harness_try_read_i64(harness_cg_path("cpu", rel));
        }
        for (size_t i = 0; i < 2; i++) {
                snprintf(rel, sizeof(rel), "%s/cpu.idle", class_groups[i]);
                ret->idle[i] = harness_try_read_i64(harness_cg_path("cpu", rel));
        }
        ret->mem_protect = read_limit(protect_file());
        ret->offline_limit = read_limit(limit_file());
        ret->offline_high = harness_v2() ? read_limit("offline/memory.high") : -1;
        ret->leaf_shares = INT64_MIN;
        for (size_t i = 0; i < N_PLACES; i++)
                ret->oom[i] = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
                int where;
                if (!keeper_leaf(keepers[i], shares_file(), rel, sizeof(rel), &where))
                        continue;
                int64_t s = harness_try_read_i64(harness_cg_path("cpu", rel));
                /* one value for all leaves: a disagreeing one shows as -2 */
                ret->leaf_shares = ret->leaf_shares == INT64_MIN || ret->leaf_shares == s ? s : -2;
                ret->oom[where] = read_oom(workload_of(keepers[i]));
        }
}

static bool knobs_in_force(const Knobs *k, char *why, size_t size) {
        for (size_t i = 0; i < N_SHARES_GROUPS; i++)
                if (k->shares[i] != reference.shares[i])
                        return snprintf(why, size, "%s/%s %" PRIi64 ", want %" PRIi64, shares_groups[i], shares_file(),
                                        k->shares[i], reference.shares[i]), false;
        for (size_t i = 0; i < 2; i++)
                if (k->idle[i] != reference.idle[i])
                        return snprintf(why, size, "%s/cpu.idle %" PRIi64 ", want %" PRIi64, class_groups[i], k->idle[i],
                                        reference.idle[i]), false;
        /* v2's memory.low follows online's estimate: in force when set at all; v1's soft limit is 0. */
        if (harness_v2() ? k->mem_protect <= 0 : k->mem_protect != reference.mem_protect)
                return snprintf(why, size, "%s %" PRIi64 ", want %" PRIi64, protect_file(), k->mem_protect,
                                reference.mem_protect), false;
        if (reference.offline_limit < UNLIMITED_FLOOR && k->offline_limit >= UNLIMITED_FLOOR)
                return snprintf(why, size, "%s unlimited", limit_file()), false;
        if (reference.offline_high >= 0 && reference.offline_high < UNLIMITED_FLOOR && k->offline_high >= UNLIMITED_FLOOR)
                return snprintf(why, size, "offline/memory.high unlimited"), false;
        if (k->leaf_shares != INT64_MIN && k->leaf_shares != reference.leaf_shares)
                return snprintf(why, size, "leaf %s %" PRIi64 ", want %" PRIi64, shares_file(), k->leaf_shares,
                                reference.leaf_shares), false;
        for (size_t i = 0; i < N_PLACES; i++)
                if (k->oom[i] != INT64_MIN && k->oom[i] != reference.oom[i])
                        return snprintf(why, size, "oom_score_adj in %s %" PRIi64 ", want %" PRIi64, place_paths[i],
                                        k->oom[i], reference.oom[i]), false;
        return true;
}

/* Polls until every knob is back, at most one period plus the margin after since_ms. */
static bool knobs_converge(Proc *const *keepers, size_t n, uint64_t since_ms) {
        char why[256] = "";
        Knobs k;
        for (;;) {
                read_knobs(keepers, n, &k);
                if (knobs_in_force(&k, why, sizeof(why)))
                        return true;
                if (now_ms() > since_ms + PERIOD_MS + margin_ms())
                        break;
                harness_sleep_ms(20);
        }
        fprintf(stderr, "chaos: round %u: not back in force one period after the restart: %s\n", C.rounds, why);
        return false;
}

/* --- the checkpoint --- */

static void checkpoint_path(char *buf, size_t size) {
        snprintf(buf, size, "%s/profiles.ckpt", harness_dir());
}

/* Loads the checkpoint as the agent would (its configuration is the defaults there). Returns 0
 * when valid, -ENOENT when absent; a corrupt one is counted and reported. */
static int check_checkpoint(void) {
        char path[PATH_MAX];
        checkpoint_path(path, sizeof(path));
        Config c;
        config_init_defaults(&c);
        ProfileSetConfig pc;
        profile_set_config_init_defaults(&pc);
        pc.predictor_spec = c.prediction.predictor;
        pc.params.horizon_usec = c.prediction.horizon_usec;
        pc.half_life_usec = c.prediction.half_life_usec;
        pc.min_history_usec = c.prediction.min_history_usec;
        ProfileSet *s = NULL;
        CHECK(profile_set_new(&pc, &s, NULL) == 0);
        ColoError err = {};
        int r = profile_set_load(s, path, &err);
        profile_set_free(s);
        if (r < 0 && r != -ENOENT) {
                fprintf(stderr, "chaos: round %u: corrupt checkpoint: %s\n", C.rounds, err.msg);
                C.corrupt_ckpt++;
        }
        return r;
}

/* Files "<base>.<anything>" in dir: temporary files of writes of base. */
static unsigned count_temporaries(const char *dir, const char *base, bool report) {
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        unsigned n = 0;
        size_t len = strlen(base);
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, base, len) == 0 && de->d_name[len] == '.') {
                        n++;
                        if (report)
                                fprintf(stderr, "chaos: left behind: %s/%s\n", dir, de->d_name);
                }
        closedir(d);
        return n;
}

/* --- killing the agent --- */

typedef enum KillMode { KILL_TICK, KILL_STATUS_WRITE, KILL_CHECKPOINT_WRITE, _KILL_MODE_MAX } KillMode;

static bool agent_exited(pid_t agent) {
        siginfo_t si = {};
        return waitid(P_PID, (id_t) agent, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == agent;
}

/* Waits until a temporary file of base ("<base>.<anything>") is created in the directory fd
 * watches, the agent exits, or timeout_ms pass. True when the file appeared. */
static bool wait_for_temporary(int fd, const char *base, pid_t agent, long timeout_ms) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        size_t len = strlen(base);
        uint64_t end = now_ms() + (uint64_t) timeout_ms;
        while (now_ms() < end && !agent_exited(agent)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 10) <= 0)
                        continue;
                ssize_t n = read(fd, buf, sizeof(buf));
                for (char *ptr = buf; n > 0 && ptr < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *) ptr;
                        if (ev->len && strncmp(ev->name, base, len) == 0 && ev->name[len] == '.')
                                return true;
                        ptr += sizeof(*ev) + ev->len;
                }
        }
        return false;
}

/* kill -9 at a point chosen by mode; returns when the agent is gone. */
static void kill_agent(KillMode mode) {
        pid_t agent = harness_agent_pid();
        const char *dir = mode == KILL_CHECKPOINT_WRITE ? harness_dir() : harness_state_dir();
        const char *base = mode == KILL_CHECKPOINT_WRITE ? "profiles.ckpt" : "status.json";
        unsigned temporaries = count_temporaries(harness_dir(), "profiles.ckpt", false);
        int fd = -1;
        if (mode != KILL_TICK) {
                fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                CHECK(fd >= 0 && inotify_add_watch(fd, dir, IN_CREATE) >= 0);
        }
        switch (mode) {
        case KILL_TICK:
                harness_sleep_ms((long) pick(PERIOD_MS));
                C.kills_tick++;
                break;
        case KILL_STATUS_WRITE:
                (void) wait_for_temporary(fd, base, agent, 3 * PERIOD_MS);
                C.kills_status++;
                break;
        case KILL_CHECKPOINT_WRITE:
                (void) kill(agent, SIGTERM);   /* the agent saves its profiles on the way out */
                (void) wait_for_temporary(fd, base, agent, 5000);
                C.kills_ckpt++;
                break;
        default:
                abort();
        }
        (void) kill(agent, SIGKILL);
        (void) harness_kill_agent(SIGKILL);
        if (fd >= 0)
                close(fd);
        if (mode == KILL_CHECKPOINT_WRITE && count_temporaries(harness_dir(), "profiles.ckpt", false) > temporaries)
                C.landed_ckpt++;        /* killed between creating the temporary file and renaming it */
}

/* --- rounds --- */

typedef struct Round {
        char race_name[64];
        Proc *racers[RACERS];
        Proc *moved;                    /* the keeper two moves fight over */
        int moved_from;
        Proc *moves[2];
        Proc *intruder;                 /* `colo run --name` of the moved keeper, meanwhile: must fail */
        Proc *churn[CHURN_PER_ROUND];
        bool stuck;                     /* settle() gave up once: do not wait again */
} Round;

static void start_actions(Round *r, Proc *const *keepers, size_t n_keepers) {
        /* What earlier rounds started (the race winner, the churn) ends now. */
        for (size_t i = 0; i < C.n_procs; i++)
                if (C.procs[i].role == ROLE_RACER || C.procs[i].role == ROLE_CHURN || C.procs[i].role == ROLE_INTRUDER) {
                        if (!C.procs[i].exited && !C.procs[i].stopped)
                                C.churned++;
                        stop_proc(&C.procs[i]);
                }
        snprintf(r->race_name, sizeof(r->race_name), "race%u", C.rounds);
        for (size_t i = 0; i < RACERS; i++)
                r->racers[i] = start_run(ROLE_RACER, r->race_name, (int) pick(N_PLACES));
        C.races++;
        r->moved = keepers[pick((unsigned) n_keepers)];
        r->moved_from = r->moved->place;
        int a = (int) pick(N_PLACES), b = (a + 1 + (int) pick(N_PLACES - 1)) % N_PLACES;
        r->moves[0] = start_move(r->moved->name, a);
        r->moves[1] = start_move(r->moved->name, b);
        r->intruder = start_run(ROLE_INTRUDER, r->moved->name, (int) pick(N_PLACES));
        for (size_t i = 0; i < CHURN_PER_ROUND; i++) {
                char name[64];
                snprintf(name, sizeof(name), "churn%u-%zu", C.rounds, i);
                r->churn[i] = start_run(ROLE_CHURN, name, (int) pick(N_PLACES));
        }
}

/* A `colo run` has settled when it exited or its workload runs in a leaf of its name, or in
 * leaves that are already wrong (several, or not the same in every hierarchy: its leaves are
 * all made before the workload is forked, so that does not mend itself). */
static bool run_settled(const Proc *p) {
        if (p->exited)
                return true;
        pid_t w = workload_of(p);
        int where = w > 0 ? place_of(p->name) : -1;
        return where == -2 || where == -3 || (where >= 0 && workload_in_leaf(w, p->name, where));
}

/* Waits for the round's commands (and the processes stopped at its start) to settle, at most
 * SETTLE_MS (a loaded machine makes sanitized processes slow to start and to exit). */
static void settle(Round *r) {
        for (int waited = 0; waited < SETTLE_MS && !r->stuck; waited += 20) {
                reap();
                bool done = r->moves[0]->exited && r->moves[1]->exited && run_settled(r->intruder);
                for (size_t i = 0; i < RACERS; i++)
                        done = done && run_settled(r->racers[i]);
                for (size_t i = 0; i < CHURN_PER_ROUND; i++)
                        done = done && run_settled(r->churn[i]);
                for (size_t i = 0; i < C.n_procs; i++)
                        done = done && (!C.procs[i].stopped || C.procs[i].exited);
                if (done)
                        return;
                harness_sleep_ms(20);
        }
        if (!r->stuck)
                fprintf(stderr, "chaos: round %u: commands still running after %d s\n", C.rounds, SETTLE_MS / 1000);
        r->stuck = true;
}

/* Counts a workload that should run at place (-1: anywhere) once. Returns where it is, or -1. */
static int check_workload(const Proc *p, int place, const char *what) {
        int where = place_of(p->name);
        pid_t w = workload_of(p);
        if (where == -2 || where == -3) {
                fprintf(stderr, "chaos: round %u: %s '%s' is %s\n", C.rounds, what, p->name,
                        where == -2 ? "in several places" : "split between hierarchies");
                if (where == -2)
                        C.duplicated++;
                else
                        C.split++;
                print_leaves(p->name);
                print_log(p);
                return -1;
        }
        if (p->exited || w <= 0 || where < 0 || (place >= 0 && where != place) || !workload_in_leaf(w, p->name, where)) {
                fprintf(stderr, "chaos: round %u: %s '%s' lost (supervisor %s, leaf %s)\n", C.rounds, what, p->name,
                        p->exited ? "exited" : "running", where >= 0 ? place_paths[where] : "none");
                C.lost++;
                print_log(p);
                return -1;
        }
        return where;
}

static void check_round(const Round *r, Proc *const *keepers, size_t n_keepers) {
        for (size_t i = 0; i < n_keepers; i++) {
                Proc *k = keepers[i];
                if (k != r->moved) {
                        int where = check_workload(k, k->unsure ? -1 : k->place, "keeper");
                        k->unsure = where < 0;
                        if (where >= 0)
                                k->place = where;
                        continue;
                }
                int where = check_workload(k, -1, "moved keeper");
                bool was_unsure = k->unsure;
                k->unsure = where < 0;
                if (where >= 0 && !was_unsure && where != r->moved_from && where != r->moves[0]->place &&
                    where != r->moves[1]->place) {
                        fprintf(stderr, "chaos: round %u: '%s' moved to %s, asked for none of that\n", C.rounds, k->name,
                                place_paths[where]);
                        C.lost++;
                }
                if (where >= 0)
                        k->place = where;
        }
        if (!r->intruder->exited || !WIFEXITED(r->intruder->status) || WEXITSTATUS(r->intruder->status) != 1) {
                fprintf(stderr, "chaos: round %u: `colo run --name %s` of a running workload %s\n", C.rounds,
                        r->intruder->name, r->intruder->exited ? "failed, but not with \"name in use\"" : "is running");
                print_log(r->intruder);
                if (r->intruder->exited)
                        C.wrong_refusals++;
                else
                        C.duplicated++;
        }
        unsigned winners = 0;
        const Proc *winner = NULL;
        for (size_t i = 0; i < RACERS; i++)
                if (!r->racers[i]->exited) {
                        winners++;
                        winner = r->racers[i];
                }
        if (winners != 1) {
                fprintf(stderr, "chaos: round %u: %u of %d concurrent `colo run --name %s` are running\n", C.rounds,
                        winners, RACERS, r->race_name);
                if (winners > 1)
                        C.race_extra_winners += winners - 1;
                else
                        C.lost++;
        }
        if (winner)
                (void) check_workload(winner, -1, "race winner");
        for (size_t i = 0; i < CHURN_PER_ROUND; i++)
                (void) check_workload(r->churn[i], r->churn[i]->place, "churn workload");
}

/* --- trees outside the test's cgroup --- */

/* A colo that takes another process's /proc/PID/cgroup for its own (the agent's, when it died
 * meanwhile: a zombie is listed at "/" in every v1 hierarchy) would make the managed tree at
 * <mount>/<subtree> instead of below this test's cgroup. Computes those paths once; they are
 * the test's own (its unique subtree name), so it may and must remove them. */
static void find_stray_paths(void) {
        for (size_t h = 0; h < N_HIERARCHIES; h++) {
                if (!hierarchy_used(h))
                        continue;
                char scratch[PATH_MAX], own[PATH_MAX] = "";
                snprintf(scratch, sizeof(scratch), "%s", harness_cg_path(hierarchies[h], ""));
                FILE *f = fopen("/proc/self/cgroup", "r");
                char line[PATH_MAX + 64];
                while (f && fgets(line, sizeof(line), f)) {
                        char *ctrls = strchr(line, ':'), *path = ctrls ? strchr(ctrls + 1, ':') : NULL;
                        if (!path)
                                continue;
                        *path++ = '\0';
                        path[strcspn(path, "\n")] = '\0';
                        for (char *c = strtok(ctrls + 1, ","); c; c = strtok(NULL, ","))
                                if (strcmp(c, hierarchies[h]) == 0)
                                        snprintf(own, sizeof(own), "%s", path);
                }
                if (f)
                        fclose(f);
                const char *name = strrchr(scratch, '/');
                size_t own_len = strcmp(own, "/") == 0 ? 0 : strlen(own);
                size_t mount_len = (size_t) (name - scratch) >= own_len ? (size_t) (name - scratch) - own_len : 0;
                if (own_len > 0 && name && strncmp(scratch + mount_len, own, own_len) == 0)
                        snprintf(C.strays[h], sizeof(C.strays[h]), "%.*s%s", (int) mount_len, scratch, name);
        }
}

static unsigned count_strays(void) {
        unsigned n = 0;
        for (size_t h = 0; h < N_HIERARCHIES; h++)
                if (C.strays[h][0] && is_dir(C.strays[h])) {
                        fprintf(stderr, "chaos: managed tree made outside the test's cgroup: %s\n", C.strays[h]);
                        n++;
                }
        return n;
}

static int rmdir_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) ftw;
        if (flag == FTW_DP)
                (void) rmdir(p);
        return 0;
}

/* After the harness killed every workload: removes the stray trees depth first. */
static void remove_strays(void) {
        for (size_t h = 0; h < N_HIERARCHIES; h++)
                if (C.strays[h][0] && is_dir(C.strays[h]))
                        (void) nftw(C.strays[h], rmdir_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the test --- */

static void start_keepers(Proc **keepers) {
        for (int i = 0; i < N_PLACES; i++) {
                char name[16];
                snprintf(name, sizeof(name), "keeper%d", i);
                keepers[i] = start_run(ROLE_KEEPER, name, i);
        }
        for (int waited = 0;; waited += 20) {
                bool all = true;
                for (int i = 0; i < N_PLACES; i++)
                        all = all && run_settled(keepers[i]) && !keepers[i]->exited;
                if (all)
                        return;
                CHECK(waited < 10000);
                harness_sleep_ms(20);
        }
}

/* One period after the start, with nothing tampered: what the agent puts in force. */
static void take_reference(Proc *const *keepers) {
        harness_sleep_ms((long) (PERIOD_MS + margin_ms()));
        read_knobs(keepers, N_PLACES, &reference);
        fprintf(stderr, "chaos: reference: %s online %" PRIi64 " offline %" PRIi64 ", cpu.idle offline %" PRIi64
                        ", %s %" PRIi64 ", %s %" PRIi64 ", offline memory.high %" PRIi64 ", oom_score_adj batch %" PRIi64
                        " best-effort %" PRIi64 "\n",
                shares_file(), reference.shares[0], reference.shares[1], reference.idle[1], protect_file(),
                reference.mem_protect, limit_file(), reference.offline_limit, reference.offline_high, reference.oom[2],
                reference.oom[3]);
        /* The reference is the policy, not the kernel's defaults the tampering writes back. */
        if (harness_v2()) {
                CHECK(reference.shares[0] > reference.shares[1] && reference.shares[1] != 100);
                CHECK(reference.idle[1] == 1 && reference.mem_protect > 0 && reference.offline_limit < UNLIMITED_FLOOR);
                CHECK(reference.offline_high < UNLIMITED_FLOOR && reference.leaf_shares != 1);
        } else {
                CHECK(reference.shares[0] > reference.shares[1] && reference.shares[1] != 1024);
                CHECK(reference.mem_protect == 0 && reference.leaf_shares != 2);
        }
        CHECK(reference.oom[3] > 0);
}

/* The crash loop kills -9 only; afterwards every other round kills inside a checkpoint write. */
static KillMode pick_kill_mode(bool crash_loop) {
        return crash_loop || C.rounds % 2 ? (KillMode) pick(2) : KILL_CHECKPOINT_WRITE;
}

/* One round: commands at once, a kill (sometimes while they are in flight), the knobs reset,
 * a restart, and the checks. */
static void chaos_round(Proc *const *keepers, bool crash_loop) {
        Round r = {};
        C.rounds++;
        start_actions(&r, keepers, N_PLACES);
        bool in_flight = pick(2) == 0;
        if (!in_flight)
                settle(&r);
        else
                C.kills_in_flight++;
        kill_agent(pick_kill_mode(crash_loop));
        (void) check_checkpoint();
        settle(&r);
        tamper(keepers, N_PLACES);
        harness_start_agent(PERIOD_MS);
        uint64_t restarted = now_ms();
        if (!knobs_converge(keepers, N_PLACES, restarted))
                C.knob_failures++;
        check_round(&r, keepers, N_PLACES);
}

/* Ends every workload; their leaves must go, and no temporary file of a crashed write may be left. */
static void finish(Proc *const *keepers) {
        for (size_t i = 0; i < C.n_procs; i++)
                stop_proc(&C.procs[i]);
        for (int waited = 0; waited < 10000; waited += 20) {
                reap();
                bool all = true;
                for (size_t i = 0; i < C.n_procs; i++)
                        all = all && C.procs[i].exited;
                if (all)
                        break;
                harness_sleep_ms(20);
        }
        for (size_t i = 0; i < N_PLACES; i++)
                CHECK(keepers[i]->exited);
        /* The agent removes what a supervisor could not (PERIOD_MS is plenty; give it two). */
        harness_sleep_ms((long) (2 * PERIOD_MS + margin_ms()));
        C.leftover_leaves = count_leaves_except(NULL, 0, true);
        C.leftover_tmp = count_temporaries(harness_dir(), "profiles.ckpt", true) +
                         count_temporaries(harness_state_dir(), "status.json", true);
        C.stray_trees = count_strays();
}

static void print_figures(unsigned long long seed, uint64_t elapsed_ms) {
        fprintf(stderr,
                "chaos: seed %llu: %u rounds in %.1f s; agent killed %u times (kill -9 at a random point of the tick "
                "%u, at its status write %u, inside its checkpoint write %u of %u tries; %u while commands were in "
                "flight); %u colo run (%u races of %d), %u colo move, %u workloads stopped, knobs reset %u times\n",
                seed, C.rounds, (double) elapsed_ms / 1000.0, C.kills_tick + C.kills_status + C.kills_ckpt, C.kills_tick,
                C.kills_status, C.landed_ckpt, C.kills_ckpt, C.kills_in_flight, C.runs, C.races, RACERS, C.moves,
                C.churned, C.tampered);
        fprintf(stderr,
                "chaos: lost %u, duplicated %u, split between hierarchies %u, extra race winners %u, runs of a name "
                "in use failing otherwise %u, knobs not back within one period %u, corrupt checkpoints %u, leftover "
                "leaves %u, leftover temporary files %u, trees made outside the test's cgroup %u\n",
                C.lost, C.duplicated, C.split, C.race_extra_winners, C.wrong_refusals, C.knob_failures,
                C.corrupt_ckpt, C.leftover_leaves, C.leftover_tmp, C.stray_trees);
}

int main(int argc, char **argv) {
        atexit(remove_strays);          /* registered first: runs last, after the harness's teardown */
        const char *env = getenv("COLO_CHAOS_SEED");
        unsigned long long seed = env ? strtoull(env, NULL, 10) : (unsigned long long) time(NULL) ^ (unsigned long long) getpid();
        C.rng = seed;
        fprintf(stderr, "chaos: seed %llu (replay with COLO_CHAOS_SEED=%llu)\n", seed, seed);
        /* Indented lines continue the harness's prediction section. No evictions: every workload
         * that goes is lost. */
        int r = harness_setup(argc, argv, "  checkpoint_interval: 10s\nfeatures:\n  eviction: false\n");
        if (r != 0)
                return r;
        snprintf(C.log_dir, sizeof(C.log_dir), "%s/logs", harness_dir());
        CHECK(mkdir(C.log_dir, 0755) == 0);
        atexit(kill_all_at_exit);
        find_stray_paths();

        uint64_t start = now_ms();
        harness_start_agent(PERIOD_MS);
        Proc *keepers[N_PLACES];
        start_keepers(keepers);
        take_reference(keepers);

        /* A crash loop shorter than the checkpoint interval (10 s), for twice the interval. Under
         * the VM's emulated CPUs (a timeout scale above 1) a round takes several seconds, so the
         * loop's 21 s hold fewer rounds, and the budget below is spent by the time it ends: the
         * test then stays within the VM run's time (tests/vm). */
        uint64_t loop_start = now_ms();
        unsigned loop_rounds = harness_timeout_scale() > 1 ? 2 : CRASH_LOOP_ROUNDS;
        while (C.rounds < loop_rounds || now_ms() < loop_start + 21000)
                chaos_round(keepers, true);
        bool saved_in_crash_loop = check_checkpoint() == 0;
        if (!saved_in_crash_loop)
                fprintf(stderr, "chaos: no checkpoint after %.1f s of an agent killed every few seconds\n",
                        (double) (now_ms() - loop_start) / 1000.0);
        while (C.rounds < MAX_ROUNDS && now_ms() < start + CHAOS_BUDGET_SEC * 1000)
                chaos_round(keepers, false);

        finish(keepers);
        int status = harness_kill_agent(SIGTERM);
        (void) check_checkpoint();
        print_figures(seed, now_ms() - start);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(C.lost == 0 && C.duplicated == 0 && C.split == 0 && C.race_extra_winners == 0 && C.wrong_refusals == 0);
        CHECK(C.knob_failures == 0 && C.corrupt_ckpt == 0);
        CHECK(C.leftover_leaves == 0 && C.leftover_tmp == 0 && C.stray_trees == 0);
        CHECK(saved_in_crash_loop);
        return harness_teardown();
}
