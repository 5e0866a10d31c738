/* colo agent: parses the options and runs the node agent (src/agent) in the foreground. */
#include <getopt.h>
#include <stdio.h>

#include "agent/agent.h"
#include "cli/commands.h"
#include "workloads/session.h"
#include "util/macro.h"

static void agent_usage(FILE *f) {
        fprintf(f, "Usage: colo agent [--config FILE] [--subtree PATH] [--state-dir DIR] [--dry-run]\n\n"
                   "Runs the node agent in the foreground: manages the delegated cgroup subtree, keeps online\n"
                   "workloads isolated and hands the idle capacity to offline ones.\n\n"
                   "      --config FILE      configuration file (default %s if present, else built-in defaults)\n"
                   "      --subtree PATH     managed subtree; relative: below the agent's own cgroup (agent.subtree)\n"
                   "      --state-dir DIR    status file and lock (agent.state_dir)\n"
                   "      --dry-run          decide and report, but write no cgroup file and signal nothing\n"
                   "SIGHUP reloads the configuration; SIGTERM/SIGINT exit and leave the cgroups as they are.\n",
                DEFAULT_CONFIG_PATH);
}

int cmd_agent(int argc, char **argv) {
        enum { OPT_CONFIG = 0x100, OPT_SUBTREE, OPT_STATE_DIR, OPT_DRY_RUN };
        static const struct option options[] = {
                { "config", required_argument, NULL, OPT_CONFIG },
                { "subtree", required_argument, NULL, OPT_SUBTREE },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        AgentOptions opts = {};
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_CONFIG: opts.config_path = optarg; break;
                case OPT_SUBTREE: opts.subtree = optarg; break;
                case OPT_STATE_DIR: opts.state_dir = optarg; break;
                case OPT_DRY_RUN: opts.dry_run = true; break;
                case 'h': agent_usage(stdout); return 0;
                default: agent_usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "colo agent: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        _cleanup_(agent_freep) Agent *a = NULL;
        if (agent_new(&opts, &a) < 0)
                return 1;
        return agent_run(a);
}
