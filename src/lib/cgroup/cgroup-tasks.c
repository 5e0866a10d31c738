/* Task membership: listing a group's processes (recursively where the directory has
 * subdirectories, which st_nlink tells without a readdir), attaching, signalling, and keeping
 * oom_score_adj of member tasks at the wanted value. cgroup.procs is opened afresh on v1, whose
 * per-file pid list is only rebuilt once idle for a second. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

/* --- tasks --- */

int cg_parse_pids(const char *text, pid_t **pids, size_t *n, size_t *cap) {
        const char *p = text;
        while (*p) {
                if (*p == '\n') {
                        p++;
                        continue;
                }
                char *end;
                errno = 0;
                long v = strtol(p, &end, 10);
                if (errno || end == p || v <= 0 || v > INT32_MAX || (*end != '\n' && *end != '\0'))
                        return -EINVAL;
                if (*n == *cap) {
                        size_t nc = *cap ? *cap * 2 : 16;
                        pid_t *np = realloc(*pids, nc * sizeof(*np));
                        if (!np)
                                return -ENOMEM;
                        *pids = np;
                        *cap = nc;
                }
                (*pids)[(*n)++] = (pid_t) v;
                p = end;
        }
        return 0;
}

/* Reads all of fd from offset 0 into a malloc'd NUL-terminated buffer. */
static int pread_all(int fd, char **ret) {
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t k = pread(fd, buf + len, cap - 1 - len, (off_t) len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = buf;
        return 0;
}

static int dir_has_subdirs(int dirfd) {
        struct stat st;
        if (fstat(dirfd, &st) < 0)
                return -errno;
        /* Directories on cgroupfs (kernfs) and tmpfs count each subdirectory's ".." link. */
        return st.st_nlink != 2;
}

static int for_each_subdir(int dir_fd, int (*fn)(int subfd, void *userdata), void *userdata) {
        int r = dir_has_subdirs(dir_fd);
        if (r <= 0)
                return r;
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -ENOMEM;
        }
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0)
                        continue;       /* a plain file (DT_UNKNOWN) or a group removed meanwhile */
                r = fn(sub, userdata);
                (void) close(sub);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

typedef struct PidCollector {
        pid_t **pids;
        size_t *n, *cap;
} PidCollector;

static int collect_pids_cb(int subfd, void *userdata) {
        PidCollector *pc = userdata;
        return cg_collect_pids(subfd, true, pc->pids, pc->n, pc->cap);
}

int cg_collect_pids(int dirfd, bool recursive, pid_t **pids, size_t *n, size_t *cap) {
        int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *text = NULL;
        int r = pread_all(fd, &text);
        (void) close(fd);
        if (r < 0)
                return r;
        r = cg_parse_pids(text, pids, n, cap);
        if (r < 0 || !recursive)
                return r;
        PidCollector pc = { pids, n, cap };
        return for_each_subdir(dirfd, collect_pids_cb, &pc);
}

int cg_group_get_pids(CgGroup *g, pid_t **ret, size_t *ret_n, ColoError *err) {
        CgSlot s = cg_listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], false, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                return colo_error_set(err, r, "read '%s'", p);
        }
        *ret = pids;
        *ret_n = n;
        return 0;
}

/* Task count plus an order-independent hash of the pids (sum of a 64-bit mix of each), so two
 * listings of the same set hash equal whatever the order. */
typedef struct TaskTally {
        size_t n;
        uint64_t hash;
} TaskTally;

static uint64_t mix_pid(pid_t pid) {
        uint64_t x = (uint64_t) pid + UINT64_C(0x9e3779b97f4a7c15);    /* splitmix64 finaliser */
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

static void tally_text(const char *text, TaskTally *t) {
        const char *p = text;
        while (*p) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p) {
                        p++;
                        continue;
                }
                t->n++;
                t->hash += mix_pid((pid_t) v);
                p = end;
        }
}

static int count_tasks_cb(int subfd, void *userdata) {
        TaskTally *t = userdata;
        int fd = openat(subfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *text = NULL;
        int r = pread_all(fd, &text);
        (void) close(fd);
        if (r < 0)
                return r;
        tally_text(text, t);
        return for_each_subdir(subfd, count_tasks_cb, t);
}

int cg_count_tasks(CgGroup *g, size_t *ret, ColoError *err) {
        CgSlot s = cg_listing_slot(g->root);
        TaskTally t = {};
        char p[PATH_MAX];
        int r;
        g->procs_hash_valid = false;
        if (g->root->mode == CG_MODE_V1) {
                /* v1 keeps a pid list per open file and rebuilds it only once it has been idle for a
                 * second, so a kept-open cgroup.procs re-read every period would never change:
                 * open it afresh each time. */
                r = count_tasks_cb(g->dfd[s], &t);
                if (r < 0) {
                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                        return colo_error_set(err, r, "count tasks from '%s'", p);
                }
        } else {
                if (g->file_fd[CG_FILE_PROCS] == -1) {
                        g->file_fd[CG_FILE_PROCS] = openat(g->dfd[s], "cgroup.procs", O_RDONLY | O_CLOEXEC);
                        if (g->file_fd[CG_FILE_PROCS] < 0) {
                                int e = errno;
                                g->file_fd[CG_FILE_PROCS] = e == ENOENT ? -2 : -1;
                                if (e != ENOENT) {
                                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                                        return colo_error_set(err, e, "open '%s'", p);
                                }
                        }
                }
                if (g->file_fd[CG_FILE_PROCS] >= 0) {
                        _cleanup_free_ char *text = NULL;
                        r = pread_all(g->file_fd[CG_FILE_PROCS], &text);
                        if (r < 0) {
                                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                                return colo_error_set(err, r, "read '%s'", p);
                        }
                        tally_text(text, &t);
                }
                r = for_each_subdir(g->dfd[s], count_tasks_cb, &t);
                if (r < 0) {
                        cg_group_file_path(g, s, "", p, sizeof(p));
                        return colo_error_set(err, r, "count tasks below '%s'", p);
                }
        }
        g->procs_hash = t.hash;
        g->procs_hash_valid = true;
        *ret = t.n;
        return 0;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static bool pid_in_sorted(const pid_t *pids, size_t n, pid_t pid) {
        return n > 0 && bsearch(&pid, pids, n, sizeof(pid), cmp_pid);
}

/* Writes oom_score_adj of one task through the seam. 0, -ESRCH when the task is gone, or -errno. */
static int write_oom_score_adj(CgRoot *root, pid_t pid, int32_t value, char *path, size_t path_size,
                               char *val, size_t val_size) {
        char name[64];
        snprintf(name, sizeof(name), "%d/oom_score_adj", (int) pid);
        snprintf(path, path_size, "%s/%s", root->proc_root, name);
        snprintf(val, val_size, "%d", (int) value);
        int r = cg_seam_write(root, root->proc_fd, path, name, val, 0);
        return r == -ENOENT ? -ESRCH : r;
}

int cg_group_attach(CgGroup *g, pid_t pid, ColoError *err) {
        if (pid <= 0)
                return colo_error_setf_plain(err, EINVAL, "invalid pid %d to attach to '%s'", (int) pid, g->path);
        char val[32];
        snprintf(val, sizeof(val), "%d", (int) pid);
        /* cpuset first: on v1 a task cannot enter a group whose cpuset is empty, so fail early. */
        static const CgSlot order[] = { CG_SLOT_CPUSET, CG_SLOT_CPU,  CG_SLOT_CPUACCT, CG_SLOT_MEMORY,
                                        CG_SLOT_BLKIO,  CG_SLOT_PIDS, CG_SLOT_UNIFIED };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                CgSlot s = order[i];
                if (!g->root->h[s].present || g->root->h[s].primary != s || g->dfd[s] < 0)
                        continue;
                int r = cg_write_raw(g, s, "cgroup.procs", val);
                if (r < 0 && g->root->mode == CG_MODE_V1 && s == CG_SLOT_UNIFIED)
                        continue;       /* the PSI mirror is best effort */
                if (r < 0) {
                        char p[PATH_MAX];
                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                        return colo_error_set(err, r, "attach pid %d: write '%s'", (int) pid, p);
                }
        }
        /* A task colo moves in gets the group's oom_score_adj at once, not at the next apply. */
        if (g->oom_value != CG_UNSET_INT) {
                char p[PATH_MAX], v[16];
                int r = write_oom_score_adj(g->root, pid, g->oom_value, p, sizeof(p), v, sizeof(v));
                if (r < 0 && r != -ESRCH)
                        return colo_error_set(err, r, "attach pid %d: write '%s' to '%s'", (int) pid, v, p);
        }
        return 0;
}

int cg_group_kill(CgGroup *g, int sig, ColoError *err) {
        CgSlot s = cg_listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], true, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                return colo_error_set(err, r, "kill: read '%s'", p);
        }
        if (g->root->dry_record) {
                /* Dry run: the signal is recorded at the seam like a write, and sent to no one. */
                char p[PATH_MAX], v[64];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                snprintf(v, sizeof(v), "(signal %d to each of %zu tasks)", sig, n);
                g->root->dry_record(g->root->dry_record_userdata, p, "", v);
                free(pids);
                return (int) n;
        }
        /* v2's cgroup.kill also catches tasks forked while we iterate. */
        if (sig == SIGKILL && g->root->mode == CG_MODE_V2 && faccessat(g->dfd[s], "cgroup.kill", F_OK, 0) == 0) {
                r = cg_write_raw(g, s, "cgroup.kill", "1");
                if (r == 0) {
                        free(pids);
                        return (int) n;
                }
        }
        int signalled = 0;
        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], sig) == 0)
                        signalled++;
                else if (errno != ESRCH) {
                        int e = errno;
                        free(pids);
                        return colo_error_set(err, e, "kill pid %d of '%s' with signal %d", (int) pids[i], g->path, sig);
                }
        free(pids);
        return signalled;
}

bool cg_group_has_file(CgGroup *g, CgController c, const char *name) {
        static const CgSlot slots[_CG_CTRL_MAX][2] = {
                [CG_CTRL_CPU] = { CG_SLOT_CPU, CG_SLOT_CPUACCT },
                [CG_CTRL_CPUSET] = { CG_SLOT_CPUSET, CG_SLOT_CPUSET },
                [CG_CTRL_MEMORY] = { CG_SLOT_MEMORY, CG_SLOT_MEMORY },
                [CG_CTRL_IO] = { CG_SLOT_BLKIO, CG_SLOT_BLKIO },
                [CG_CTRL_PIDS] = { CG_SLOT_PIDS, CG_SLOT_PIDS },
        };
        if (c < 0 || c >= _CG_CTRL_MAX || !name)
                return false;
        for (size_t i = 0; i < 2; i++) {
                int fd = cg_slot_fd(g, slots[c][i]);
                if (fd >= 0 && faccessat(fd, name, F_OK, 0) == 0)
                        return true;
        }
        return false;
}

void cg_apply_oom_score_adj(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (want->oom_score_adj == CG_UNSET_INT)
                return;
        if (g->dry_created) {
                /* A group only a dry run has: no tasks to write to. */
                last->oom_score_adj = want->oom_score_adj;
                return;
        }
        /* The last usage read saw exactly the tasks this pass already handled: nothing to do. */
        if (g->oom_value == want->oom_score_adj && g->oom_hash_valid && g->procs_hash_valid &&
            g->procs_hash == g->oom_hash) {
                last->oom_score_adj = want->oom_score_adj;
                return;
        }
        CgSlot s = cg_listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], true, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                cg_apply_report(c, p, "(read for oom_score_adj)", r);
                last->oom_score_adj = CG_UNSET_INT;
                return;
        }
        uint64_t hash = 0;
        for (size_t i = 0; i < n; i++)
                hash += mix_pid(pids[i]);
        if (n > 0)
                qsort(pids, n, sizeof(*pids), cmp_pid);
        bool same_value = g->oom_value == want->oom_score_adj;
        size_t kept = 0;
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && pids[i] == pids[i - 1])
                        continue;
                if (same_value && pid_in_sorted(g->oom_pids, g->n_oom_pids, pids[i])) {
                        pids[kept++] = pids[i];
                        continue;
                }
                char p[PATH_MAX], v[16];
                r = write_oom_score_adj(g->root, pids[i], want->oom_score_adj, p, sizeof(p), v, sizeof(v));
                if (r == -ESRCH) {
                        pids[kept++] = pids[i];         /* exited meanwhile: nothing to retry */
                        continue;
                }
                if (r < 0 || g->root->report_successes)
                        cg_apply_report(c, p, v, r);
                if (r < 0) {
                        failed++;
                        continue;       /* not remembered: retried next apply */
                }
                pids[kept++] = pids[i];
        }
        free(g->oom_pids);
        g->oom_pids = pids;
        g->n_oom_pids = kept;
        g->oom_value = want->oom_score_adj;
        g->oom_hash = hash;
        g->oom_hash_valid = failed == 0;
        last->oom_score_adj = failed ? CG_UNSET_INT : want->oom_score_adj;
}
