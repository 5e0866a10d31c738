/* colo run: starts a command as a managed online or offline workload, with or without a running
 * agent. The parent creates the leaf group (which also reserves the name), forks, and the child
 * moves itself into the group before exec, so the command never runs a moment unmanaged. The
 * parent stays as a small supervisor: it forwards signals, removes the empty leaf afterwards and
 * exits with the command's status, saying so when colo evicted it. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "cli/workload-args.h"
#include "model/workload.h"
#include "standalone/session.h"
#include "standalone/tree.h"
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

/* Picks a free name derived from the command: "<basename>-<random hex>". */
static int pick_name(CgRoot *root, const char *command, char *buf, size_t size, ColoError *err) {
        for (int attempt = 0; attempt < 16; attempt++) {
                uint32_t suffix;
                if (getrandom(&suffix, sizeof(suffix), 0) != sizeof(suffix))
                        suffix = (uint32_t) getpid() ^ (uint32_t) now_realtime_usec();
                suffix &= 0xffff;
                int r = tree_generate_name(command, suffix, buf, size);
                if (r < 0)
                        return colo_error_setf_plain(err, -r, "cannot derive a workload name from '%s'", command);
                TreeWorkload w;
                r = tree_find(root, buf, &w, 1, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
        }
        return colo_error_setf_plain(err, EEXIST, "no free workload name for '%s'; pass --name", command);
}

/* In the child: join the group, restore signal defaults, exec. Never returns. */
static _Noreturn void exec_child(CgRoot *root, const char *path, const sigset_t *saved_mask, char **argv) {
        ColoError err = {};
        CgGroup *g = NULL;
        /* create=true: the leaf may have been removed meanwhile (an agent cleaning up empty leaves). */
        int r = cg_group_open(root, path, true, &g, &err);
        if (r >= 0)
                r = cg_group_attach(g, getpid(), &err);
        if (r < 0) {
                fprintf(stderr, "colo run: cannot join cgroup '%s': %s\n", path, colo_error_msg(&err));
                _exit(EXIT_RUN_FAILED);
        }
        cg_group_free(g);
        cg_root_free(root);
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
                int r = session_read_status(state_dir, &doc, &err);
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

/* Removes the workload's leaf (wherever `colo move` may have put it) once it is empty. */
static void remove_leaves(CgRoot *root, const char *name) {
        TreeWorkload leaves[_TIER_MAX];
        ColoError err = {};
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
        if (name_arg && !workload_name_is_valid(name_arg)) {
                fprintf(stderr, "colo run: invalid name '%s' (allowed: A-Z a-z 0-9 _ . -, at most %d characters)\n",
                        name_arg, WORKLOAD_NAME_MAX - 1);
                return 2;
        }

        ColoError err = {};
        _cleanup_(session_freep) Session *s = NULL;
        int r = session_open(&a.session, &s, &err);
        if (r < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                return EXIT_RUN_FAILED;
        }

        char name[WORKLOAD_NAME_MAX], path[TREE_PATH_MAX];
        if (name_arg)
                snprintf(name, sizeof(name), "%s", name_arg);
        else if (pick_name(s->root, command[0], name, sizeof(name), &err) < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                return EXIT_RUN_FAILED;
        }
        r = tree_create_workload(s->root, tier, name, NULL, &err);
        if (r < 0) {
                fprintf(stderr, "colo run: %s\n", colo_error_msg(&err));
                return r == -EEXIST ? 1 : EXIT_RUN_FAILED;
        }
        (void) tree_workload_path(tier, name, path, sizeof(path));
        log_info("Running '%s' as workload '%s' (%s)%s.", command[0], name, path,
                 s->agent_live ? "" : "; agent: not running, the group is left at the kernel defaults");

        /* Block the signals we forward and SIGCHLD before forking, so none is lost in between. */
        sigset_t wait_set, saved_mask;
        sigemptyset(&wait_set);
        for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++)
                sigaddset(&wait_set, forwarded_signals[i]);
        sigaddset(&wait_set, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &wait_set, &saved_mask);

        fflush(NULL);
        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, "colo run: fork: %s\n", strerror(errno));
                (void) sigprocmask(SIG_SETMASK, &saved_mask, NULL);
                remove_leaves(s->root, name);
                return EXIT_RUN_FAILED;
        }
        if (child == 0)
                exec_child(TAKE_PTR(s->root), path, &saved_mask, command);

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
