/* colo move: changes a running workload's class or tier by moving its processes to the leaf of
 * the new tier. Works with or without the agent: the tree is the record, and a running agent
 * applies the new tier's settings within one period. Repeating the command finishes a move that
 * was interrupted. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/workload-args.h"
#include "model/workload.h"
#include "workloads/session.h"
#include "workloads/tree.h"
#include "util/log.h"
#include "util/macro.h"

static void move_usage(FILE *f) {
        fprintf(f, "Usage: colo move NAME --class online|offline [--tier TIER] [OPTIONS]\n\n"
                   "Moves a running workload to another class or tier.\n\n"
                   "  -c, --class CLASS      online or offline (required)\n"
                   "  -t, --tier TIER        online: critical, normal (default); offline: batch (default), best-effort\n"
                   "      --config FILE      configuration file (default %s if present)\n"
                   "      --subtree PATH     managed subtree (default: the running agent's, else agent.subtree)\n"
                   "      --state-dir DIR    where the agent's status file is (default: agent.state_dir)\n",
                DEFAULT_CONFIG_PATH);
}

int cmd_move(int argc, char **argv) {
        static const struct option options[] = {
                WORKLOAD_LONG_OPTIONS,
                { "help", no_argument, NULL, 'h' },
                {},
        };
        WorkloadArgs a = {};
        int c;

        while ((c = getopt_long(argc, argv, "c:t:h", options, NULL)) >= 0) {
                if (workload_args_take(&a, c, optarg))
                        continue;
                switch (c) {
                case 'h': move_usage(stdout); return 0;
                default: move_usage(stderr); return 2;
                }
        }
        if (optind + 1 != argc) {
                fprintf(stderr, "colo move: expected exactly one workload name\n");
                move_usage(stderr);
                return 2;
        }
        const char *name = argv[optind];
        if (!workload_name_is_valid(name)) {
                fprintf(stderr, "colo move: invalid workload name '%s'\n", name);
                return 2;
        }
        WorkloadClass cls;
        WorkloadTier tier;
        if (workload_args_placement(&a, "move", &cls, &tier) < 0)
                return 2;

        ColoError err = {};
        _cleanup_(session_freep) Session *s = NULL;
        int r = session_open(&a.session, &s, &err);
        if (r < 0) {
                fprintf(stderr, "colo move: %s\n", colo_error_msg(&err));
                return 1;
        }
        /* Under the names lock: a `colo run` of this name never sees the leaf half moved. */
        _cleanup_close_ int lock_fd = tree_lock_names(s->root, &err);
        r = lock_fd < 0 ? lock_fd : tree_move_workload(s->root, name, tier, &err);
        if (r < 0) {
                fprintf(stderr, "colo move: %s\n", colo_error_msg(&err));
                return 1;
        }
        if (s->status_problem[0] && s->status_state != STATUS_FILE_AGENT_GONE)
                log_warning("Agent %s.", s->status_problem);      /* unknown or not responding */
        printf("Moved workload '%s' to %s/%s (%d processes moved)%s.\n", name, workload_class_to_string(cls),
               workload_tier_to_string(tier), r,
               s->agent_live ? "; the agent applies the new settings within one period"
                             : "; agent: not running, settings apply once it starts");
        return 0;
}
