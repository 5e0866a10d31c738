/* What the cgroup layer tells the agent about its writes, beyond failures: the dry run's record
 * of each write it would make, and the reconcile's knobs found changed behind colo's back (logged
 * with their path, counted by file in colo_cgroup_knob_restored_total). */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "enforce/enforce.h"
#include "util/log.h"
#include "util/macro.h"

static void on_dry_write(void *userdata, const char *path, const char *old_value, const char *new_value) {
        (void) userdata;
        log_info("Dry run: would write '%s' to '%s' (now '%s').", new_value, path, old_value);
}

static void count_restored(AgentMetrics *m, const char *file) {
        for (size_t i = 0; i < m->n_knob_restored; i++)
                if (strcmp(m->knob_restored[i].file, file) == 0) {
                        m->knob_restored[i].total++;
                        return;
                }
        /* The files cg_group_verify() reads are a closed set smaller than the table. */
        if (m->n_knob_restored >= ELEMENTSOF(m->knob_restored))
                return;
        AgentKnobRestored *k = &m->knob_restored[m->n_knob_restored++];
        snprintf(k->file, sizeof(k->file), "%s", file);
        k->total = 1;
}

static void on_knob_drift(void *userdata, const char *path, const char *colo_value, const char *found) {
        Agent *a = userdata;
        const char *slash = strrchr(path, '/');
        log_warning("Restoring '%s': it holds '%s', changed behind colo's back (colo set '%s').", path, found,
                    colo_value);
        count_restored(&a->metrics, slash ? slash + 1 : path);
}

void agent_writes_setup(Agent *a) {
        if (a->opts.dry_run)
                cg_root_set_dry_run(a->root, on_dry_write, a);
        enforce_state_set_drift_callback(a->enforce_state, on_knob_drift, a);
}
