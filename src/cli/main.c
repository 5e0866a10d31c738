/* colo: the one executable. A verb table dispatches to the subcommands (crun's commands[]). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "agent", cmd_agent, "run the node agent in the foreground" },
        { "run", cmd_run, "run a command as a managed online or offline workload" },
        { "status", cmd_status, "show capacity, usage, budgets and workloads" },
        { "top", cmd_top, "a live view of the status, refreshed every second" },
        { "move", cmd_move, "change a running workload's class or tier" },
        { "sim", cmd_sim, "replay usage traces through the predictors" },
        { "webhook", cmd_webhook, "serve the Kubernetes mutating admission webhook" },
        { "extender", cmd_extender, "serve the kube-scheduler extender" },
};

static void usage(FILE *f) {
        fprintf(f, "Usage: colo COMMAND [OPTIONS]\n\n"
                   "Runs online services and offline batch work side by side and oversells idle capacity.\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nRun 'colo COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
        const char *level = getenv("COLO_LOG_LEVEL");
        if (level && log_level_from_string(level) >= 0)
                log_set_max_level(log_level_from_string(level));
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
                printf("colo " COLO_VERSION "\n");
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[1], verbs[i].name) == 0)
                        return verbs[i].run(argc - 1, argv + 1);
        fprintf(stderr, "colo: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
}
