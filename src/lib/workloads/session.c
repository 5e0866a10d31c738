/* Front-end plumbing: configuration, the agent's status file and its liveness, and opening the
 * managed root the same way the agent does. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "systemd/offline-units.h"
#include "workloads/session.h"
#include "workloads/tree.h"
#include "util/fileio.h"
#include "util/macro.h"

#define STATUS_FILE_MAX (16U << 20)

int session_status_path(const char *state_dir, char *buf, size_t size) {
        int n = snprintf(buf, size, "%s/%s", state_dir, STATUS_FILE_NAME);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int session_load_config(const char *path, Config *ret, ColoError *err) {
        if (path)
                return config_load_file(path, ret, err);
        if (access(DEFAULT_CONFIG_PATH, F_OK) == 0)
                return config_load_file(DEFAULT_CONFIG_PATH, ret, err);
        config_init_defaults(ret);
        return 0;
}

int session_read_status(const char *state_dir, StatusDoc *ret, StatusFileState *ret_state, ColoError *err) {
        char path[512];
        StatusFileState unused;
        if (!ret_state)
                ret_state = &unused;
        *ret_state = STATUS_FILE_UNREADABLE;
        if (session_status_path(state_dir, path, sizeof(path)) < 0)
                return colo_error_setf_plain(err, ENAMETOOLONG, "state directory '%s' is too long", state_dir);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file(path, STATUS_FILE_MAX, &text, &size, err);
        if (r == -ENOENT)
                *ret_state = STATUS_FILE_ABSENT;
        if (r < 0)
                return r;
        *ret_state = STATUS_FILE_CORRUPT;
        r = status_doc_from_json(text, size, ret, err);
        if (r < 0)
                return colo_error_wrap(err, "'%s'", path);
        *ret_state = STATUS_FILE_LIVE;  /* decoded; session_classify_status() says more */
        return 0;
}

StatusFileState session_classify_status(const StatusDoc *d, uint64_t now_realtime_usec, const char *proc_root) {
        if (!d || d->agent_pid <= 0)
                return STATUS_FILE_AGENT_GONE;
        if (kill((pid_t) d->agent_pid, 0) < 0 && errno != EPERM)
                return STATUS_FILE_AGENT_GONE;
        /* A recycled pid belongs to some other program: check the command name. A dead agent not
         * yet reaped (a zombie) has left its cgroups already: it does not count either. */
        char path[128], stat[512];
        snprintf(path, sizeof(path), "%s/%lld/stat", proc_root ?: "/proc", (long long) d->agent_pid);
        int n = read_small_file_at(AT_FDCWD, path, stat, sizeof(stat), NULL);
        const char *close_paren = n > 0 ? strrchr(stat, ')') : NULL;
        if (!close_paren || strncmp(stat + strcspn(stat, "(") + 1, "colo)", 5) != 0 || close_paren[1] != ' ' ||
            close_paren[2] == 'Z' || close_paren[2] == 'X')
                return STATUS_FILE_AGENT_GONE;
        return d->updated_realtime_usec + STATUS_STALE_AFTER(d->period_usec) >= now_realtime_usec ? STATUS_FILE_LIVE
                                                                                                  : STATUS_FILE_STALE;
}

bool session_agent_is_live(const StatusDoc *d, uint64_t now_realtime_usec, const char *proc_root) {
        return session_classify_status(d, now_realtime_usec, proc_root) == STATUS_FILE_LIVE;
}

/* The words `colo status` and `colo run` use for a status file that is neither absent nor live. */
static void describe_status_problem(Session *s, const ColoError *read_err, uint64_t now) {
        char path[512];
        if (session_status_path(s->state_dir, path, sizeof(path)) < 0)
                snprintf(path, sizeof(path), "%s/%s", "(too long)", STATUS_FILE_NAME);
        const StatusDoc *d = &s->status;
        double age = (double) (now - MIN(d->updated_realtime_usec, now)) / USEC_PER_SEC;
        switch (s->status_state) {
        case STATUS_FILE_UNREADABLE:
                snprintf(s->status_problem, sizeof(s->status_problem), "unknown: cannot read the status file: %s",
                         colo_error_msg(read_err));
                break;
        case STATUS_FILE_CORRUPT:
                snprintf(s->status_problem, sizeof(s->status_problem), "unknown: the status file is corrupt: %s",
                         colo_error_msg(read_err));
                break;
        case STATUS_FILE_STALE:
                snprintf(s->status_problem, sizeof(s->status_problem),
                         "not responding: the status file '%s' is stale: agent pid %lld is alive but last wrote it "
                         "%.0fs ago (stale after 3 periods of %.3gs + 5s; a stuck agent or a full disk?)",
                         path, (long long) d->agent_pid, age, (double) d->period_usec / USEC_PER_SEC);
                break;
        case STATUS_FILE_AGENT_GONE:
                snprintf(s->status_problem, sizeof(s->status_problem),
                         "not running: the status file '%s' is from agent pid %lld, which has exited (last written "
                         "%.0fs ago)", path, (long long) d->agent_pid, age);
                break;
        default:
                s->status_problem[0] = '\0';
        }
}

int session_open_root(const Config *cfg, const char *subtree, pid_t agent_pid, bool create, const SessionTop *top,
                      CgRoot **ret, ColoError *err) {
        char proc_cgroup[64];
        OfflineUnits units;
        CgRootOptions opts = {
                .fs_root = cfg->agent.cgroup_fs_root[0] ? cfg->agent.cgroup_fs_root : NULL,
                .subtree = subtree ?: cfg->agent.subtree,
                .create = create,
                /* Kubernetes mode: kubelet's tree has no class parents; the pods stay where it puts them. */
                .top_group = config_offline_at_top(cfg) ? tree_class_path(CLASS_OFFLINE) : NULL,
                .top_dir = top ? top->dir : NULL,
                .top_cause = top ? top->cause : NULL,
        };
        if (!top && offline_units_for_subtree(opts.subtree, &units) >= 0)
                opts.top_dir = units.dir;
        if (strcmp(cfg->agent.cgroup_mode, "v1") == 0)
                opts.mode = CG_MODE_V1;
        else if (strcmp(cfg->agent.cgroup_mode, "v2") == 0)
                opts.mode = CG_MODE_V2;
        else
                opts.mode = CG_MODE_DETECT;
        if (agent_pid > 0) {
                snprintf(proc_cgroup, sizeof(proc_cgroup), "/proc/%d/cgroup", (int) agent_pid);
                opts.proc_self_cgroup = proc_cgroup;
        }
        return cg_root_open(&opts, ret, err);
}

Session *session_free(Session *s) {
        if (!s)
                return NULL;
        status_doc_done(&s->status);
        cg_root_free(s->root);
        free(s);
        return NULL;
}

/* Opens the managed root through the live agent's cgroups, else through the caller's own. Through
 * the agent, the tree exists (the agent made it), so it is never created there. An agent killed
 * meanwhile is, while it exits, listed at "/" in every v1 hierarchy, which would put the tree
 * outside the agent's cgroup, and once reaped has no /proc entry: so a failure through the agent,
 * or an agent no longer live after the read, means "no agent" (found by the chaos test). */
static int open_root(Session *s, bool create, ColoError *err) {
        if (s->agent_live) {
                int r = session_open_root(&s->config, s->subtree, (pid_t) s->status.agent_pid, false, NULL, &s->root, err);
                if (r >= 0 && session_classify_status(&s->status, now_realtime_usec(), NULL) == STATUS_FILE_LIVE)
                        return r;
                s->root = cg_root_free(s->root);
                s->agent_live = false;
                colo_error_clear(err);
        }
        return session_open_root(&s->config, s->subtree, 0, create, NULL, &s->root, err);
}

int session_open(const SessionOptions *opts, Session **ret, ColoError *err) {
        _cleanup_(session_freep) Session *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "open session");
        int r = session_load_config(opts->config_path, &s->config, err);
        if (r < 0)
                return r;
        snprintf(s->state_dir, sizeof(s->state_dir), "%s", opts->state_dir ?: s->config.agent.state_dir);

        ColoError status_err = {};
        uint64_t now = now_realtime_usec();
        r = session_read_status(s->state_dir, &s->status, &s->status_state, &status_err);
        s->have_status = r >= 0;
        if (s->have_status)
                s->status_state = session_classify_status(&s->status, now, NULL);
        s->agent_live = s->status_state == STATUS_FILE_LIVE;
        describe_status_problem(s, &status_err, now);

        const char *subtree = opts->subtree ?: s->agent_live && s->status.subtree[0] ? s->status.subtree
                                                                                      : s->config.agent.subtree;
        snprintf(s->subtree, sizeof(s->subtree), "%s", subtree);
        r = open_root(s, opts->create, err);
        if (r < 0) {
                r = colo_error_wrap(err, "open the managed cgroup tree '%s'", s->subtree);
                if (r == -ENOENT)
                        *ret = TAKE_PTR(s);     /* without a tree, the status file is still worth reporting */
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
