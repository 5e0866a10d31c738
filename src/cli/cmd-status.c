/* colo status: capacity, usage, budgets and workloads. With a live agent it shows the agent's
 * status file; without one it takes a one-shot snapshot with the same library code (collect and
 * policy, no enforcement) and says the agent is not running. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "workloads/protections.h"
#include "workloads/session.h"
#include "workloads/snapshot.h"
#include "util/fileio.h"
#include "util/human.h"
#include "util/macro.h"

#define SNAPSHOT_INTERVAL_USEC (250 * USEC_PER_MSEC)

static void status_usage(FILE *f) {
        fprintf(f, "Usage: colo status [--json] [OPTIONS]\n\n"
                   "Shows node capacity, online and offline usage, the offline budget and every workload.\n\n"
                   "      --json             print the status document as JSON\n"
                   "      --config FILE      configuration file (default %s if present)\n"
                   "      --subtree PATH     managed subtree (default: the running agent's, else agent.subtree)\n"
                   "      --state-dir DIR    where the agent's status file is (default: agent.state_dir)\n\n"
                   "Exits 1 when the agent's status file is unreadable, corrupt or stale (the reason is shown).\n",
                DEFAULT_CONFIG_PATH);
}

/* Which protections are in force; each one that is not, with its cgroup, cause and fix. */
static void print_protections(const StatusDoc *d) {
        if (!d->protections_checked)
                return;
        printf("isolation: %s", d->isolation_in_force ? "in force" : "NOT IN FORCE");
        const char *sep = " (";
        for (size_t i = 0; i < d->n_protections; i++)
                if (d->protections[i].in_force) {
                        printf("%s%s", sep, d->protections[i].name);
                        sep = ", ";
                }
        printf("%s\n", sep[0] == ',' ? ")" : "");
        for (size_t i = 0; i < d->n_protections; i++) {
                const StatusProtection *p = &d->protections[i];
                if (!p->in_force)
                        printf("  missing: %s in '%s': %s\n           fix: %s\n", p->name, p->cgroup, p->cause, p->fix);
                else if (strcmp(p->name, PROTECTION_OFFLINE_TOP) == 0)
                        printf("  offline parent: '%s' (idle next to the whole machine)\n", p->cgroup);
        }
}

/* "not running", or what is wrong with the status file (Session.status_problem). */
static void print_text(const StatusDoc *d, bool live, const char *problem) {
        char b1[32], b2[32], b3[32];

        if (live)
                printf("agent:     running (pid %" PRIi64 ", period %.3gs%s, updated %.1fs ago)\n", d->agent_pid,
                       (double) d->period_usec / USEC_PER_SEC, d->dry_run ? ", dry run" : "",
                       (double) (now_realtime_usec() - MIN(d->updated_realtime_usec, now_realtime_usec())) / USEC_PER_SEC);
        else if (problem[0])
                printf("agent:     %s\n           (below: a one-shot snapshot taken now)\n", problem);
        else
                printf("agent:     not running (one-shot snapshot; nothing is enforced)\n");
        printf("cgroups:   %s (%s)\n", d->cgroup_root, d->cgroup_mode);
        print_protections(d);
        printf("node:      %.2f cores, %s memory (%s available)\n", d->cpu_capacity_cores,
               format_bytes_iec(d->mem_capacity, b1, sizeof(b1)), format_bytes_iec(d->mem_available, b2, sizeof(b2)));
        printf("online:    %.2f cores, %s working set; %s peak %.2f cores, %s (%s)\n", d->online_cpu_usage_cores,
               format_bytes_iec(d->online_mem_working_set, b1, sizeof(b1)), d->has_predicted_peak ? "predicted" : "estimated",
               d->online_estimate_cpu_cores, format_bytes_iec(d->online_estimate_mem_bytes, b2, sizeof(b2)),
               d->estimate_source);
        printf("offline:   %.2f cores, %s working set; budget %.2f cores%s, %s\n", d->offline_cpu_usage_cores,
               format_bytes_iec(d->offline_mem_working_set, b1, sizeof(b1)), d->offline_cpu_budget_cores,
               d->offline_cpu_quota_enforced > 0    ? " (the CPU quota)" :
               d->offline_cpu_quota_enforced == 0 ? " (not enforced as a CPU quota)" :
                                                    "",
               format_bytes_iec(d->offline_mem_budget, b3, sizeof(b3)));
        if (d->squeezed)
                printf("squeezed:  yes: %s\n", d->squeeze_reason);
        else
                printf("squeezed:  no\n");
        printf("evictions: %" PRIu64 "\n\n", d->evictions_total);

        if (d->n_workloads == 0) {
                printf("No workloads. Start one with: colo run --class online|offline -- CMD\n");
                return;
        }
        printf("%-24s %-8s %-12s %6s %10s %6s  %-9s %s\n", "NAME", "CLASS", "TIER", "CPU", "MEMORY", "TASKS", "STATE",
               "REASON");
        for (size_t i = 0; i < d->n_workloads; i++) {
                const StatusWorkload *w = &d->workloads[i];
                printf("%-24s %-8s %-12s %6.2f %10s %6" PRIu64 "  %-9s %s\n", w->name, workload_class_to_string(w->cls),
                       workload_tier_to_string(w->tier), w->cpu_usage_cores,
                       format_bytes_iec(w->mem_working_set, b1, sizeof(b1)), w->nr_tasks,
                       workload_state_to_string(w->state), w->reason);
        }
}

/* 1 when the agent's state is unknown (unreadable or corrupt file) or it is not responding
 * (stale file), saying so on stderr for --json; an agent that exited is no failure. */
static int status_exit_code(const Session *s, bool json) {
        if (json && s->status_problem[0])
                fprintf(stderr, "colo status: agent %s\n", s->status_problem);
        switch (s->status_state) {
        case STATUS_FILE_UNREADABLE:
        case STATUS_FILE_CORRUPT:
        case STATUS_FILE_STALE:
                return 1;
        default:
                return 0;
        }
}

int cmd_status(int argc, char **argv) {
        enum { OPT_JSON = 0x100, OPT_CONFIG, OPT_SUBTREE, OPT_STATE_DIR };
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "config", required_argument, NULL, OPT_CONFIG },
                { "subtree", required_argument, NULL, OPT_SUBTREE },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        SessionOptions so = {};
        bool json = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_JSON: json = true; break;
                case OPT_CONFIG: so.config_path = optarg; break;
                case OPT_SUBTREE: so.subtree = optarg; break;
                case OPT_STATE_DIR: so.state_dir = optarg; break;
                case 'h': status_usage(stdout); return 0;
                default: status_usage(stderr); return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "colo status: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        ColoError err = {};
        _cleanup_(session_freep) Session *s = NULL;
        int r = session_open(&so, &s, &err);
        if (r == -ENOENT) {
                /* Nothing has created the managed tree yet: not an error, just nothing managed. */
                if (json)       /* the status document's shape, with no agent (pid 0) and nothing in it */
                        printf("{\"agent\":{\"pid\":0},\"workloads\":[]}\n");
                else
                        printf("agent:     %s\nNo managed workloads (%s).\n"
                               "Start the agent with 'colo agent', or a workload with 'colo run --class online|offline -- CMD'.\n",
                               s->status_problem[0] ? s->status_problem : "not running", colo_error_msg(&err));
                return status_exit_code(s, json);
        }
        if (r < 0) {
                fprintf(stderr, "colo status: %s\n", colo_error_msg(&err));
                return 1;
        }

        StatusDoc snapshot = {};
        const StatusDoc *d = &s->status;
        if (!s->agent_live) {
                r = snapshot_take(s->root, &s->config, SNAPSHOT_INTERVAL_USEC, &snapshot, &err);
                if (r < 0) {
                        fprintf(stderr, "colo status: %s\n", colo_error_msg(&err));
                        return 1;
                }
                snprintf(snapshot.subtree, sizeof(snapshot.subtree), "%s", s->subtree);
                d = &snapshot;
        }

        if (json) {
                _cleanup_free_ char *text = NULL;
                r = status_doc_to_json(d, &text, &err);
                if (r >= 0)
                        printf("%s\n", text);
        } else
                print_text(d, s->agent_live, s->status_problem);
        status_doc_done(&snapshot);
        if (r < 0) {
                fprintf(stderr, "colo status: %s\n", colo_error_msg(&err));
                return 1;
        }
        return status_exit_code(s, json);
}
