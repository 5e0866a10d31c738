/* colo run: starts a command as a managed online or offline workload, with or without a running
 * agent. Under the names lock (shared by every class and tier) the parent creates the leaf group,
 * which reserves the name, forks, and moves the child into the group before letting it exec, so
 * the command never runs a moment unmanaged and no other `colo run` ever sees the leaf empty. The
 * parent stays as a small supervisor: it forwards signals, removes the empty leaf afterwards and
 * exits with the command's status, saying so when colo evicted it. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "cli/workload-args.h"
#include "model/workload.h"
#include "workloads/session.h"
#include "workloads/tree.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define EXIT_RUN_FAILED 125     /* colo itself failed (as env(1) and nohup(1) do) */
#define EXIT_EXEC_FAILED 126
#define EXIT_NOT_FOUND 127

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void run_usage(FILE *f) {
        fprintf(f, "Usage: colo run --class online|offline [--tier TIER] [--name NAME] [OPTIONS] -- CMD [ARGS...]\n\n"
                   "Runs CMD in a managed cgroup (<subtree>/<class>/<tier>/<name>), with or without a running agent.\n\n"
                   "  -c, --class CLASS      online or offline (required)\n"
                   "  -t, --tier TIER        online: critical, normal (default); offline: batch (default), best-effort\n"
                   "  -n, --name NAME        workload name (default: derived from CMD); must not be in use\n"
                   "      --config FILE      configuration file (default %s if present)\n"
                   "      --subtree PATH     managed subtree (default: the running agent's, else agent.subtree)\n"
                   "      --state-dir DIR    where the agent's status file is (default: agent.state_dir)\n",
                DEFAULT_CONFIG_PATH);
}

/* Refuses, up front and saying why, a name that can never be a workload's. */
static bool name_is_usable(const char *name) {
        const char *problem = workload_name_problem(name);
        if (problem)
                fprintf(stderr, "colo run: invalid name '%s': %s (allowed: A-Z a-z 0-9 _ . -, at most %d characters, "
                        "no leading '.', not <controller>.<knob> such as 'cpu.shares')\n",
                        name, problem, WORKLOAD_NAME_MAX - 1);
        return !problem;
}

/* With the names lock held: creates the leaf for name_arg, or for a free name derived from the
 * command ("<basename>-<random hex>") when name_arg is NULL. */
static int reserve_name(CgRoot *root, WorkloadTier tier, const char *name_arg, const char *command, char *buf,
                        size_t size, CgGroup **ret, ColoError *err) {
        if (name_arg) {
                snprintf(buf, size, "%s", name_arg);
                return tree_create_workload(root, tier, buf, ret, err);
        }
        for (int attempt = 0; attempt < 16; attempt++) {
                uint32_t suffix;
                if (getrandom(&suffix, sizeof(suffix), 0) != sizeof(suffix))
                        suffix = (uint32_t) getpid() ^ (uint32_t) now_realtime_usec();
                suffix &= 0xffff;
                int r = tree_generate_name(command, suffix, buf, size);
                if (r < 0)
                        return colo_error_setf_plain(err, -r, "cannot derive a workload name from '%s'", command);
                r = tree_create_workload(root, tier, buf, ret, err);
                if (r != -EEXIST)
                        return r;
                colo_error_clear(err);
        }
        return colo_error_setf_plain(err, EEXIST, "no free workload name for '%s'; pass --name", command);
}

/* In the child: wait until the parent has moved us into the group (one byte on go_fd; EOF means
 * it failed), restore signal defaults, exec. Never returns. */
static _Noreturn void exec_child(int go_fd, const sigset_t *saved_mask, char **argv) {
        char go = 0;
        ssize_t n;
        while ((n = read(go_fd, &go, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1)
                _exit(EXIT_RUN_FAILED);         /* the parent said why */
        (void) close(go_fd);
        for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++)
                (void) signal(forwarded_signals[i], SIG_DFL);
        (void) signal(SIGCHLD, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, saved_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "colo run: cannot run '%s': %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_EXEC_FAILED);
}

/* Waits for the child, forwarding signals sent to us (not those the terminal sent to the whole
 * process group, which the child got as well). Returns the wait status. */
static int supervise(pid_t child, const sigset_t *wait_set) {
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(wait_set, &si);
                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        sig = SIGCHLD;  /* cannot happen with a valid set; fall back to waiting */
                }
                if (sig == SIGCHLD) {
                        int status;
                        pid_t p = waitpid(child, &status, WNOHANG);
                        if (p == child)
                                return status;
                        continue;
                }
                if (si.si_code != SI_KERNEL)
                        (void) kill(child, sig);
        }
}

/* After a child killed by a signal: was it colo's doing? The agent writes the eviction to its
 * status file before signalling, so one read normally suffices; retry briefly for a slow disk. */
static void report_eviction(const char *state_dir, const char *name) {
        for (int attempt = 0; attempt < 5; attempt++) {
                StatusDoc doc = {};
                ColoError err = {};
                int r = session_read_status(state_dir, &doc, NULL, &err);
                if (r == -ENOENT)
                        return;         /* no agent has ever run here */
                if (r >= 0) {
                        const StatusWorkload *w = status_doc_find(&doc, name);
                        if (w && w->state == WORKLOAD_EVICTED) {
                                fprintf(stderr, "colo run: workload '%s' was evicted by colo: %s\n", name,
                                        w->reason[0] ? w->reason : "no reason recorded");
                                status_doc_done(&doc);
                                return;
                        }
                        status_doc_done(&doc);
                }
                (void) nanosleep(&(struct timespec) { .tv_nsec = 100 * 1000 * 1000 }, NULL);
        }
}

/* Removes the workload's leaf (wherever `colo move` may have put it) once it is empty, under the
 * names lock so no create or move of the name is half done meanwhile. */
static void remove_leaves(CgRoot *root, const char *name) {
        TreeWorkload leaves[_TIER_MAX];
        ColoError err = {};
        _cleanup_close_ int lock_fd = tree_lock_names(root, &err);
        if (lock_fd < 0) {
                log_warning("Failed to remove the group of workload '%s': %s, ignoring.", name, colo_error_msg(&err));
                return;
        }
        int n = tree_find(root, name, leaves, ELEMENTSOF(leaves), &err);
        for (int i = 0; i < n && (size_t) i < ELEMENTSOF(leaves); i++) {
                int r = tree_remove_if_empty(root, leaves[i].path, &err);
                if (r == 0)
                        log_notice("Workload '%s' left processes behind in '%s'; the agent will remove the group "
                                   "once they exit.", name, leaves[i].path);
                else if (r < 0)
                        log_warning("Failed to remove '%s': %s, ignoring.", leaves[i].path, colo_error_msg(&err));
        }
}

/* Blocks the signals we forward and SIGCHLD before forking, so none is lost in between. */
static void block_forwarded_signals(sigset_t *wait_set, sigset_t *saved_mask) {
        sigemptyset(wait_set);
        for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++)
                sigaddset(wait_set, forwarded_signals[i]);
        sigaddset(wait_set, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, wait_set, saved_mask);
}

/* Forks the command into group g (created under the lock at lock_fd, which this releases once
 * the child is in the group). Returns the child's pid, or -1 with the message printed and the
 * leaf removed (still under the lock). */
static pid_t start_child(Session *s, CgGroup *g, int lock_fd, const char *name, const sigset_t *saved_mask,
                         char **command) {
        int go[2];
        if (pipe2(go, O_CLOEXEC) < 0) {
                fprintf(stderr, "colo run: pipe: %s\n", strerror(errno));
                return -1;
        }
        fflush(NULL);
        pid_t child = fork();
        if (child == 0) {
                (void) close(go[1]);
                (void) close(lock_fd);
                exec_child(go[0], saved_mask, command);
        }
        (void) close(go[0]);
        ColoError err = {};
        int r = child < 0 ? colo_error_set(&err, errno, "fork") : cg_group_attach(g, child, &err);
        if (r < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                (void) close(go[1]);            /* EOF: the child exits without running anything */
                if (child > 0)
                        (void) waitpid(child, NULL, 0);
                if (tree_remove_if_empty(s->root, cg_group_path(g), &err) < 0)
                        log_warning("Failed to remove '%s': %s, ignoring.", cg_group_path(g), colo_error_msg(&err));
                return -1;
        }
        /* The child is in the leaf: the name is taken for everyone, the lock can go. */
        (void) flock(lock_fd, LOCK_UN);
        if (write(go[1], "g", 1) != 1)
                log_warning("Failed to start workload '%s': %s", name, strerror(errno));  /* it exits on EOF */
        (void) close(go[1]);
        return child;
}

int cmd_run(int argc, char **argv) {
        static const struct option options[] = {
                WORKLOAD_LONG_OPTIONS,
                { "name", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        WorkloadArgs a = { .session.create = true };
        const char *name_arg = NULL;
        int c;

        /* "+": stop at the first non-option, so CMD's own options are left alone. */
        while ((c = getopt_long(argc, argv, "+c:t:n:h", options, NULL)) >= 0) {
                if (workload_args_take(&a, c, optarg))
                        continue;
                switch (c) {
                case 'n': name_arg = optarg; break;
                case 'h': run_usage(stdout); return 0;
                default: run_usage(stderr); return 2;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "colo run: no command given\n");
                run_usage(stderr);
                return 2;
        }
        char **command = argv + optind;

        WorkloadClass cls;
        WorkloadTier tier;
        if (workload_args_placement(&a, "run", &cls, &tier) < 0)
                return 2;
        if (name_arg && !name_is_usable(name_arg))
                return 2;

        ColoError err = {};
        _cleanup_(session_freep) Session *s = NULL;
        int r = session_open(&a.session, &s, &err);
        if (r < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                return EXIT_RUN_FAILED;
        }

        char name[WORKLOAD_NAME_MAX], path[TREE_PATH_MAX];
        _cleanup_close_ int lock_fd = tree_lock_names(s->root, &err);
        CgGroup *g = NULL;
        r = lock_fd < 0 ? lock_fd : reserve_name(s->root, tier, name_arg, command[0], name, sizeof(name), &g, &err);
        if (r < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                return r == -EEXIST ? 1 : EXIT_RUN_FAILED;
        }
        (void) tree_workload_path(tier, name, path, sizeof(path));
        if (s->status_problem[0] && s->status_state != STATUS_FILE_AGENT_GONE)
                log_warning("Agent %s.", s->status_problem);      /* unknown or not responding */
        log_info("Running '%s' as workload '%s' (%s)%s.", command[0], name, path,
                 s->agent_live ? "" : "; agent: not running, the group is left at the kernel defaults");

        sigset_t wait_set, saved_mask;
        block_forwarded_signals(&wait_set, &saved_mask);

        pid_t child = start_child(s, g, lock_fd, name, &saved_mask, command);
        g = cg_group_free(g);
        (void) close(TAKE_FD(lock_fd));
        if (child < 0) {
                (void) sigprocmask(SIG_SETMASK, &saved_mask, NULL);
                return EXIT_RUN_FAILED;
        }

        int status = supervise(child, &wait_set);
        (void) sigprocmask(SIG_SETMASK, &saved_mask, NULL);

        remove_leaves(s->root, name);
        if (WIFSIGNALED(status)) {
                /* Evictions are SIGTERM, then SIGKILL after the grace period. */
                if (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL)
                        report_eviction(s->state_dir, name);
                return 128 + WTERMSIG(status);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_RUN_FAILED;
}
